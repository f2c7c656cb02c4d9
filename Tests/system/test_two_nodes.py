"""The multi-node deployment as the operator docs describe it, on one machine: node A under
supervisord from the rendered example, node B under `./platform run` on a host of its own (a network
namespace joined by a veth pair; 127.0.0.2 where namespaces cannot be made), one PostgreSQL and one
Redis (AOF on) of the test's own, nginx in front from `gen_nginx --from-cluster`.

Through nginx two users sign in, write cards and hold live WebSocket subscriptions while, in turn,
`upgrade_db` runs on both nodes at once, node B is kill -9'd entirely and restarted, node A's
programs are restarted one by one with supervisorctl, Redis restarts and PostgreSQL restarts.
Afterwards every acknowledged write is in PostgreSQL, every live client holds every version of the
board exactly once, every event reached the webhook receiver under one delivery id, no job is dead
or lost, no cron tick ran twice, and `status` is healthy. Failed requests are reported per phase;
the rolling restart has none."""

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter

import pytest

from helpers import ROOT, Nginx, PrivatePostgres, PrivateRedis, Receiver, ResumingClient, Supervisor, Tack
from helpers import Clients, Writers, assert_nothing_lost
from helpers import descendants, free_port, free_port_run, psql, signup, wait_http, wait_until


class SecondHost:
    """Node B's machine: a network namespace joined to this one by a veth pair, this side at
    `here` (the address node B reaches PostgreSQL, Redis and the webhook receiver at), node B at
    `there`. Where namespaces cannot be made (no root), node B gets 127.0.0.2 instead."""

    def __init__(self):
        n = random.randint(1, 250)
        self.name, self.veth = f"tack-b-{os.getpid()}", f"tackb{os.getpid() % 100000}"
        self.here, self.there = f"10.233.{n}.1", f"10.233.{n}.2"
        inside = ["ip", "netns", "exec", self.name]
        steps = [["ip", "netns", "add", self.name],
                 ["ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name", self.veth + "b"],
                 ["ip", "link", "set", self.veth + "b", "netns", self.name],
                 ["ip", "addr", "add", f"{self.here}/24", "dev", self.veth + "a"],
                 ["ip", "link", "set", self.veth + "a", "up"],
                 inside + ["ip", "addr", "add", f"{self.there}/24", "dev", self.veth + "b"],
                 inside + ["ip", "link", "set", self.veth + "b", "up"],
                 inside + ["ip", "link", "set", "lo", "up"]]
        self.namespace = os.geteuid() == 0
        for step in steps if self.namespace else []:
            made = subprocess.run(step, capture_output=True, text=True)
            if made.returncode != 0:
                self.close()
                raise AssertionError(f"{' '.join(step)}: {made.stderr}")
        if not self.namespace:
            self.here, self.there = "127.0.0.1", "127.0.0.2"
        self.prefix = inside if self.namespace else []

    def close(self):
        if self.namespace:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            subprocess.run(["ip", "link", "del", self.veth + "a"], capture_output=True)


@pytest.fixture
def host_b():
    host = SecondHost()
    yield host
    host.close()


@pytest.fixture
def postgres(host_b):
    server = PrivatePostgres(addresses=["127.0.0.1", host_b.here])
    yield server
    server.stop()


@pytest.fixture
def redis(host_b, tmp_path):
    server = PrivateRedis(tmp_path / "redis", addresses=["127.0.0.1", host_b.here])
    yield server
    server.stop()


def test_two_nodes_survive_restarts_kills_and_upgrades(binary, tmp_path, host_b, postgres, redis):
    nginx_port = free_port()
    site = f"http://localhost:{nginx_port}"
    # One config for the cluster, as an operator copies it to every machine; what differs per node
    # comes from the environment.
    tack = Tack(binary, tmp_path, postgres.url, redis.url)
    tack.env.update({
        "TACK_WEB_BASE_URL": site,
        "TACK_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "TACK_SCHEDULER_JOBS": "probe:on",
        # An attempt cut by a restart is tried again soon; a stopping push process hands its
        # clients over within a second.
        "TACK_WORKER_VISIBILITY_TIMEOUT": "5",
        "TACK_PUSH_DRAIN_SECONDS": "1",
    })
    node_a = dict(tack.env, TACK_NODE_NAME="node-a")
    web_prefix = free_port_run(1, candidates=[p * 10 for p in random.sample(range(1000, 3200), 200)]) // 10
    node_a_web = f"127.0.0.1:{web_prefix}0"
    # Node B reaches the shared servers at this host's address on its link.
    node_b = dict(tack.env, TACK_NODE_NAME="node-b", TACK_WEB_HOST=host_b.there, TACK_PUSH_HOST=host_b.there,
                  TACK_DATABASE_URL=postgres.url.replace("127.0.0.1", host_b.here),
                  TACK_REDIS_URL=redis.url.replace("127.0.0.1", host_b.here),
                  TACK_WEB_PORT=str(free_port()), TACK_PUSH_PORT=str(free_port()), TACK_NODE_STORAGE_DIR=str(tmp_path / "storage-b"),
                  TACK_NODE_LOG_DIR=str(tmp_path / "log-b"))
    node_b_web = f"{host_b.there}:{node_b['TACK_WEB_PORT']}"

    def both_nodes(*args):
        """The command on both nodes at once; both must succeed."""
        procs = [subprocess.Popen(prefix + [binary, *args, "--config", str(tack.config)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for prefix, env in (([], node_a), (host_b.prefix, node_b))]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{' '.join(args)}: {err}{out}"

    both_nodes("init_node")
    both_nodes("upgrade_db")

    def start_node_b():
        proc = subprocess.Popen(host_b.prefix + [str(ROOT / "platform"), "run", "--config", str(tack.config)], env=node_b,
                                start_new_session=True,
                                stdout=open(tmp_path / "node-b.log", "a"), stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://{node_b_web}/healthz", timeout=60)
        except AssertionError:
            for pid in [proc.pid, *descendants(proc.pid)]:
                os.kill(pid, signal.SIGKILL)
            raise AssertionError("node B did not start:\n" + (tmp_path / "node-b.log").read_text()[-3000:]) from None
        return proc

    receiver = Receiver(status=200, host=host_b.here)
    supervisor = node_b_proc = nginx = clients = writers = None
    try:
        supervisor = Supervisor(tmp_path / "node-a", tack.config, node_a, web_prefix)
        node_b_proc = start_node_b()
        report = tack.wait_for(lambda r: sorted((p["node"], p["role"]) for p in r["processes"]) == [
            ("node-a", "push"), ("node-a", "scheduler"), ("node-a", "web"), ("node-a", "worker"), ("node-a", "worker"),
            ("node-b", "push"), ("node-b", "scheduler"), ("node-b", "web"), ("node-b", "worker")] and r.get("schedulerLeader"),
            timeout=90, what="both nodes' processes in the registry")
        pushes = sorted(p["listen"] for p in report["processes"] if p["role"] == "push")
        # nginx from gen_nginx's output for the live cluster (every web and push process of both nodes).
        nginx = Nginx(tmp_path / "nginx", [], [], port=nginx_port, from_cluster=tack)
        text = (tmp_path / "nginx" / "tack-site.conf").read_text()
        for address in [node_a_web, node_b_web, *pushes]:
            assert f"server {address} max_fails=1 fail_timeout=2s;" in text, f"gen_nginx --from-cluster left out {address}"

        ada = signup(nginx.base, "ada@example.com", "Ada")
        bob = signup(nginx.base, "bob@example.com", "Bob")
        board = ada.create_board("Two nodes")
        column = ada.create_column(board)
        ada.add_member(board, bob.email)
        ada.call("POST", f"/api/v1/boards/{board}/webhooks", {"url": f"http://{host_b.here}:{receiver.port}/hook"})

        live = [ResumingClient([nginx.ws_url], [board], cookie=user.cookie, origin=site, label=f"{user.name}'s tab")
                for user in (ada, bob, ada)]
        clients = Clients(live)
        wait_until(lambda: all(c.subscribed_once.is_set() for c in live), 20, "every tab subscribed")
        writers = Writers([ada, bob], board, column)
        writers.start()

        def phase(name, seconds=3.0):
            writers.phase = name
            time.sleep(seconds)

        phase("steady")
        writers.phase = "upgrade_db on both nodes"
        both_nodes("upgrade_db")
        phase("upgrade_db on both nodes", 1)

        writers.phase = "node B killed"
        for pid in [node_b_proc.pid, *descendants(node_b_proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node_b_proc.wait(timeout=10)
        phase("node B killed", 3)
        node_b_proc = start_node_b()
        # As docs/operations.md asks between restarts: nginx's fail_timeout (2 s) passes before
        # the next process stops, so nginx has taken node B back.
        phase("node B back", 3)

        writers.phase = "rolling restart of node A"
        for program in ["tack:tack-web-0", "tack:tack-push", "tack:tack-worker-0", "tack:tack-worker-1", "tack:tack-scheduler"]:
            restarted = supervisor.ctl("restart", program)
            assert restarted.returncode == 0 and "started" in restarted.stdout, restarted.stdout + restarted.stderr
            if program == "tack:tack-web-0":
                wait_http(f"http://{node_a_web}/readyz", timeout=30)
            time.sleep(2.5)
        phase("rolling restart of node A", 1)

        writers.phase = "Redis restart"
        redis.restart(down_seconds=1.0)
        phase("Redis restart", 4)

        writers.phase = "PostgreSQL restart"
        postgres.restart()
        phase("PostgreSQL restart", 4)
        # Settled: Tack recovers by itself (its pool reconnects with backoff); from the first write
        # that goes through, nothing may fail.
        writers.phase = "recovering"
        wait_until(lambda: writers.ok["recovering"] > 0, 30, "a write to go through after the PostgreSQL restart")
        phase("settled", 3)
        writers.stop()

        failures = {p: Counter(f).most_common(3) for p, f in writers.failed.items() if f}
        print(f"requests per phase: {writers.report()}")
        assert not writers.failed["rolling restart of node A"], f"the rolling restart failed requests: {failures}"
        assert not writers.failed["steady"] and not writers.failed["settled"], failures
        # While PostgreSQL restarts, a write is refused with 503 (retry), never a 500.
        assert not [f for fs in writers.failed.values() for f in fs if f.startswith("500")], failures
        assert writers.ok["settled"] > 0, "writes go through after the last restart"

        final = ada.board_version(board)
        assert_nothing_lost(postgres.url, board, final, writers, live, receiver)

        # No job dead or left behind; cron ticks ran once each; the cluster is healthy.
        wait_until(lambda: all(q["dead"] == 0 and q["in_flight"] == 0 and q["waiting"] == 0
                               for q in json.loads(tack("jobs", "--json", env=node_a, check=True).stdout)), 60, "empty queues")
        ticks = psql(postgres.url, "SELECT count(*), count(DISTINCT scheduled_for), coalesce(sum(duplicate_deliveries), 0) "
                                   "FROM cron_runs WHERE job = 'probe'").split("|")
        assert int(ticks[0]) > 10 and ticks[0] == ticks[1], f"cron ticks: {ticks}"
        print(f"cron probe ticks: {ticks[0]} ran once each ({ticks[2]} duplicate deliveries refused)")
        _, code = tack.status()
        assert code == 0, tack("status", env=node_a).stdout
    finally:
        if writers:
            writers.stop()
        if clients:
            clients.stop()
        if nginx:
            nginx.stop()
        if supervisor:
            supervisor.stop()
        if node_b_proc:
            node_b_proc.send_signal(signal.SIGTERM)  # the node's manager stops its roles gracefully
            try:
                node_b_proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                for pid in [node_b_proc.pid, *descendants(node_b_proc.pid)]:
                    os.kill(pid, signal.SIGKILL)
                node_b_proc.wait(timeout=10)
        receiver.close()
