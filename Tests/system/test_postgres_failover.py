"""PostgreSQL failover behind HAProxy (issue 14, Must show (b)): a primary and a synchronous streaming
standby behind haproxy in TCP mode; the test plays Patroni on haproxy's runtime socket (a server put
in maintenance, its sessions shut down, the promoted one made ready). Tack web + worker point at
haproxy while writers create cards through the API and log every answer.

Faults: (1) a clean switchover (fast shutdown of the primary, promotion of the standby, haproxy
switched; the old primary stays down); (2) a crash (`pg_ctl -m immediate stop`) of the new primary,
a few seconds with no primary at all (Patroni waits for its ttl), then the promotion of a second
standby. Asserts what an operator relies on: no acknowledged write lost, every refused request a 503
with Retry-After answered within database.acquire_timeout + a few seconds (no hangs), writes succeed
again without restarting Tack, "PostgreSQL failover detected" logged, and a demoted-but-alive server
answering read-only has its connections dropped."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import PrivatePostgres, Stack, Tack, free_port, psql, signup, wait_until

ACQUIRE_TIMEOUT = 2.0
STATEMENT_TIMEOUT = 5.0
# A lease gives up after acquire_timeout; a call that hangs (a query postgres-nio wrote to a
# connection the server had just closed is never answered) is given up statement_timeout + 2 s
# after its lease.
CALL_BOUND = max(ACQUIRE_TIMEOUT, STATEMENT_TIMEOUT + 2)
# Every answer comes within this many seconds: the cards created on one board at once are inserted
# in batches (group commit), so a write that queued behind a batch whose call hung waits for it,
# then for its own batch's lease; plus a second for the rest of the request.
ANSWER_BOUND = CALL_BOUND + ACQUIRE_TIMEOUT + 1


class Standby(PrivatePostgres):
    """A hot standby of `primary` made with `pg_basebackup -R -X stream` (primary_conninfo and
    standby.signal written), on a port of its own."""

    def __init__(self, primary, port=None):
        self.addresses = ["127.0.0.1"]
        self.bin = primary.bin
        self.dir = Path(tempfile.mkdtemp(prefix="tack-test-pg-standby-", dir="/tmp"))
        self.port = port or free_port()
        self.as_postgres = primary.as_postgres
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.chmod(0o700)
        subprocess.run(self.as_postgres + [str(self.bin / "pg_basebackup"), "-D", str(self.dir), "-R", "-X", "stream", "-c", "fast",
                                           "-h", "127.0.0.1", "-p", str(primary.port), "-U", "tack"],
                       check=True, capture_output=True, timeout=60)
        self.start()

    def promote(self):
        self.pg_ctl("-w", "-t", "30", "promote")


def admin_url(server):
    return f"postgres://tack@127.0.0.1:{server.port}/postgres"


def make_synchronous(primary):
    """synchronous_standby_names='*' once a standby streams: every COMMIT waits for it."""
    wait_until(lambda: psql(admin_url(primary), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1",
               timeout=30, what="the standby streaming")
    psql(admin_url(primary), "ALTER SYSTEM SET synchronous_standby_names = '*'")
    psql(admin_url(primary), "SELECT pg_reload_conf()")
    wait_until(lambda: psql(admin_url(primary), "SELECT string_agg(sync_state, ',') FROM pg_stat_replication") == "sync",
               timeout=30, what="the standby synchronous")


class HAProxy:
    """haproxy in TCP mode with one backend `pg` of servers p1.. (only the first ready) and an admin
    runtime socket, driven as Patroni's health checks would drive it."""

    def __init__(self, directory, ports):
        self.dir = directory
        self.port = free_port()
        self.socket = directory / "haproxy.sock"
        servers = "\n".join(f"  server p{i + 1} 127.0.0.1:{port}{'' if i == 0 else ' disabled'}" for i, port in enumerate(ports))
        (directory / "haproxy.cfg").write_text(f"""global
  stats socket {self.socket} mode 600 level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 1h
  timeout server 1h
frontend pg
  bind 127.0.0.1:{self.port}
  default_backend pg
backend pg
{servers}
""")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(directory / "haproxy.cfg")], stdout=open(directory / "haproxy.log", "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.socket.exists(), timeout=10, what="haproxy's runtime socket")

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        return answer.decode()

    def switch(self, old, new):
        """What haproxy does when Patroni's /primary check moves: the old server out, its sessions
        shut down (on-marked-down shutdown-sessions), the new one in."""
        self.command(f"set server pg/{old} state maint")
        self.command(f"shutdown sessions server pg/{old}")
        if new:
            self.command(f"set server pg/{new} state ready")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Writers:
    """Threads creating cards through the API, logging every answer (status, seconds, Retry-After,
    error code) and the title of every acknowledged (2xx) card."""

    def __init__(self, base, token, board, column, threads=4):
        self.host, self.port = base.split("//")[1].split(":")
        self.token, self.board, self.column = token, board, column
        self.answers = []  # (started, seconds, status, retry_after, code, title)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, i):
        n = 0
        conn = None
        while not self.stopping.is_set():
            n += 1
            title = f"w{i}-{n}"
            body = json.dumps({"column_id": self.column, "title": title})
            started = time.monotonic()
            status, retry_after, code = None, None, None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
                conn.request("POST", f"/api/v1/boards/{self.board}/cards", body=body,
                             headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
                response = conn.getresponse()
                raw = response.read()
                status, retry_after = response.status, response.getheader("Retry-After")
                if status >= 400:
                    try:
                        code = json.loads(raw).get("error", {}).get("code") if raw else None
                    except (ValueError, AttributeError):
                        code = raw[:100]
            except Exception as error:  # a hang (timeout) or a cut connection: recorded, asserted on below
                code = f"{type(error).__name__}: {error}"
                conn.close()
                conn = None
            with self.lock:
                self.answers.append((started, time.monotonic() - started, status, retry_after, code, title))
            if status is not None and status >= 500:
                time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=40)

    def since(self, t0):
        with self.lock:
            return [a for a in self.answers if a[0] >= t0]

    def acknowledged_since(self, t0):
        return [a for a in self.since(t0) if a[2] is not None and 200 <= a[2] < 300]


@pytest.fixture
def servers(tmp_path):
    """What the test starts (PostgreSQL servers, haproxy, Tack), stopped in reverse order."""
    made = []
    yield made
    for server in reversed(made):
        (server.stop_all if isinstance(server, Tack) else server.stop)()


def test_postgres_switchover_and_crash_promotion_lose_no_acknowledged_write(binary, tmp_path, servers, redis_url):
    primary = PrivatePostgres()
    servers.append(primary)
    standby = Standby(primary)
    servers.append(standby)
    make_synchronous(primary)
    third_port = free_port()  # the standby made after the switchover, behind p3

    proxy = HAProxy(tmp_path, [primary.port, standby.port, third_port])
    servers.append(proxy)

    tack = Tack(binary, tmp_path, f"postgres://tack@127.0.0.1:{proxy.port}/tack", redis_url)
    servers.append(tack)
    tack.env.update({
        "TACK_DATABASE_ACQUIRE_TIMEOUT": str(ACQUIRE_TIMEOUT),
        "TACK_DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "TACK_DATABASE_CONNECT_TIMEOUT": "2",
    })
    # init_node refuses a standby behind database.url, and accepts the primary.
    refused = tack("init_node", env={"TACK_DATABASE_URL": f"postgres://tack@127.0.0.1:{standby.port}/tack"})
    assert refused.returncode != 0 and "pg_is_in_recovery" in refused.stderr + refused.stdout, refused.stderr + refused.stdout
    accepted = tack("init_node", check=True)
    assert "timeline 00000001" in accepted.stdout + accepted.stderr, accepted.stdout + accepted.stderr
    tack("upgrade_db", check=True)
    stack = Stack(tack, pushes=0)
    user = signup(stack.base, "ha@example.com", "HA")
    _, token = user.create_token(scope="read_write", name="writers")
    board = user.create_board("Failover")
    column = user.create_column(board)

    writers = Writers(stack.base, token, board, column)
    try:
        t_start = time.monotonic()
        wait_until(lambda: len(writers.acknowledged_since(t_start)) >= 20, timeout=30, what="writes before the faults")

        # (1) Clean switchover, as Patroni does it: the primary is stopped (a fast shutdown waits
        # for the synchronous standby), the standby promoted, haproxy follows.
        t_switch = time.monotonic()
        proxy.command("set server pg/p1 state maint")
        primary.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        time.sleep(1.0)  # Patroni's switchover takes a moment: no primary meanwhile
        standby.promote()
        proxy.switch("p1", "p2")
        t_switched = time.monotonic()
        wait_until(lambda: len(writers.acknowledged_since(t_switched)) >= 20, timeout=30,
                   what="writes succeeding after the switchover without restarting Tack")
        switchover_recovery = min(a[0] + a[1] for a in writers.acknowledged_since(t_switched)) - t_switched

        # A new synchronous standby of the new primary, behind p3.
        third = Standby(standby, port=third_port)
        servers.append(third)
        make_synchronous(standby)
        time.sleep(1.0)

        # (2) Crash of the primary, several seconds with no primary at all, then the promotion.
        t_crash = time.monotonic()
        standby.pg_ctl("-m", "immediate", "-w", "stop")
        proxy.switch("p2", None)
        time.sleep(ANSWER_BOUND + 2)  # longer than a request in flight at the crash can take
        third.promote()
        proxy.command("set server pg/p3 state ready")
        t_promoted = time.monotonic()
        wait_until(lambda: len(writers.acknowledged_since(t_promoted)) >= 20, timeout=30,
                   what="writes succeeding after the crash promotion without restarting Tack")
        crash_recovery = min(a[0] + a[1] for a in writers.acknowledged_since(t_promoted)) - t_promoted
    finally:
        writers.stop()

    answers = writers.answers
    acknowledged = [a for a in answers if a[2] is not None and 200 <= a[2] < 300]
    refused = [a for a in answers if not (a[2] is not None and 200 <= a[2] < 300)]
    during_gap = [a for a in answers if t_crash <= a[0] < t_promoted - 1 and a in refused]
    summary = (f"{len(answers)} requests, {len(acknowledged)} acknowledged, {len(refused)} refused; "
               f"switchover: writes back {switchover_recovery:.2f} s after haproxy switched; "
               f"crash: writes back {crash_recovery:.2f} s after the promotion; slowest answer "
               f"{max(a[1] for a in answers):.2f} s")
    print(summary)
    for a in answers:
        if a[1] > 2:
            print(f"slow: started {a[0] - t_switch:+.2f} s from the switchover ({a[0] - t_crash:+.2f} from the crash), "
                  f"{a[1]:.2f} s, {a[2]} {a[4]} {a[5]}")

    # No hangs: every request was answered, within the bound.
    hung = [a for a in answers if a[2] is None]
    assert not hung, f"requests without an answer: {hung[:5]} ({summary})"
    slow = [a for a in answers if a[1] > ANSWER_BOUND]
    assert not slow, f"answers slower than {ANSWER_BOUND} s: {slow[:5]} ({summary})"
    # Every refusal is a 503 that tells the client when to come back.
    wrong = [a for a in refused if a[2] != 503 or a[3] != "1" or a[4] not in ("database_unavailable", "outcome_unknown")]
    assert not wrong, f"refusals other than 503 + Retry-After: {wrong[:5]} ({summary})"
    # No write can be acknowledged while no primary exists.
    impossible = [a for a in acknowledged if a[0] > t_crash + 0.5 and a[0] + a[1] < t_promoted]
    assert not impossible, f"writes acknowledged while no primary existed: {impossible[:5]} ({summary})"
    # With no primary for several seconds, writers were told so (503), not kept waiting.
    assert during_gap, f"no 503 while no primary answered ({summary})"

    # Nothing acknowledged was lost: every 2xx card is on the final primary.
    final = f"postgres://tack@127.0.0.1:{third.port}/tack"
    titles = set(psql(final, f"SELECT title FROM cards WHERE board_id = {board}").split("\n"))
    lost = [a[5] for a in acknowledged if a[5] not in titles]
    assert not lost, f"{len(lost)} acknowledged writes lost: {lost[:10]} ({summary})"

    # Every role noticed both failovers (timeline 1 → 2 → 3) and said so.
    for proc in (stack.web, stack.worker):
        wait_until(lambda: tack.output(proc).count("PostgreSQL failover detected") >= 2, timeout=15,
                   what="'PostgreSQL failover detected' logged twice",
                   on_timeout=lambda: tack.output(proc)[-3000:])
    assert "00000003" in tack.output(stack.web)
    status = tack("status", "--json")
    report = json.loads(status.stdout)
    assert report["postgresTimeline"] == "00000003" and report["postgresInRecovery"] is False, report
    assert psql(final, "SELECT pg_is_in_recovery()") == "f"


def test_connections_to_a_demoted_primary_are_dropped(binary, tmp_path, servers, redis_url):
    """The address moves to the promoted standby while the old primary stays up read-only (a VIP
    moved, no session reset): Tack's pooled connections still reach the old server and get SQLSTATE
    25006 on every write. Each such connection is closed (so the pool reconnects, now to the new
    primary), each refused request is a 503 with Retry-After, and writes succeed again by themselves."""
    primary = PrivatePostgres()
    servers.append(primary)
    standby = Standby(primary)
    servers.append(standby)
    make_synchronous(primary)
    proxy = HAProxy(tmp_path, [primary.port, standby.port])
    servers.append(proxy)
    tack = Tack(binary, tmp_path, f"postgres://tack@127.0.0.1:{proxy.port}/tack", redis_url)
    servers.append(tack)
    tack.env.update({"TACK_DATABASE_ACQUIRE_TIMEOUT": str(ACQUIRE_TIMEOUT), "TACK_DATABASE_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT)})
    tack("upgrade_db", check=True)
    stack = Stack(tack, pushes=0, worker=False)
    user = signup(stack.base, "demoted@example.com", "Demoted")
    _, token = user.create_token(scope="read_write", name="writers")
    board = user.create_board("Demoted")
    column = user.create_column(board)

    writers = Writers(stack.base, token, board, column)
    try:
        t_start = time.monotonic()
        wait_until(lambda: len(writers.acknowledged_since(t_start)) >= 20, timeout=30, what="writes before the demotion")
        # The old primary is fenced read-only (its sessions stay open), the standby promoted, and
        # the address moved without resetting sessions.
        t_demote = time.monotonic()
        psql(admin_url(primary), "ALTER SYSTEM SET default_transaction_read_only = on")
        psql(admin_url(primary), "ALTER SYSTEM SET synchronous_standby_names = ''")
        psql(admin_url(primary), "SELECT pg_reload_conf()")
        time.sleep(0.5)
        standby.promote()
        proxy.command("set server pg/p1 state maint")
        proxy.command("set server pg/p2 state ready")
        t_moved = time.monotonic()
        wait_until(lambda: len(writers.acknowledged_since(t_moved + 1)) >= 20, timeout=30,
                   what="writes succeeding on the new primary without restarting Tack")
    finally:
        writers.stop()

    answers = writers.answers
    acknowledged = [a for a in answers if a[2] is not None and 200 <= a[2] < 300]
    refused = [a for a in answers if not (a[2] is not None and 200 <= a[2] < 300)]
    summary = f"{len(answers)} requests, {len(acknowledged)} acknowledged, {len(refused)} refused"
    print(summary)
    wrong = [a for a in refused if a[2] != 503 or a[3] != "1"]
    assert not wrong, f"refusals other than 503 + Retry-After: {wrong[:5]} ({summary})"
    slow = [a for a in answers if a[1] > ANSWER_BOUND]
    assert not slow, f"answers slower than {ANSWER_BOUND} s: {slow[:5]} ({summary})"
    web_log = tack.output(stack.web)
    assert "PostgreSQL answered read-only; dropping the connection" in web_log, web_log[-3000:]
    # Every write of the last second went through: no connection that answers read-only is kept.
    last = [a for a in answers if a[0] >= answers[-1][0] - 1]
    assert all(a[2] == 201 for a in last), f"writes still refused at the end: {last[-5:]} ({summary})"
    titles = set(psql(f"postgres://tack@127.0.0.1:{standby.port}/tack", f"SELECT title FROM cards WHERE board_id = {board}").split("\n"))
    lost = [a[5] for a in acknowledged if a[5] not in titles]
    assert not lost, f"{len(lost)} acknowledged writes lost: {lost[:10]} ({summary})"
