"""Roles join the cluster, show in `status`, and stop cleanly; the built-in process manager runs a
whole node and restarts a killed child; the scheduler lease has one leader and hands over on stop."""

import os
import signal
import time
import urllib.request

from helpers import roles_of

ROLES = ("web", "worker", "scheduler", "push")




def test_status_with_no_process_needs_attention(migrated):
    report, code = migrated.status()
    assert code == 1
    assert report["processes"] == []
    for role in ROLES:
        assert f"no live {role} process" in report["problems"]
    assert "no scheduler holds the lease" in report["problems"]
    text = migrated("status")
    assert text.returncode == 1
    assert "attention: no live web process" in text.stdout


def test_each_role_joins_the_cluster_and_leaves_on_sigterm(migrated):
    procs = {role: migrated.start("run", role) for role in ROLES}
    report = migrated.wait_for(lambda r: all(roles_of(r).get(role) == 1 for role in ROLES) and r.get("schedulerLeader"),
                               what="one process of each role and a scheduler leader")
    by_role = {p["role"]: p for p in report["processes"]}
    for role, proc in procs.items():
        assert by_role[role]["pid"] == proc.pid
        assert by_role[role]["node"] == "node-a"
    assert by_role["web"]["listen"].endswith(":" + migrated.env["TACK_WEB_PORT"])
    assert report.get("schedulerLeader") == by_role["scheduler"]["id"]
    assert report["problems"] == []
    _, code = migrated.status()
    assert code == 0

    # The web role answers health probes; readiness checks PostgreSQL, Redis and the schema.
    base = f"http://127.0.0.1:{migrated.env['TACK_WEB_PORT']}"
    assert urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
    ready = urllib.request.urlopen(base + "/readyz", timeout=5)
    assert ready.status == 200 and b'"ready"' in ready.read()
    # Prometheus metrics: requests by route and status, with a latency histogram.
    metrics = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    assert 'hb_requests{' in metrics and '"/healthz"' in metrics, metrics[:2000]
    assert "http_server_request_duration_bucket" in metrics
    push = f"http://127.0.0.1:{migrated.env['TACK_PUSH_PORT']}/push/healthz"
    assert urllib.request.urlopen(push, timeout=5).status == 200

    for role, proc in procs.items():
        proc.send_signal(signal.SIGTERM)
    for role, proc in procs.items():
        assert proc.wait(timeout=15) == 0, f"{role} exit code: {migrated.output(proc)}"
        out = migrated.output(proc)
        assert "joined the cluster" in out and "left the cluster" in out, out
    report, _ = migrated.status()
    assert report["processes"] == [], "a clean stop removes the registry entry at once"
    assert report.get("schedulerLeader") is None, "the leader releases its lease on SIGTERM"


def test_a_killed_process_disappears_from_status_after_its_heartbeat_ttl(migrated):
    proc = migrated.start("run", "worker")
    migrated.wait_for(lambda r: roles_of(r).get("worker") == 1, what="the worker")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    start = time.time()
    migrated.wait_for(lambda r: roles_of(r).get("worker") is None, timeout=10, what="the dead worker to expire")
    assert time.time() - start <= 3 + 1.5


def test_whole_node_runs_every_role_restarts_a_killed_child_and_stops_cleanly(migrated):
    manager = migrated.start("run", "--web-scale", "2", "--worker-scale", "2")
    report = migrated.wait_for(
        lambda r: roles_of(r) == {"web": 2, "worker": 2, "scheduler": 1, "push": 1} and r.get("schedulerLeader"),
        what="2 web, 2 worker, 1 scheduler, 1 push")
    ports = sorted(int(p["listen"].rsplit(":", 1)[1]) for p in report["processes"] if p["role"] == "web")
    first = int(migrated.env["TACK_WEB_PORT"])
    assert ports == [first, first + 1]

    victim = next(p for p in report["processes"] if p["role"] == "worker")
    os.kill(victim["pid"], signal.SIGKILL)
    report = migrated.wait_for(
        lambda r: roles_of(r).get("worker") == 2 and victim["pid"] not in [p["pid"] for p in r["processes"]],
        timeout=20, what="the killed worker to be replaced")
    out = migrated.output(manager)
    assert "killed by signal 9; restarting" in out, out
    assert "worker.1    | " in out or "worker.2    | " in out, "child logs are prefixed with their name"

    pids = [p["pid"] for p in report["processes"]]
    manager.send_signal(signal.SIGTERM)
    assert manager.wait(timeout=30) == 0, migrated.output(manager)
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, f"child {pid} outlived the manager"
    report, _ = migrated.status()
    assert report["processes"] == []
    web_log = (migrated.workdir / "log" / "tack-web-1.log").read_text()
    assert "joined the cluster" in web_log and "left the cluster" in web_log, "per-process log files under node.log_dir"


def test_one_scheduler_leads_and_a_standby_takes_over_after_sigterm(migrated):
    a = migrated.start("run", "scheduler", env={"TACK_NODE_NAME": "node-a"})
    b = migrated.start("run", "scheduler", env={"TACK_NODE_NAME": "node-b"})
    report = migrated.wait_for(lambda r: roles_of(r).get("scheduler") == 2 and r.get("schedulerLeader"), what="two schedulers")
    leader_id = report.get("schedulerLeader")
    assert len(report.get("schedulerStandbys", [])) == 1 and report.get("schedulerStandbys", [])[0] != leader_id
    leader, standby = (a, b) if leader_id.startswith("node-a/") else (b, a)
    time.sleep(1.5)
    report, _ = migrated.status()
    assert report.get("schedulerLeader") == leader_id, "the lease stays with one leader while it renews"

    stopped_at = time.time()
    leader.send_signal(signal.SIGTERM)
    migrated.wait_for(lambda r: r.get("schedulerLeader") and r.get("schedulerLeader") != leader_id, timeout=5,
                      what="the standby to take over")
    assert time.time() - stopped_at < 2.0
    assert leader.wait(timeout=10) == 0
    assert "this process is now the scheduler leader" in migrated.output(standby)
