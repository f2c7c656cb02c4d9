"""Redis Sentinel failovers under a running cluster (issue 14, Must show (a)).

Redis: a primary and a replica (AOF on, min-replicas-to-write 1, min-replicas-max-lag 10) and three
`redis-server --sentinel` processes (quorum 2, down-after-milliseconds 1000, failover-timeout 3000),
all on 127.0.0.1. Tack finds the master only through the sentinels (redis.url's host and port point
nowhere): 2 web, 1 worker, 2 schedulers (cron `probe: @every 1s`) and 1 push process. Two writers log
every 2xx, two live WebSocket readers follow the board, a webhook receiver takes every event.

Faults: `kill -9` of the primary (restarted a few seconds later, when Sentinel turns it into a
replica of the new master), then a `SENTINEL failover` back to it. Afterwards every acknowledged
write is in PostgreSQL, every reader holds every version exactly once, every event reached the
receiver under one delivery id, every cron tick ran exactly once, one scheduler leads, and no tack-*
connection is left on the old primary (CLIENT LIST). The time from the kill to the first write that
went all the way through Redis to a live reader is measured and printed."""

import json
import os
import signal
import subprocess
import time

import pytest

from helpers import Clients, PrivateRedis, Receiver, ResumingClient, Tack, Writers, assert_nothing_lost
from helpers import free_port, psql, signup, wait_http, wait_until

NAME = "tack"
PROBE = "probe: @every 1s"


class RedisNode(PrivateRedis):
    """A redis-server of the test's own with the settings docs/operations.md recommends under
    Sentinel; `kill()` is a crash (SIGKILL), `start()` brings it back on the same port and data."""

    def __init__(self, directory, replica_of=None):
        self.replica_of = replica_of
        super().__init__(directory)

    def start(self):
        extra = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                                      "--appendonly", "yes", "--save", "", "--min-replicas-to-write", "1",
                                      "--min-replicas-max-lag", "10", "--logfile", str(self.dir / "redis.log"), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: self.cli("PING", check=False) == "PONG", timeout=10, what=f"redis-server on port {self.port}")

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def role(self):
        return (self.cli("ROLE", check=False) or "").split("\n")[0]

    def tack_clients(self):
        """Names of the tack-* connections open here (CLIENT LIST)."""
        names = []
        for line in self.cli("CLIENT", "LIST").splitlines():
            for field in line.split(" "):
                if field.startswith("name=tack-"):
                    names.append(field[5:])
        return names


class Sentinel:
    """`redis-server sentinel.conf --sentinel` monitoring the master under NAME."""

    def __init__(self, directory, master_port):
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        conf = directory / "sentinel.conf"
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {directory}\nlogfile {directory}/sentinel.log\n"
                        f"sentinel monitor {NAME} 127.0.0.1 {master_port} 2\n"
                        f"sentinel down-after-milliseconds {NAME} 1000\n"
                        f"sentinel failover-timeout {NAME} 3000\n"
                        f"sentinel parallel-syncs {NAME} 1\n")
        self.proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: self.cli("PING") == "PONG", timeout=10, what=f"sentinel on port {self.port}")

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 else None

    def master_port(self):
        reply = self.cli("SENTINEL", "get-master-addr-by-name", NAME)
        return int(reply.split("\n")[1]) if reply and "\n" in reply else None

    def replica_ready(self, port):
        """Whether this sentinel sees 127.0.0.1:port as a healthy replica (a failover can pick it)."""
        lines = (self.cli("SENTINEL", "replicas", NAME) or "").split("\n")
        entries, current = [], {}
        for key, value in zip(lines[0::2], lines[1::2]):
            if key == "name" and current:
                entries.append(current)
                current = {}
            current[key] = value
        entries.append(current)
        return any(e.get("port") == str(port) and e.get("flags") == "slave" and e.get("master-link-status") == "ok"
                   for e in entries)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def record_arrivals(client, arrivals):
    """Wraps the client's version log so the first arrival time of each version is kept."""
    add = client.versions.add

    def timed(board, version):
        arrivals.setdefault(version, time.monotonic())
        add(board, version)
    client.versions.add = timed


@pytest.fixture
def topology(tmp_path):
    primary = RedisNode(tmp_path / "redis-a")
    replica = RedisNode(tmp_path / "redis-b", replica_of=primary.port)
    sentinels = []
    try:
        sentinels = [Sentinel(tmp_path / f"sentinel-{i}", primary.port) for i in range(3)]
        # The sentinels find each other and the replica through the master (hello messages every 2 s).
        wait_until(lambda: all((s.cli("SENTINEL", "ckquorum", NAME) or "").startswith("OK 3 usable") for s in sentinels)
                   and all(s.cli("SENTINEL", "replicas", NAME) for s in sentinels), timeout=30, what="3 sentinels that see the replica")
        wait_until(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), timeout=20, what="the replica in sync")
        yield primary, replica, sentinels
    finally:
        for s in sentinels:
            s.stop()
        primary.stop()
        replica.stop()


def test_sentinel_failovers_lose_nothing_acknowledged(binary, tmp_path, fresh_db, topology):
    primary, replica, sentinels = topology
    started = time.monotonic()
    # redis.url's host and port lead nowhere: with sentinels only its password and database count.
    tack = Tack(binary, tmp_path, fresh_db, f"redis://127.0.0.1:{free_port()}/0")
    web_port = int(tack.env["TACK_WEB_PORT"])
    tack.env.update({
        "TACK_REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in sentinels),
        "TACK_REDIS_MASTER_NAME": NAME,
        "TACK_REDIS_FAILOVER_TIMEOUT": "15",
        "TACK_WEB_BASE_URL": f"http://localhost:{web_port}",
        "TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "TACK_SCHEDULER_JOBS": PROBE,
        "TACK_WORKER_VISIBILITY_TIMEOUT": "5",
    })

    checked = tack("init_node", check=True).stdout
    assert "quorum OK 3 usable Sentinels" in checked and f"replica 127.0.0.1:{replica.port}" in checked, checked
    assert "min-replicas-to-write is 0" not in checked, checked
    tack("upgrade_db", check=True)

    receiver = Receiver(status=200)
    writers = clients = None
    try:
        webs = [tack.start("run", "web"), tack.start("run", "web", env={"TACK_WEB_PORT": str(web_port + 1)})]
        tack.start("run", "worker")
        tack.start("run", "scheduler", env={"TACK_NODE_NAME": "node-s1"})
        tack.start("run", "scheduler", env={"TACK_NODE_NAME": "node-s2"})
        tack.start("run", "push")
        push_port = int(tack.env["TACK_PUSH_PORT"])
        for port in (web_port, web_port + 1):
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        wait_http(f"http://127.0.0.1:{push_port}/push/healthz", timeout=60)

        ada = signup(f"http://127.0.0.1:{web_port}", "ada@example.com", "Ada")
        bob = signup(f"http://127.0.0.1:{web_port + 1}", "bob@example.com", "Bob")
        board = ada.create_board("Sentinel")
        column = ada.create_column(board)
        ada.add_member(board, bob.email)
        ada.call("POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/hook"})

        live = [ResumingClient([f"ws://127.0.0.1:{push_port}/push/ws"], [board], cookie=user.cookie,
                               origin=f"http://localhost:{web_port}", label=f"{user.name}'s tab") for user in (ada, bob)]
        arrivals = {}
        for client in live:
            record_arrivals(client, arrivals)
        clients = Clients(live)
        wait_until(lambda: all(c.subscribed_once.is_set() for c in live), 20, "every tab subscribed")
        writers = Writers([ada, bob], board, column)
        writers.start()
        wait_until(lambda: psql(tack.db_url, "SELECT count(*) FROM cron_runs WHERE job = 'probe'") != "0", 30, "the first cron tick")
        first_tick_ms = int(psql(tack.db_url, "SELECT (extract(epoch FROM min(scheduled_for)) * 1000)::BIGINT FROM cron_runs WHERE job = 'probe'"))

        writers.phase = "steady"
        time.sleep(4)
        status, _ = tack.status()
        assert status["redis"]["master"] == f"127.0.0.1:{primary.port}", status["redis"]

        # --- kill -9 of the primary ---------------------------------------------------------------
        writers.phase = "primary killed"
        killed_at = time.monotonic()
        primary.kill()
        wait_until(lambda: sentinels[0].master_port() == replica.port, timeout=20, what="Sentinel to promote the replica")
        promoted = time.monotonic() - killed_at
        time.sleep(max(0.0, 4 - (time.monotonic() - killed_at)))
        # The old primary comes back with its AOF; Sentinel makes it a replica of the new master.
        primary.start()
        wait_until(lambda: primary.role() == "slave", timeout=30, what="Sentinel to turn the old primary into a replica")
        wait_until(lambda: "master_link_status:up" in primary.cli("INFO", "replication"), timeout=30, what="the old primary in sync")
        rejoined = time.monotonic() - killed_at
        writers.phase = "after kill"
        time.sleep(5)
        # The restarted old primary never saw a Tack connection (it briefly claims to be a master).
        assert primary.tack_clients() == [], f"Tack connected to the restarted old primary: {primary.tack_clients()}"

        # First write after the kill whose event reached a live reader within 0.5 s of its answer.
        with writers.lock:
            acks = [(t, v) for t, v in writers.acks if t > killed_at]
        through = [t for t, v in acks if v in arrivals and arrivals[v] - t < 0.5]
        first_2xx = (acks[0][0] - killed_at) if acks else None
        first_through = (through[0] - killed_at) if through else None
        assert first_through is not None, "no write went through to the readers after the kill"

        # --- SENTINEL failover back to the first server -------------------------------------------
        writers.phase = "SENTINEL failover"
        failover_at = time.monotonic()
        # Sentinel picks only a replica it sees healthy; it may also abort a failover (no good
        # replica yet) and then it is asked again.
        wait_until(lambda: sentinels[1].replica_ready(primary.port), timeout=30, what="Sentinel to see the old primary as a healthy replica")
        for attempt in range(3):
            assert sentinels[1].cli("SENTINEL", "failover", NAME) == "OK" or attempt > 0
            try:
                wait_until(lambda: sentinels[1].master_port() == primary.port, timeout=12, what="the manual failover")
                break
            except AssertionError:
                if attempt == 2:
                    raise
        wait_until(lambda: all(s.master_port() == primary.port for s in sentinels), timeout=30, what="every sentinel to name the new master")
        switched = time.monotonic() - failover_at
        wait_until(lambda: replica.role() == "slave", timeout=30, what="the demoted master to become a replica")
        # No Tack connection stays on the demoted master: Sentinel kills clients there, and every
        # Tack connection of the old epoch closes itself.
        wait_until(lambda: replica.tack_clients() == [], timeout=10, what="no tack-* client on the demoted master",
                   on_timeout=lambda: str(replica.tack_clients()))
        wait_until(lambda: len(primary.tack_clients()) >= 5, timeout=20, what="Tack's connections on the new master",
                   on_timeout=lambda: str(primary.tack_clients()))
        writers.phase = "settled"
        time.sleep(4)
        writers.stop()

        failures = {p: len(f) for p, f in writers.failed.items() if f}
        print(f"\nrequests per phase: {writers.report()}")
        print(f"kill -9: Sentinel promoted the replica after {promoted:.2f} s, the old primary rejoined as a replica after {rejoined:.2f} s")
        print(f"kill -9: first 2xx write after {first_2xx:.2f} s; first write through Redis to a live reader after {first_through:.2f} s")
        print(f"SENTINEL failover: new master named after {switched:.2f} s")
        # A Redis failover never fails a write: PostgreSQL holds it, the relay publishes it later.
        assert not [f for fs in writers.failed.values() for f in fs if f.startswith("500")], writers.failed
        assert writers.ok["settled"] > 0 and not writers.failed["settled"], failures

        final = ada.board_version(board)
        assert_nothing_lost(tack.db_url, board, final, writers, live, receiver)

        # Every cron tick ran exactly once; one scheduler leads.
        stop_ms = int(time.time() * 1000) // 1000 * 1000 - 2000
        wait_until(lambda: int(psql(tack.db_url, "SELECT coalesce((extract(epoch FROM max(scheduled_for)) * 1000)::BIGINT, 0) "
                                                  "FROM cron_runs WHERE job = 'probe'")) >= stop_ms, 40, "the cron ticks to catch up")
        ticks = [int(x) for x in psql(tack.db_url, f"""
            SELECT (extract(epoch FROM scheduled_for) * 1000)::BIGINT FROM cron_runs WHERE job = 'probe'
            AND scheduled_for BETWEEN to_timestamp({first_tick_ms} / 1000.0) AND to_timestamp({stop_ms} / 1000.0)""").split()]
        missing = sorted(set(range(first_tick_ms, stop_ms + 1, 1000)) - set(ticks))
        assert not missing, f"{len(missing)} cron tick(s) never ran, e.g. {missing[:5]}"
        assert len(ticks) == len(set(ticks)), "a cron tick ran twice"
        report = tack.wait_for(lambda r: r.get("schedulerLeader") and len(r.get("schedulerStandbys", [])) == 1, 20, "one leader, one standby")
        assert report["redis"]["master"] == f"127.0.0.1:{primary.port}" and report["redis"]["sentinel"], report["redis"]
        print(f"cron probe ticks: {len(ticks)} ran once each; leader {report['schedulerLeader']}")
        wait_until(lambda: all(q["dead"] == 0 and q["in_flight"] == 0 and q["waiting"] == 0
                               for q in json.loads(tack("jobs", "--json", check=True).stdout)), 60, "empty queues")
        print(f"test took {time.monotonic() - started:.0f} s")
    finally:
        if writers:
            writers.stop()
        if clients:
            clients.stop()
        tack.stop_all()
        receiver.close()


def test_check_config_requires_the_master_name(binary, tmp_path, fresh_db):
    tack = Tack(binary, tmp_path, fresh_db, "redis://127.0.0.1:6379/0")
    result = tack("check_config", env={"TACK_REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.1:26380"})
    assert result.returncode != 0
    assert "redis.master_name" in result.stderr + result.stdout, result.stderr + result.stdout
    bad = tack("check_config", env={"TACK_REDIS_SENTINELS": "127.0.0.1", "TACK_REDIS_MASTER_NAME": NAME})
    assert bad.returncode != 0 and "redis.sentinels" in bad.stderr + bad.stdout, bad.stderr + bad.stdout
