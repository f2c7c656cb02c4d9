"""Shared fixtures for the system tests: real tack processes against the private PostgreSQL and
Redis that `./platform test` starts. A missing server fails the tests; nothing is skipped."""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def require_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through `./platform test`, which starts PostgreSQL and Redis")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_run(count, candidates=None):
    """A first port P such that P .. P+count-1 are all free (for --web-scale and numprocs).
    Taken below the kernel's ephemeral range, where outgoing connections do not land."""
    for base in candidates or range(random.randrange(10000, 30000, 10), 32000, 10):
        if all(port_is_free(base + i) for i in range(count)):
            return base
    raise AssertionError("no run of free ports")


def descendants(pid):
    """Every process below `pid` (children may sit in process groups of their own)."""
    found = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return found
    for child in children:
        found += [child] + descendants(child)
    return found


def wait_http(url, timeout=30):
    """Waits until `url` answers 200 (a server process starting)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def psql(url, sql):
    pg_bin = os.environ.get("TACK_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")
    return subprocess.run([f"{pg_bin}/psql", url, "-qtAc", sql], check=True, capture_output=True, text=True).stdout.strip()


def redis_cli(url, *args):
    return subprocess.run(["redis-cli", "-u", url, *args], check=True, capture_output=True, text=True).stdout.strip()


class Tack:
    """Runs the tack binary with a config that points at a fresh database and a clean Redis db."""

    def __init__(self, binary, workdir, db_url, redis_url, root=ROOT):
        self.binary = binary
        self.workdir = workdir
        self.db_url = db_url
        self.redis_url = redis_url
        self.root = root
        self.config = workdir / "config.yml"
        self.processes = []
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("TACK_") and not key.startswith("TACK_TEST_"):
                del self.env[key]
        self.env.update({
            "TACK_ROOT": str(root),
            "TACK_DATABASE_URL": db_url,
            "TACK_REDIS_URL": redis_url,
            "TACK_NODE_NAME": "node-a",
            "TACK_WEB_HOST": "127.0.0.1",
            "TACK_WEB_PORT": str(free_port_run(2)),
            "TACK_PUSH_HOST": "127.0.0.1",
            "TACK_PUSH_PORT": str(free_port()),
            "TACK_NODE_STORAGE_DIR": str(workdir / "storage"),
            "TACK_NODE_LOG_DIR": str(workdir / "log"),
            "TACK_CLUSTER_HEARTBEAT_INTERVAL": "0.5",
            "TACK_CLUSTER_HEARTBEAT_TTL": "3",
            "TACK_SCHEDULER_LEASE_TTL": "3",
            "TACK_SCHEDULER_RENEW_INTERVAL": "0.5",
            "TACK_SCHEDULER_RENEW_DEADLINE": "2",
            "TACK_SCHEDULER_RETRY_INTERVAL": "0.4",
        })
        subprocess.run([binary, "gen_config", str(self.config)], check=True, capture_output=True, env=self.env)

    def __call__(self, *args, env=None, timeout=60, check=False):
        merged = dict(self.env)
        merged.update(env or {})
        result = subprocess.run([self.binary, *args, "--config", str(self.config)], capture_output=True, text=True,
                                env=merged, timeout=timeout, cwd=self.workdir)
        if check and result.returncode != 0:
            raise AssertionError(f"tack {' '.join(args)} exited {result.returncode}: {result.stderr}{result.stdout}")
        return result

    def start(self, *args, env=None):
        merged = dict(self.env)
        merged.update(env or {})
        log = open(self.workdir / f"proc-{len(self.processes)}.log", "w+")
        proc = subprocess.Popen([self.binary, *args, "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                                env=merged, cwd=self.workdir, start_new_session=True)
        proc.log = log
        self.processes.append(proc)
        return proc

    def output(self, proc):
        proc.log.flush()
        proc.log.seek(0)
        return proc.log.read()

    def status(self):
        result = self("status", "--json")
        assert result.returncode in (0, 1), result.stderr
        return json.loads(result.stdout), result.returncode

    def wait_for(self, predicate, timeout=30, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            report, _ = self.status()
            last = report
            if predicate(report):
                return report
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last status: {json.dumps(last, indent=1)}")

    def stop_all(self):
        for proc in self.processes:
            if proc.poll() is None:
                for child in descendants(proc.pid):
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)


@pytest.fixture
def binary():
    path = require_env("TACK_TEST_BINARY")
    assert os.access(path, os.X_OK), f"{path} is not an executable tack binary"
    return path


@pytest.fixture
def fresh_db():
    admin = require_env("TACK_TEST_POSTGRES_URL")
    name = "sys_" + uuid.uuid4().hex[:12]
    psql(admin, f"CREATE DATABASE {name}")
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url():
    base = require_env("TACK_TEST_REDIS_URL")
    url = base.rsplit("/", 1)[0] + "/1"  # Swift tests use db 0; system tests run one at a time on db 1
    redis_cli(url, "FLUSHDB")
    return url


@pytest.fixture
def tack(binary, tmp_path, fresh_db, redis_url):
    t = Tack(binary, tmp_path, fresh_db, redis_url)
    yield t
    t.stop_all()


@pytest.fixture
def migrated(tack):
    tack("upgrade_db", check=True)
    return tack


def copy_root(tmp_path):
    """A copy of the installation's migrations, for tests that edit them (TACK_ROOT points at it)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(ROOT / "migrations", root / "migrations")
    (root / "platform").write_text("#!/bin/sh\n")
    return root
