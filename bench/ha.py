"""Driver of bench/ha (run by that script, which sets BIN, CONFIG, WORK, PG_BIN, STEADY, RATE and
TACK_REDIS_URL): etcd, two Patroni nodes, HAProxy, `tack run web`, a steady writer, a switchover,
then kill -9 of the leader's Patroni and postgres. Prints the figures as a Markdown table and a
`status: PASS|FAIL` line."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN, CONFIG, WORK, PG_BIN = os.environ["BIN"], os.environ["CONFIG"], os.environ["WORK"], os.environ["PG_BIN"]
STEADY, RATE = float(os.environ["STEADY"]), float(os.environ["RATE"])
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
ACQUIRE_TIMEOUT, CONNECT_TIMEOUT = 5.0, 5.0  # Tack's defaults
procs = {}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(name, args, user=None):
    out = open(f"{WORK}/{name}.log", "w")
    p = subprocess.Popen((AS_POSTGRES if user == "postgres" else []) + args, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, cwd=WORK)
    procs[name] = p
    with open(f"{WORK}/{name}.pid", "w") as f:
        f.write(str(p.pid))
    return p


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench/ha: timed out after {timeout} s waiting for {what}")


def rest(port, path, method="GET"):
    """Status of a Patroni REST call (0 when it does not answer)."""
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


ETCD, ETCD_PEER = free_port(), free_port()
NODES = {name: {"pg": free_port(), "rest": free_port()} for name in ("pg1", "pg2")}
HAPROXY = free_port()

# etcd (v3 API, which Patroni's etcd3 section speaks over the gRPC gateway).
start("etcd", ["etcd", "--name", "e1", "--data-dir", f"{WORK}/etcd", "--listen-client-urls", f"http://127.0.0.1:{ETCD}",
               "--advertise-client-urls", f"http://127.0.0.1:{ETCD}", "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
               "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER}", "--initial-cluster", f"e1=http://127.0.0.1:{ETCD_PEER}"])
wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{ETCD}/health", timeout=1).status == 200, 20, "etcd")

for name, ports in NODES.items():
    for d in (f"{WORK}/{name}-run", f"{WORK}/{name}"):
        os.makedirs(d, mode=0o700, exist_ok=True)
        if AS_POSTGRES:
            shutil.chown(d, "postgres", "postgres")
    with open(f"{WORK}/{name}.yml", "w") as f:
        f.write(f"""scope: tack-bench
name: {name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{ports['rest']}
  connect_address: 127.0.0.1:{ports['rest']}
etcd3:
  hosts: 127.0.0.1:{ETCD}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_log_hints: "on"
        max_connections: 200
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  pg_hba:
  - local all all trust
  - host replication all 127.0.0.1/32 trust
  - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{ports['pg']}
  connect_address: 127.0.0.1:{ports['pg']}
  data_dir: {WORK}/{name}
  bin_dir: {PG_BIN}
  pgpass: {WORK}/{name}-run/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: {WORK}/{name}-run
    fsync: "off"
""")
    start(f"patroni-{name}", ["patroni", f"{WORK}/{name}.yml"], user="postgres")
    if name == "pg1":
        wait_until(lambda: rest(ports["rest"], "/primary") == 200, 60, "pg1 to bootstrap as leader")

wait_until(lambda: rest(NODES["pg2"]["rest"], "/sync") == 200, 90, "pg2 to stream as synchronous standby")
psql = os.path.join(PG_BIN, "psql")
leader_url = f"postgres://postgres@127.0.0.1:{NODES['pg1']['pg']}/postgres"
subprocess.run([psql, leader_url, "-qc", "CREATE ROLE tack LOGIN SUPERUSER"], check=True)
subprocess.run([psql, leader_url, "-qc", "CREATE DATABASE tack OWNER tack"], check=True)

with open(f"{WORK}/haproxy.cfg", "w") as f:
    servers = "\n".join(f"  server {n} 127.0.0.1:{p['pg']} maxconn 100 check port {p['rest']}" for n, p in NODES.items())
    f.write(f"""global
  maxconn 1000
defaults
  mode tcp
  timeout connect 4s
  timeout client 30m
  timeout server 30m
  timeout check 2s
listen postgres_primary
  bind 127.0.0.1:{HAPROXY}
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
{servers}
""")
start("haproxy", ["haproxy", "-db", "-f", f"{WORK}/haproxy.cfg"])

env = dict(os.environ, TACK_DATABASE_URL=f"postgres://tack@127.0.0.1:{HAPROXY}/tack", TACK_WEB_HOST="127.0.0.1",
           TACK_WEB_PORT=str(free_port()), TACK_NODE_LOG_DIR=f"{WORK}/tack-log", TACK_NODE_STORAGE_DIR=f"{WORK}/tack-storage")
for key in ("BIN", "CONFIG", "WORK", "PG_BIN", "STEADY", "RATE"):
    env.pop(key, None)
wait_until(lambda: subprocess.run([BIN, "init_node", "--config", CONFIG], env=env, capture_output=True).returncode == 0, 30,
           "init_node through haproxy")
subprocess.run([BIN, "upgrade_db", "--config", CONFIG], env=env, check=True, capture_output=True)
web = subprocess.Popen([BIN, "run", "web", "--config", CONFIG], env=env, stdout=open(f"{WORK}/web.log", "w"),
                       stderr=subprocess.STDOUT, start_new_session=True)
procs["web"] = web
with open(f"{WORK}/web.pid", "w") as f:
    f.write(str(web.pid))
base_port = int(env["TACK_WEB_PORT"])
wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{base_port}/healthz", timeout=1).status == 200, 30, "tack web")


def api(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    raw = r.read()
    return r.status, r.headers, json.loads(raw or b"null")


status, headers, body = api("POST", "/api/v1/auth/signup", {"email": "ha@example.com", "name": "HA", "password": "a long and unusual passphrase"})
assert status in (200, 201), body
cookie = headers["Set-Cookie"].split(";", 1)[0]
status, _, token = api("POST", "/api/v1/me/tokens", {"name": "bench", "scope": "read_write"},
                       {"Cookie": cookie, "X-CSRF-Token": body["csrf_token"]})
auth = {"Authorization": "Bearer " + token["token"]}
_, _, board = api("POST", "/api/v1/boards", {"name": "HA"}, auth)
board = board["board"]["id"]
_, _, column = api("POST", f"/api/v1/boards/{board}/columns", {"name": "Todo"}, auth)
column = column["column"]["id"]

answers = []  # (started, seconds, status, retry_after, title)
stopping = threading.Event()


def writer():
    n = 0
    conn = None
    next_at = time.monotonic()
    while not stopping.is_set():
        n += 1
        title = f"card-{n}"
        started = time.monotonic()
        status, retry_after = None, None
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=60)
            conn.request("POST", f"/api/v1/boards/{board}/cards", body=json.dumps({"column_id": column, "title": title}),
                         headers={"Content-Type": "application/json", **auth})
            r = conn.getresponse()
            r.read()
            status, retry_after = r.status, r.getheader("Retry-After")
        except Exception:
            if conn:
                conn.close()
            conn = None
        answers.append((started, time.monotonic() - started, status, retry_after, title))
        next_at += 1.0 / RATE
        time.sleep(max(0, next_at - time.monotonic()))
        next_at = max(next_at, time.monotonic() - 1.0 / RATE)


def leader():
    for name, ports in NODES.items():
        if rest(ports["rest"], "/primary") == 200:
            return name
    return None


def wait_new_leader(old, t0, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = leader()
        if now and now != old:
            return now, time.monotonic() - t0
        time.sleep(0.05)
    raise SystemExit(f"bench/ha: no new leader within {timeout} s")


def window_figures(t0, t_end):
    """Failed requests, their statuses, the longest gap without an acknowledged write, slowest answer."""
    inside = [a for a in answers if t0 - 1 <= a[0] <= t_end]
    # Completion times of acknowledged writes from the last one before the fault to the end.
    ok = sorted(a[0] + a[1] for a in answers if a[2] is not None and 200 <= a[2] < 300)
    span = [t for t in ok if t >= t0] + [t for t in ok if t < t0][-1:]
    span.sort()
    gap = max((b - a for a, b in zip(span, span[1:])), default=float("nan"))
    failed = [a for a in inside if not (a[2] is not None and 200 <= a[2] < 300)]
    statuses = {}
    for a in failed:
        statuses[str(a[2])] = statuses.get(str(a[2]), 0) + 1
    return {"requests": len(inside), "failed": len(failed), "statuses": statuses, "gap": gap,
            "slowest": max((a[1] for a in inside), default=0.0),
            "bad": [a for a in failed if a[2] != 503 or a[3] != "1"]}


thread = threading.Thread(target=writer, daemon=True)
thread.start()
time.sleep(STEADY)

# (a) switchover
old = leader()
candidate = next(n for n in NODES if n != old)
log(f"switchover {old} -> {candidate}")
t_a = time.monotonic()
subprocess.run(["patronictl", "-c", f"{WORK}/{old}.yml", "switchover", "--leader", old, "--candidate", candidate, "--force"],
               check=True, capture_output=True, timeout=120)
new_a, failover_a = wait_new_leader(old, t_a)
time.sleep(STEADY)
fig_a = window_figures(t_a, time.monotonic())
log(f"switchover done: leader {new_a} after {failover_a:.2f} s")

# Wait for the old leader to come back as synchronous standby.
wait_until(lambda: rest(NODES[old]["rest"], "/sync") == 200, 120, f"{old} back as synchronous standby")
time.sleep(3)

# (b) kill -9 of the leader's Patroni and postgres
victim = leader()
survivor = next(n for n in NODES if n != victim)
with open(f"{WORK}/{victim}/postmaster.pid") as f:
    postmaster = int(f.readline())
log(f"kill -9 patroni and postgres of {victim}")
t_b = time.monotonic()
os.kill(procs[f"patroni-{victim}"].pid, signal.SIGKILL)
for pid in subprocess.run(["pgrep", "-f", f"patroni {WORK}/{victim}.yml"], capture_output=True, text=True).stdout.split():
    try:
        os.kill(int(pid), signal.SIGKILL)
    except ProcessLookupError:
        pass
os.kill(postmaster, signal.SIGKILL)
new_b, failover_b = wait_new_leader(victim, t_b)
time.sleep(STEADY)
stopping.set()
thread.join(timeout=90)
fig_b = window_figures(t_b, time.monotonic())
log(f"crash failover done: leader {new_b} after {failover_b:.2f} s")

# Acknowledged writes on the final primary.
final = f"postgres://tack@127.0.0.1:{NODES[new_b]['pg']}/tack"
titles = set(subprocess.run([psql, final, "-qtAc", f"SELECT title FROM cards WHERE board_id = {board}"], check=True,
                            capture_output=True, text=True).stdout.split())
acknowledged = [a for a in answers if a[2] is not None and 200 <= a[2] < 300]
lost = [a[4] for a in acknowledged if a[4] not in titles]
bound = ACQUIRE_TIMEOUT + CONNECT_TIMEOUT + 2
web_log = open(f"{WORK}/web.log").read()
detected = web_log.count("PostgreSQL failover detected")


def row(label, a, fig, failover):
    ok = not fig["bad"] and fig["slowest"] <= bound
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(fig["statuses"].items())) or "-"
    return (f"| {label} | {failover:.2f} | {fig['gap']:.2f} | {fig['failed']} of {fig['requests']} ({statuses}) | "
            f"{fig['slowest']:.2f} | {'PASS' if ok else 'FAIL'} |"), ok


print("| fault | Patroni failover: fault -> other node 200 on /primary (s) | write unavailability: longest gap between two acknowledged writes (s) | failed requests (statuses) | slowest answer (s) | every failure 503 + Retry-After, none slower than "
      f"{bound:.0f} s |")
print("|---|---|---|---|---|---|")
ra, ok_a = row("`patronictl switchover --force`", "a", fig_a, failover_a)
rb, ok_b = row("kill -9 of the leader's Patroni and postgres", "b", fig_b, failover_b)
print(ra)
print(rb)
print()
print("| acknowledged writes | lost on the final primary | 'PostgreSQL failover detected' logged by web | target | result |")
print("|---|---|---|---|---|")
ok_lost = not lost and detected >= 2
print(f"| {len(acknowledged)} of {len(answers)} requests | {len(lost)} | {detected} times | 0 lost | {'PASS' if ok_lost else 'FAIL'} |")
print(f"status: {'PASS' if ok_a and ok_b and ok_lost else 'FAIL'}")
