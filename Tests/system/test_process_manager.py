"""The built-in process manager's children never outlive it, even when it is killed with -9."""

import os
import signal
import time

from helpers import roles_of


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_stop_when_the_manager_is_killed(migrated):
    manager = migrated.start("run", "--worker-scale", "1")
    report = migrated.wait_for(lambda r: roles_of(r) == {"web": 1, "worker": 1, "scheduler": 1, "push": 1},
                               what="one process of each role")
    pids = [p["pid"] for p in report["processes"]]
    os.kill(manager.pid, signal.SIGKILL)
    manager.wait(timeout=10)
    deadline = time.time() + 15
    while time.time() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not [pid for pid in pids if alive(pid)], "children outlived their manager"
    # They stopped gracefully: each left the cluster rather than timing out of it.
    report, _ = migrated.status()
    assert report["processes"] == [], report["processes"]
