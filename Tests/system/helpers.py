"""Helpers for the system tests (fixtures live in conftest.py): a web API client per account, the
processes a push test needs, and asyncio clients for the push role's WebSocket and SSE endpoints
(docs/push-protocol.md) that record every version they receive, so a test can say which board lost
or repeated which versions.

Built on the `websockets` package (the version `./platform test` installs, see ensure_test_tools)."""

import asyncio
import email
import email.policy
import http.client
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException


PASSWORD = "a long and unusual passphrase"
DEFAULT_BASE_URL = "http://localhost:5000"  # web.base_url's default


# --- servers and processes ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def require_env(name):
    value = os.environ.get(name)
    if not value:
        raise AssertionError(f"{name} is not set: run the tests through `./platform test`, which starts PostgreSQL and Redis")
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


def redis_cli(url, *args, check=True):
    """A redis-cli command's reply as text; with check=False, None when it fails (a stopped server)."""
    r = subprocess.run(["redis-cli", "-u", url, *args], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        assert not check, f"redis-cli {' '.join(map(str, args))} failed: {r.stderr}"
        return None
    return r.stdout.strip()


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


def copy_root(tmp_path):
    """A copy of the installation's migrations, for tests that edit them (TACK_ROOT points at it)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(ROOT / "migrations", root / "migrations")
    (root / "platform").write_text("#!/bin/sh\n")
    return root


# --- the command line and the HTTP API --------------------------------------------------------------

def one_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line, got: {text!r}"
    return lines[0]


def create_user(tack, *args, password=PASSWORD):
    return subprocess.run([tack.binary, "create_user", *args, "--config", str(tack.config)], input=password + "\n",
                          capture_output=True, text=True, env=tack.env, timeout=60, cwd=tack.workdir)


def request(base, method, path, body=None, headers=None):
    """One API call: (status, headers, parsed JSON body) whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def token_headers(base, email, password=PASSWORD):
    """Logs in and makes a read-write API token: the Authorization header to use it."""
    status, headers, body = request(base, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200, body
    session = headers["Set-Cookie"].split(";", 1)[0]
    status, _, token = request(base, "POST", "/api/v1/me/tokens", {"name": "test", "scope": "read_write"},
                               headers={"Cookie": session, "X-CSRF-Token": body["csrf_token"]})
    assert status == 201, token
    return {"Authorization": "Bearer " + token["token"]}


def roles_of(report):
    """Role -> number of live processes, from `status --json`."""
    counts = {}
    for p in report["processes"]:
        counts[p["role"]] = counts.get(p["role"], 0) + 1
    return counts


# --- small things -------------------------------------------------------------------------------

def run(coro, timeout):
    """Runs an asyncio scenario from a synchronous test, bounded in time."""
    async def bounded():
        try:
            return await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the scenario did not finish within {timeout} s") from None
    return asyncio.run(bounded())


def wait_until(predicate, timeout=30, what="condition", on_timeout=lambda: "", interval=0.1):
    """Polls `predicate` until it returns something true, which is returned; `on_timeout` adds
    details to the failure."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{on_timeout()}")
        time.sleep(interval)


async def async_wait_until(predicate, timeout=30, what="condition", interval=0.05):
    """`wait_until` for asyncio scenarios: the event loop keeps reading sockets meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def origin_of(url):
    """scheme://host[:port] of a URL, as a browser sends it in `Origin`."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def ranges(numbers):
    """[1, 2, 3, 7, 9, 10] → '1-3, 7, 9-10' (at most 12 runs, then how many more)."""
    numbers = sorted(set(numbers))
    runs = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:12])
    if len(runs) > 12:
        text += f", … ({len(numbers)} in all)"
    return text


def metrics(port, host="127.0.0.1"):
    """A push process's /push/metrics as {name: value}, summing the samples of labelled series."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/push/metrics")
        response = conn.getresponse()
        text = response.read().decode()
        assert response.status == 200, f"/push/metrics answered {response.status}: {text[:300]}"
    finally:
        conn.close()
    values = defaultdict(float)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0].strip()
        try:
            values[name] += float(value)
        except ValueError:
            pass
    return dict(values)


# --- the web API --------------------------------------------------------------------------------

class ApiError(AssertionError):
    """An API answer other than the one expected; says which request got what."""


class User:
    """One account's side of the web API, with a session (cookie and CSRF token) or an API token.

    Each thread gets its own keep-alive connection, so writer threads can share one User."""

    def __init__(self, base, *, id=None, name=None, email=None, cookie=None, csrf=None, token=None, token_id=None):
        self.base = base.rstrip("/")
        self.id, self.name, self.email = id, name, email
        self.cookie, self.csrf = cookie, csrf
        self.token, self.token_id = token, token_id
        self._local = threading.local()

    def __repr__(self):
        return f"User({self.name!r} #{self.id}, {'token' if self.token else 'session'})"

    # Credentials

    @property
    def session(self):
        """The `tack_session=…` pair, for a Cookie header."""
        return self.cookie

    def auth_headers(self, write=False):
        if self.token:
            return {"Authorization": "Bearer " + self.token}
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if write and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers

    def with_token(self, scope="read", name="push tests"):
        """The same account authenticated by a new API token of `scope`."""
        token_id, secret = self.create_token(scope=scope, name=name)
        return User(self.base, id=self.id, name=self.name, email=self.email, token=secret, token_id=token_id)

    def new_session(self, password=PASSWORD):
        """Another session of the same account (logs in again)."""
        return login(self.base, self.email, password)

    # Requests

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            parts = urllib.parse.urlsplit(self.base)
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
            self._local.conn = conn
            self._local.used = False
        return conn

    def request(self, method, path, body=None, headers=None):
        """(status, decoded JSON or None, response headers). A stale keep-alive connection is
        reopened once; a fresh one that fails raises."""
        all_headers = self.auth_headers(write=method not in ("GET", "HEAD"))
        all_headers.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._connection()
            reused = self._local.used
            try:
                conn.request(method, path, body=data, headers=all_headers)
                response = conn.getresponse()
                raw = response.read()
                self._local.used = True
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self._local.conn = None
                break
            except Exception as error:
                conn.close()
                self._local.conn = None
                stale = isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                if not (stale and reused) or attempt == 2:
                    raise
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode(errors="replace")
        return response.status, decoded, response.headers

    def raw(self, method, path, data=None, headers=None, timeout=120):
        """(status, body bytes, response headers) of a request whose body is `data` as it is: bytes
        (sent with Content-Length), or an iterable of bytes (sent chunked, as it is produced). A new
        connection each time."""
        all_headers = self.auth_headers(write=method not in ("GET", "HEAD"))
        all_headers.update(headers or {})
        parts = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            chunked = data is not None and not isinstance(data, (bytes, bytearray))
            conn.request(method, path, body=data, headers=all_headers, encode_chunked=chunked)
            response = conn.getresponse()
            return response.status, response.read(), response.headers
        finally:
            conn.close()

    def upload(self, board, card, name, data, content_type="application/octet-stream", expect=201):
        """POST …/attachments?name= with the file's bytes as the body: (status, decoded JSON)."""
        path = f"/api/v1/boards/{board}/cards/{card}/attachments?name={urllib.parse.quote(name, safe='')}"
        status, raw, _ = self.raw("POST", path, data, {"Content-Type": content_type})
        decoded = json.loads(raw) if raw else None
        if expect is not None and status != expect:
            raise ApiError(f"{self!r}: upload of {name!r} answered {status}, expected {expect}: {decoded}")
        return status, decoded

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        """The decoded answer of a request that must succeed."""
        status, decoded, _ = self.request(method, path, body)
        if status not in ((expect,) if isinstance(expect, int) else expect):
            raise ApiError(f"{self!r}: {method} {path} {json.dumps(body)[:200] if body is not None else ''} "
                           f"answered {status}, expected {expect}: {decoded}")
        return decoded

    # Boards

    def create_board(self, name="Board"):
        return self.call("POST", "/api/v1/boards", {"name": name}, expect=201)["board"]["id"]

    def create_column(self, board, name="Todo"):
        return self.call("POST", f"/api/v1/boards/{board}/columns", {"name": name}, expect=201)["column"]["id"]

    def create_card(self, board, column, title, description=None):
        """{"card": …, "version": …}: the card and the board version its creation produced."""
        body = {"column_id": column, "title": title}
        if description is not None:
            body["description"] = description
        return self.call("POST", f"/api/v1/boards/{board}/cards", body, expect=201)

    def board_version(self, board):
        return self.call("GET", f"/api/v1/boards/{board}", expect=200)["board"]["version"]

    def add_member(self, board, email, role="member"):
        """Adds the account with `email`; returns the version the change produced."""
        return self.call("PUT", f"/api/v1/boards/{board}/members", {"email": email, "role": role}, expect=(200, 201))["version"]

    def remove_member(self, board, user_id):
        """Removes a member; returns the version of the removal event."""
        return self.call("DELETE", f"/api/v1/boards/{board}/members/{user_id}", expect=200)["version"]

    # Account

    def create_token(self, scope="read", name="push tests"):
        """(id, secret) of a new API token."""
        answer = self.call("POST", "/api/v1/me/tokens", {"name": name, "scope": scope}, expect=201)
        return answer["id"], answer["token"]

    def revoke_token(self, token_id):
        self.call("DELETE", f"/api/v1/me/tokens/{token_id}", expect=204)

    def logout(self):
        self.call("POST", "/api/v1/auth/logout", expect=204)


def _session_user(base, status, body, headers, what):
    if status not in (200, 201):
        raise ApiError(f"{what} answered {status}: {body}")
    cookie = headers["Set-Cookie"]
    assert cookie and cookie.startswith("tack_session="), f"{what} set no session cookie: {cookie!r}"
    user = body["user"]
    return User(base, id=user["id"], name=user["name"], email=user["email"],
                cookie=cookie.split(";", 1)[0], csrf=body["csrf_token"])


def signup(base, email, name, password=PASSWORD):
    """Creates an account through POST /api/v1/auth/signup; returns it signed in (cookie + CSRF)."""
    status, body, headers = User(base).request("POST", "/api/v1/auth/signup", {"email": email, "name": name, "password": password})
    return _session_user(base, status, body, headers, f"signup of {email}")


def login(base, email, password=PASSWORD):
    """A new session of an existing account."""
    status, body, headers = User(base).request("POST", "/api/v1/auth/login", {"email": email, "password": password})
    return _session_user(base, status, body, headers, f"login of {email}")


def shared_board(owner, *members, name="Shared"):
    """A board of `owner` with one column and `members` added; returns (board id, column id)."""
    board = owner.create_board(name)
    column = owner.create_column(board)
    for member in members:
        owner.add_member(board, member.email)
    return board, column


def write_cards(user, board, column, count, threads=4, title="Card", description=None, deadline=120):
    """Creates `count` cards with `threads` writer threads; returns the versions the writes produced."""
    versions = []
    lock = threading.Lock()
    errors = []
    counter = iter(range(count))
    stop_at = time.time() + deadline

    def writer():
        while time.time() < stop_at:
            with lock:
                n = next(counter, None)
            if n is None or errors:
                return
            try:
                answer = user.create_card(board, column, f"{title} {n}", description)
            except Exception as error:  # reported below, with the others
                errors.append(error)
                return
            with lock:
                versions.append(answer["version"])

    workers = [threading.Thread(target=writer, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=max(1, stop_at - time.time()) + 5)
    assert not errors, f"writing {count} cards failed: {errors[0]}"
    assert len(versions) == count, f"only {len(versions)} of {count} cards were written within {deadline} s"
    return sorted(versions)


# --- processes ----------------------------------------------------------------------------------

class Stack:
    """web (+ worker) + push processes of one Tack fixture, with web.base_url set to the web port's
    localhost address (so the cookie's Origin is known)."""

    def __init__(self, tack, pushes=1, worker=True, push_env=None, base_url=None):
        self.tack = tack
        tack.env["TACK_WEB_BASE_URL"] = base_url or f"http://localhost:{tack.env['TACK_WEB_PORT']}"
        self.origin = origin_of(tack.env["TACK_WEB_BASE_URL"])
        self.base = f"http://127.0.0.1:{tack.env['TACK_WEB_PORT']}"
        self.web = tack.start("run", "web")
        self.worker = tack.start("run", "worker") if worker else None
        self.pushes = []  # [(process, port)]
        for i in range(pushes):
            self.add_push(env=push_env)
        wait_http(self.base + "/healthz")

    def add_push(self, env=None, port=None):
        """Starts another `run push` (the first on TACK_PUSH_PORT, others on free ports); waits for it."""
        port = port or (int(self.tack.env["TACK_PUSH_PORT"]) if not self.pushes else free_port())
        merged = {"TACK_PUSH_PORT": str(port)}
        merged.update(env or {})
        proc = self.tack.start("run", "push", env=merged)
        self.pushes.append((proc, port))
        try:
            wait_http(f"http://127.0.0.1:{port}/push/healthz")
        except AssertionError:
            raise AssertionError(f"run push on port {port} did not answer /push/healthz:\n{self.tack.output(proc)[-3000:]}")
        return proc, port

    def ws_url(self, i=0):
        return f"ws://127.0.0.1:{self.pushes[i][1]}/push/ws"

    def push_port(self, i=0):
        return self.pushes[i][1]

    def push_log(self, i=0):
        return self.tack.output(self.pushes[i][0])[-4000:]

    def connect(self, user, i=0, **kwargs):
        """A PushSocket for `user` on push process `i`, with the credential it has (a session
        cookie goes with this site's Origin)."""
        if user.token:
            return PushSocket.connect(self.ws_url(i), token=user.token, label=kwargs.pop("label", repr(user)), **kwargs)
        return PushSocket.connect(self.ws_url(i), cookie=user.cookie, origin=self.origin, label=kwargs.pop("label", repr(user)), **kwargs)


class PrivateRedis:
    """A redis-server of the test's own, started with the flags `platform`'s start_redis uses (AOF
    on), so that a test can restart it: SHUTDOWN (which writes the AOF) and start again."""

    def __init__(self, directory, addresses=("127.0.0.1",)):
        """`addresses`: where it listens (another host of the test reaches it at the second)."""
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.addresses = list(addresses)
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args, check=True):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError(f"redis-cli {' '.join(args)}: {r.stderr}{r.stdout}")
        return r.stdout.strip()

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", *self.addresses, "--dir", str(self.dir),
                                      "--appendonly", "yes", "--save", "",
                                      # Another host of the test reaches it on a private link; no password there.
                                      "--protected-mode", "yes" if self.addresses == ["127.0.0.1"] else "no", "--logfile", str(self.dir / "redis.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: self.cli("PING", check=False) == "PONG", timeout=10, what=f"redis-server on port {self.port}")

    def restart(self, down_seconds=1.0):
        """A clean restart: SHUTDOWN, `down_seconds` without Redis, then the same server again."""
        self.cli("SHUTDOWN", check=False)
        self.proc.wait(timeout=15)
        time.sleep(down_seconds)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb as the postgres user, as `platform`'s
    start_postgres does), so that a test can restart it; `url` is its `tack` database. Its data
    lives in a folder of its own under /tmp (pytest's folders are closed to the postgres user)."""

    def __init__(self, addresses=("127.0.0.1",)):
        """`addresses`: where it listens and whom it trusts (each address's /24)."""
        self.addresses = list(addresses)
        self.bin = Path(require_env("TACK_TEST_PG_BIN"))
        self.dir = Path(tempfile.mkdtemp(prefix="tack-test-pg-", dir="/tmp"))
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.chmod(0o700)
        subprocess.run(self.as_postgres + [str(self.bin / "initdb"), "-D", str(self.dir), "-U", "tack", "--auth=trust",
                                           "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        with open(self.dir / "pg_hba.conf", "a") as hba:
            for address in self.addresses[1:]:
                hba.write(f"host all all {address.rsplit('.', 1)[0]}.0/24 trust\n")
        self.start()
        psql(f"postgres://tack@127.0.0.1:{self.port}/postgres", "CREATE DATABASE tack")

    @property
    def url(self):
        return f"postgres://tack@127.0.0.1:{self.port}/tack"

    def pg_ctl(self, *args):
        r = subprocess.run(self.as_postgres + [str(self.bin / "pg_ctl"), "-D", str(self.dir), *args], capture_output=True, text=True,
                           timeout=90)
        assert r.returncode == 0, f"pg_ctl {' '.join(args)}: {r.stderr}{r.stdout}"

    def start(self):
        self.pg_ctl("-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses={','.join(self.addresses)} -c fsync=off -c max_connections=200", "start")

    def restart(self):
        """A fast restart: every connection is cut, as when a server is replaced."""
        self.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
        self.start()

    def stop(self):
        if (self.dir / "postmaster.pid").exists():
            subprocess.run(self.as_postgres + [str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class Supervisor:
    """supervisord running the rendered supervisord.conf.example (as an operator installs it): every
    program of the `tack` group, with TACK_CONFIG and the environment given, logs under `directory`.
    `web_port_prefix` P makes the web programs listen on P*10 + process number."""

    def __init__(self, directory, config, env, web_port_prefix, web_processes=1):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        programs = (ROOT / "supervisord.conf.example").read_text()
        programs = programs.replace("{{PATH_TO_TACK_ROOT}}", str(ROOT)).replace("{{USER}}", os.environ.get("USER") or "root")
        assert "{{" not in programs, "every placeholder is documented and rendered"
        programs = programs.replace(f"{ROOT}/var/log", str(self.dir))
        programs = programs.replace(f'TACK_CONFIG="{ROOT}/config.yml"', f'TACK_CONFIG="{config}"')
        programs = programs.replace("web.port=50%(process_num)02d", f"web.port={web_port_prefix}%(process_num)d")
        programs = programs.replace("numprocs=1", f"numprocs={web_processes}", 1)
        if os.geteuid() != 0:
            programs = "\n".join(l for l in programs.splitlines() if not l.startswith("user="))
        (self.dir / "tack.conf").write_text(programs)
        sock = self.dir / "supervisor.sock"
        self.conf = self.dir / "supervisord.conf"
        self.conf.write_text(f"""
[unix_http_server]
file={sock}

[supervisord]
logfile={self.dir}/supervisord.log
pidfile={self.dir}/supervisord.pid
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sock}

[include]
files={self.dir}/tack.conf
""")
        env = dict(env)
        env.pop("TACK_WEB_PORT", None)  # the program's --set gives each web process its port
        self.proc = subprocess.Popen(["supervisord", "-c", str(self.conf)], env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ctl(self, *args, timeout=60):
        return subprocess.run(["supervisorctl", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


class Receiver:
    """An HTTP server that answers 500 to the first attempt of each delivery, then 200 (or always
    `status`, which a test may change)."""

    def __init__(self, status=None, host="127.0.0.1"):
        self.status = status
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    delivery = self.headers["X-Tack-Delivery"]
                    first = not any(r["headers"]["X-Tack-Delivery"] == delivery for r in receiver.requests)
                    answer = receiver.status or (500 if first else 200)
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "status": answer})
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Nginx:
    """nginx serving the site `tack gen_nginx` renders from nginx.conf.example (as an operator makes
    it), with its upstreams pointed at the given web and push ports."""

    def __init__(self, tmp_path, web_ports, push_ports, port=None, from_cluster=None):
        """`from_cluster` (a Tack) lists every live web and push process of its cluster instead."""
        self.port = port or free_port()
        tmp_path.mkdir(parents=True, exist_ok=True)
        site = tmp_path / "tack-site.conf"
        servers = [a for p in web_ports for a in ("--web", f"127.0.0.1:{p}")]
        servers += [a for p in push_ports for a in ("--push", f"127.0.0.1:{p}")]
        args = ["gen_nginx", str(site), "--server-name", "localhost", "--root", str(ROOT), "--listen", f"127.0.0.1:{self.port}"]
        if from_cluster:
            written = from_cluster(*args, "--from-cluster")
        else:
            written = subprocess.run([require_env("TACK_TEST_BINARY"), *args, *servers], capture_output=True, text=True, timeout=30)
        assert written.returncode == 0, written.stderr
        self.conf = tmp_path / "nginx.conf"
        # The workers read the checkout's public/ (the site serves /assets/ from disk) as the user
        # running the tests: a clone in a private temporary directory (mode 0700, as `mktemp -d`
        # makes) is not readable by nginx's default worker user.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        self.conf.write_text(f"""
{user}
worker_processes 1;
worker_rlimit_nofile 8192;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/tack-site.conf;
}}
""")
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([self.binary, "-t", "-c", str(self.conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf), "-g", "daemon off;"], start_new_session=True)
        wait_http(f"http://127.0.0.1:{self.port}/push/healthz")

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/push/ws"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


# --- what a client received ---------------------------------------------------------------------

class Versions:
    """Per board, the versions a client received, in arrival order, duplicates kept."""

    def __init__(self):
        self.by_board = defaultdict(list)

    def add(self, board, version):
        self.by_board[board].append(version)

    def of(self, board):
        return list(self.by_board.get(board, []))

    def last(self, board, default=None):
        seen = self.by_board.get(board)
        return max(seen) if seen else default

    def problems(self, board, first, last):
        """None when `board`'s versions are exactly first..last, each once, in order; otherwise
        what is wrong: missing, duplicated, unexpected and out-of-order versions."""
        got = self.by_board.get(board, [])
        expected = list(range(first, last + 1))
        if got == expected:
            return None
        counts = defaultdict(int)
        for v in got:
            counts[v] += 1
        wrong = []
        missing = [v for v in expected if counts[v] == 0]
        if missing:
            wrong.append(f"missing {ranges(missing)}")
        duplicated = {v: n for v, n in counts.items() if n > 1}
        if duplicated:
            wrong.append("duplicated " + ", ".join(f"{v} (×{n})" for v, n in sorted(duplicated.items())[:12]))
        unexpected = [v for v in counts if v < first or v > last]
        if unexpected:
            wrong.append(f"unexpected {ranges(unexpected)}")
        disorder = [(a, b) for a, b in zip(got, got[1:]) if b < a]
        if disorder:
            wrong.append("out of order: " + ", ".join(f"{b} after {a}" for a, b in disorder[:8]))
        return (f"board {board}: expected versions {first}..{last} once each in order, received {len(got)} "
                f"({ranges(got) if got else 'none'}): " + "; ".join(wrong))

    def assert_exactly(self, board, first, last, who="the client"):
        problem = self.problems(board, first, last)
        assert problem is None, f"{who}: {problem}"


def short(message, limit=300):
    """A message for a failure text, cut at `limit` characters."""
    text = message if isinstance(message, str) else repr(message) if isinstance(message, bytes) else json.dumps(message)
    return text if len(text) <= limit else text[:limit] + "…"


class HandshakeRefused(Exception):
    """The push endpoint answered the handshake with an HTTP status other than 101 (or 200 for SSE)."""

    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(f"handshake refused: HTTP {status} {body[:300]!r}")

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"the refusal's body is not JSON: HTTP {self.status} {self.body[:300]!r}") from None

    @property
    def code(self):
        return self.json["error"]["code"]

    @property
    def content_type(self):
        return self.headers.get("Content-Type") or self.headers.get("content-type") or ""


class Closed(AssertionError):
    """The connection closed while the test waited for a message."""

    def __init__(self, code, what):
        self.close_code = code
        super().__init__(what)


class Silence(AssertionError):
    """Nothing arrived within the time a test allowed."""


# --- the WebSocket client -----------------------------------------------------------------------

async def read_through(client, read, board, version, timeout):
    """Calls `read(seconds)` until `client.versions` holds `version` of `board`; fails naming what came."""
    deadline = time.monotonic() + timeout
    while (client.versions.last(board) or 0) < version:
        left = deadline - time.monotonic()
        if left <= 0:
            got = client.versions.of(board)
            raise AssertionError(f"{client.label}: board {board} reached version {client.versions.last(board)}, not {version}, "
                                 f"within {timeout} s; received {len(got)} events ({ranges(got) if got else 'none'})")
        try:
            await read(min(left, 1.0))
        except Silence:
            pass


class PushSocket:
    """One WebSocket to /push/ws. Every message received lands in `messages`, and every event's
    version in `versions`, whichever call read it."""

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.messages = []
        self.versions = Versions()
        self.events = []
        self._pending = []  # read but not yet returned by wait_for
        self.closed_with = None

    @classmethod
    async def connect(cls, url, cookie=None, origin=None, token=None, source_address=None, rcvbuf=None,
                      label="client", timeout=10, max_queue=16, headers=None):
        """Opens the socket or raises HandshakeRefused with the HTTP status and body. `rcvbuf`
        shrinks the kernel's receive buffer (for a client that stops reading); `source_address`
        binds to a local address such as 127.0.0.5."""
        extra = list((headers or {}).items())
        if cookie:
            extra.append(("Cookie", cookie))
        if token:
            extra.append(("Authorization", "Bearer " + token))
        kwargs = dict(additional_headers=extra, origin=origin, compression=None, open_timeout=timeout, ping_interval=None,
                      close_timeout=3, max_size=2 ** 23, max_queue=max_queue, proxy=None, user_agent_header=None)
        if rcvbuf or source_address:
            parts = urllib.parse.urlsplit(url)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if source_address:
                sock.bind((source_address, 0))
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port)), timeout)
            kwargs["sock"] = sock
        try:
            ws = await ws_connect(url, **kwargs)
        except InvalidStatus as refused:
            response = refused.response
            raise HandshakeRefused(response.status_code, response.body.decode(errors="replace"), response.headers) from None
        return cls(ws, label)

    @property
    def close_code(self):
        """The close code received, 1006 for a connection that dropped, None while open."""
        code = self.closed_with if self.closed_with is not None else self.ws.close_code
        return None if code is None else int(code)

    async def send(self, message):
        """A dict is sent as JSON text; a str as text as it is; bytes as a binary frame."""
        await self.ws.send(json.dumps(message) if isinstance(message, dict) else message)

    def _record(self, raw):
        assert isinstance(raw, str), f"{self.label}: the server sent a binary frame: {raw[:100]!r}"
        try:
            message = json.loads(raw)
        except ValueError:
            raise AssertionError(f"{self.label}: the server sent a frame that is not JSON: {raw[:300]!r}") from None
        assert isinstance(message, dict) and "type" in message, f"{self.label}: not a message object: {short(raw)}"
        self.messages.append(message)
        if message["type"] == "event":
            self.events.append(message)
            self.versions.add(message["board"], message["version"])
        return message

    async def recv(self, timeout=5.0):
        """The next message (already read ones first). Raises Closed if the connection closes and
        AssertionError after `timeout` seconds of silence."""
        if self._pending:
            return self._pending.pop(0)
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise Silence(f"{self.label}: nothing received within {timeout} s; the last messages were "
                                 f"{[short(m, 120) for m in self.messages[-5:]]}") from None
        except ConnectionClosed as closed:
            code = int(closed.rcvd.code) if closed.rcvd is not None else 1006
            reason = closed.rcvd.reason if closed.rcvd is not None else ""
            self.closed_with = code
            raise Closed(code, f"{self.label}: the connection closed (code {code}, reason {reason!r}); the last "
                               f"messages were {[short(m, 120) for m in self.messages[-5:]]}") from None
        return self._record(raw)

    async def wait_for(self, type, board=None, timeout=5.0, allow_errors=False, **fields):
        """The first message of `type` (for `board`, with `fields`), reading on past others (kept
        for later `recv`s). An `error` met on the way fails the test unless `allow_errors`."""
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.label}: no {type} message (board {board}, {fields}) within {timeout} s; "
                                         f"received meanwhile: {[short(m, 160) for m in skipped[-8:]]}")
                try:
                    message = await self.recv(left)
                except Silence:
                    raise AssertionError(f"{self.label}: no {type} message (board {board}, {fields}) within {timeout} s; "
                                         f"received meanwhile: {[short(m, 160) for m in skipped[-8:]]}") from None
                if (message["type"] == type and (board is None or message.get("board") == board)
                        and all(message.get(k) == v for k, v in fields.items())):
                    return message
                if message["type"] == "error" and type != "error" and not allow_errors:
                    raise AssertionError(f"{self.label}: waiting for {type} (board {board}), the server answered {short(message)}")
                skipped.append(message)
        finally:
            self._pending = skipped + self._pending

    async def subscribe(self, board, after=None, timeout=10.0):
        """Sends subscribe and returns the `subscribed` answer (fails on an error answer)."""
        message = {"type": "subscribe", "board": board}
        if after is not None:
            message["after"] = after
        await self.send(message)
        return await self.wait_for("subscribed", board=board, timeout=timeout)

    async def events_through(self, board, version, timeout=10.0):
        """Reads until an event of `board` with `version` (or later) has arrived."""
        await read_through(self, self.recv, board, version, timeout)

    async def quiet(self, seconds=1.0):
        """Reads whatever arrives during `seconds` (to catch what should not come); returns it."""
        got = list(self._pending)
        self._pending = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(await self.recv(left))
            except (Closed, Silence):
                break
        return got

    async def closed(self, timeout=10.0):
        """Reads until the server closes the connection; returns the close code (1006 when the TCP
        connection ended without a close frame). Fails if it stays open for `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.label}: the connection was still open after {timeout} s; the last messages were "
                                     f"{[short(m, 120) for m in self.messages[-5:]]}")
            try:
                await self.recv(left)
            except Closed as closed:
                return closed.close_code
            except Silence:
                continue

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:
            pass


async def assert_still_serves(stack, user, board, column, i=0, label="a fresh client"):
    """A new client of `user` on push process `i` subscribes to `board` and receives a card
    written now, with the next version: the process carries on serving after whatever went before."""
    sock = await stack.connect(user, i, label=label)
    try:
        version = (await sock.subscribe(board))["version"]
        written = await asyncio.to_thread(user.create_card, board, column, "still served")
        assert written["version"] == version + 1, f"nobody else writes to board {board}: {written['version']} after {version}"
        await sock.events_through(board, written["version"])
        event = sock.events[-1]
        assert event["kind"] == "card.created" and event["card"] == written["card"]["id"], short(event)
    finally:
        await sock.close()


class ResumingClient:
    """A client that does what docs/push-protocol.md asks of one, and records what it gets.

    It subscribes its boards with `after` (0: the whole history), and after any close or failed
    connection reconnects with jittered backoff to the next of `urls` (one nginx URL, or several
    push processes) and resubscribes each board with `after` = the highest version it has. It
    never drops a duplicate and never skips a gap: `versions` holds exactly what the server sent.
    `closes` holds (monotonic time, code) of each close; `problems` holds anything a correct
    server never sends to it (resync while the log holds the history, unsubscribed, errors,
    refused handshakes other than 5xx). An `unavailable` error (the server could not subscribe
    just then, e.g. while Redis restarts) is answered as the protocol asks: subscribe again
    shortly; `retries` counts them."""

    def __init__(self, urls, boards, *, cookie=None, origin=None, token=None, after=0, label="client", source_address=None):
        self.urls = list(urls)
        self.boards = list(boards)
        self.cookie, self.origin, self.token = cookie, origin, token
        self.start = {b: after for b in self.boards}
        self.label = label
        self.source_address = source_address
        self.versions = Versions()
        self.closes = []
        self.problems = []
        self.connections = 0
        self.retries = 0
        self.ready = 0  # connections on which every board's subscription was confirmed
        self.subscribed_once = asyncio.Event()
        self._stop = False
        self._sock = None
        self._index = 0

    def last(self, board):
        return self.versions.last(board, self.start[board])

    def caught_up(self, finals):
        return all(self.last(b) >= finals[b] for b in self.boards)

    async def run(self):
        attempt = 0
        while not self._stop:
            url = self.urls[self._index % len(self.urls)]
            try:
                self._sock = await PushSocket.connect(url, cookie=self.cookie, origin=self.origin, token=self.token,
                                                      label=self.label, source_address=self.source_address, timeout=5)
            except HandshakeRefused as refused:
                if refused.status < 500:
                    self.problems.append(f"{url} refused the handshake: HTTP {refused.status} {refused.body[:200]}")
                self._sock = None
            except (OSError, asyncio.TimeoutError, WebSocketException):
                self._sock = None
            if self._sock is None:
                self._index += 1
                attempt += 1
                await asyncio.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** attempt)))
                continue
            self.connections += 1
            try:
                await self._serve()
                attempt = 0
            finally:
                self.closes.append((time.monotonic(), self._sock.close_code))
                self._sock = None
            if not self._stop:
                self._index += 1
                await asyncio.sleep(random.uniform(0, 0.3))

    async def _serve(self):
        ws = self._sock.ws
        pending = set(self.boards)
        try:
            for board in self.boards:
                await ws.send(json.dumps({"type": "subscribe", "board": board, "after": self.last(board)}))
            async for raw in ws:
                try:
                    message = json.loads(raw)
                    kind = message.get("type")
                except (ValueError, TypeError, AttributeError):
                    self.problems.append(f"not a JSON message object: {raw[:200]!r}")
                    continue
                if kind == "event":
                    self.versions.add(message["board"], message["version"])
                elif kind == "subscribed":
                    if message["board"] in pending:
                        pending.discard(message["board"])
                        if not pending:
                            self.ready += 1
                            self.subscribed_once.set()
                elif kind == "presence":
                    pass
                elif kind == "error" and message.get("code") == "unavailable" and message.get("board") in pending:
                    self.retries += 1
                    asyncio.get_running_loop().call_later(random.uniform(0.2, 0.6), self._resubscribe, ws, message["board"])
                else:
                    self.problems.append(f"unexpected {short(message, 200)}")
                if self._stop:
                    break
        except (ConnectionClosed, OSError):
            pass

    def _resubscribe(self, ws, board):
        if not self._stop and self._sock is not None and self._sock.ws is ws:
            asyncio.ensure_future(self._send_quietly(ws, {"type": "subscribe", "board": board, "after": self.last(board)}))

    @staticmethod
    async def _send_quietly(ws, message):
        try:
            await ws.send(json.dumps(message))
        except ConnectionClosed:
            pass

    async def stop(self):
        self._stop = True
        if self._sock is not None:
            await self._sock.close()


def version_report(clients, finals):
    """Per client and board, what is wrong with the versions received (empty when nothing is)."""
    wrong = []
    for client in clients:
        for board in client.boards:
            problem = client.versions.problems(board, client.start[board] + 1, finals[board])
            if problem:
                wrong.append(f"{client.label}: {problem}")
        wrong += [f"{client.label}: {p}" for p in client.problems]
    return wrong


# --- server-sent events -------------------------------------------------------------------------

class SseStream:
    """One GET /push/sse, read by a background task into a queue of (id, message) pairs.
    `versions` records every event's version, `last_id` the newest `id:` line."""

    def __init__(self, reader, writer, status, headers, label):
        self.reader, self.writer = reader, writer
        self.status, self.headers = status, headers
        self.label = label
        self.queue = asyncio.Queue()
        self.versions = Versions()
        self.messages = []
        self.last_id = None
        self.pings = 0
        self.task = None

    @classmethod
    async def open(cls, host, port, boards, cookie=None, origin=None, token=None, last_event_id=None,
                   query_last_event_id=None, label="sse", timeout=10):
        """Opens the stream, or raises HandshakeRefused with the status and JSON body of a refusal."""
        query = [("board", str(b)) for b in boards]
        if query_last_event_id is not None:
            query.append(("last_event_id", query_last_event_id))
        lines = [f"GET /push/sse?{urllib.parse.urlencode(query)} HTTP/1.1", f"Host: {host}:{port}",
                 "Accept: text/event-stream", "Cache-Control: no-cache"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        if origin:
            lines.append(f"Origin: {origin}")
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status_line = (await asyncio.wait_for(reader.readline(), timeout)).decode()
        assert status_line.startswith("HTTP/1."), f"{label}: not an HTTP answer: {status_line!r}"
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = (await asyncio.wait_for(reader.readline(), timeout)).decode().rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        stream = cls(reader, writer, status, headers, label)
        if status != 200:
            try:
                body = await asyncio.wait_for(stream._body_bytes(), timeout)
            finally:
                writer.close()
            raise HandshakeRefused(status, body.decode(errors="replace"), headers)
        assert headers.get("content-type", "").startswith("text/event-stream"), f"{label}: content type {headers.get('content-type')!r}"
        stream.task = asyncio.get_running_loop().create_task(stream._read())
        return stream

    async def _body_bytes(self):
        """A refusal's whole body (Content-Length or chunked)."""
        if "content-length" in self.headers:
            return await self.reader.readexactly(int(self.headers["content-length"]))
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            async for chunk in self._chunks():
                body += chunk
            return body
        return await self.reader.read()

    async def _chunks(self):
        if self.headers.get("transfer-encoding", "").lower() != "chunked":
            while data := await self.reader.read(65536):
                yield data
            return
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            yield await self.reader.readexactly(size)
            await self.reader.readexactly(2)

    async def _read(self):
        buffer, event_id, data = "", None, []
        try:
            async for chunk in self._chunks():
                buffer += chunk.decode()
                while "\n" in buffer:
                    line, buffer = buffer.split("\n", 1)
                    line = line.rstrip("\r")
                    if line == "":
                        if data:
                            message = json.loads("\n".join(data))
                            self.messages.append(message)
                            if event_id is not None:
                                self.last_id = event_id
                            if message.get("type") == "event":
                                self.versions.add(message["board"], message["version"])
                            await self.queue.put((event_id, message))
                        event_id, data = None, []
                    elif line.startswith(":"):
                        self.pings += 1
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            await self.queue.put(None)

    async def next(self, timeout=5.0):
        """(id, message) of the next SSE message; AssertionError on silence or end of stream."""
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            raise Silence(f"{self.label}: no SSE message within {timeout} s; the last were "
                                 f"{[short(m, 120) for m in self.messages[-5:]]}") from None
        if item is None:
            await self.queue.put(None)
            raise AssertionError(f"{self.label}: the stream ended; the last messages were {[short(m, 120) for m in self.messages[-5:]]}")
        return item

    async def events_through(self, board, version, timeout=10.0):
        """Reads until an event of `board` with `version` (or later) has arrived."""
        await read_through(self, self.next, board, version, timeout)

    async def wait_for(self, type, board=None, timeout=5.0):
        """The first message of `type` (for `board`); the ones before it are recorded, not kept."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise Silence("")
                _, message = await self.next(left)
            except Silence:
                raise AssertionError(f"{self.label}: no {type} message (board {board}) within {timeout} s; received meanwhile: "
                                     f"{[short(m, 160) for m in skipped[-8:]]}") from None
            if message["type"] == type and (board is None or message.get("board") == board):
                return message
            skipped.append(message)

    async def quiet(self, seconds=1.0):
        """Reads whatever arrives during `seconds`; returns the (id, message) pairs."""
        deadline = time.monotonic() + seconds
        got = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(await self.next(left))
            except AssertionError:  # silence, or the end of the stream
                break
        return got

    async def close(self):
        if self.task:
            self.task.cancel()
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 3)
        except Exception:
            pass


def parse_vector(text):
    """'42:57,43:12' → {42: 57, 43: 12}."""
    vector = {}
    for part in (text or "").split(","):
        if part.strip():
            board, _, version = part.strip().partition(":")
            vector[int(board)] = int(version)
    return vector


# --- faults: writers, live clients, and what must hold afterwards ----------------------------------

class Writers:
    """Threads writing cards through nginx; every answer is counted under the phase it fell in."""

    def __init__(self, users, board, column):
        self.users, self.board, self.column = users, board, column
        self.phase = "start"
        self.ok = Counter()
        self.failed = defaultdict(list)
        self.acknowledged = []  # card ids the server answered 201 for
        self.acks = []  # (monotonic time, board version) of every 201
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(user,), daemon=True) for user in users]

    def start(self):
        for thread in self.threads:
            thread.start()

    def _write(self, user):
        n = 0
        while not self.stopping.is_set():
            n += 1
            phase = self.phase
            try:
                status, body, _ = user.request("POST", f"/api/v1/boards/{self.board}/cards",
                                               {"column_id": self.column, "title": f"{user.name} {n}"})
            except Exception as error:  # a refused or cut connection is a failed request too
                status, body = None, repr(error)
            with self.lock:
                if status == 201:
                    self.ok[phase] += 1
                    self.acknowledged.append(body["card"]["id"])
                    self.acks.append((time.monotonic(), body["version"]))
                else:
                    self.failed[phase].append(f"{status} {str(body)[:160]}")
            time.sleep(random.uniform(0.03, 0.08))

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def report(self):
        return "; ".join(f"{phase}: {self.ok[phase]} ok, {len(self.failed[phase])} failed" for phase in self.ok.keys() | self.failed.keys())


class Clients:
    """Live WebSocket clients on their own event loop thread (docs/push-protocol.md's resuming client)."""

    def __init__(self, clients):
        self.clients = clients
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks = [asyncio.run_coroutine_threadsafe(c.run(), self.loop) for c in clients]

    def stop(self):
        for client in self.clients:
            asyncio.run_coroutine_threadsafe(client.stop(), self.loop).result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=15)


def assert_nothing_lost(db_url, board, final, writers, live, receiver):
    """What every fault test promises afterwards: every acknowledged write is in PostgreSQL, every
    live client holds every version up to `final` exactly once, and every event reached the webhook
    receiver under exactly one delivery id (retries reuse it)."""
    acknowledged = set(writers.acknowledged)
    stored = set(int(i) for i in psql(db_url, f"SELECT id FROM cards WHERE board_id = {board}").split())
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged cards are not in PostgreSQL"

    wait_until(lambda: all(c.caught_up({board: final}) for c in live), 60, f"every tab to reach version {final}",
               on_timeout=lambda: str([(c.label, c.last(board), c.connections) for c in live]))
    wrong = version_report(live, {board: final})
    assert not wrong, "\n".join(wrong)

    def deliveries():
        by_version = defaultdict(set)
        with receiver.lock:
            for r in receiver.requests:
                by_version[json.loads(r["body"])["event"]["version"]].add(r["headers"]["X-Tack-Delivery"])
        return by_version
    webhook_from = int(psql(db_url, "SELECT min(event_version) FROM webhook_deliveries"))
    wait_until(lambda: set(range(webhook_from, final + 1)) <= deliveries().keys(), 90, "every event delivered",
               on_timeout=lambda: f"missing {sorted(set(range(webhook_from, final + 1)) - deliveries().keys())[:20]}")
    assert all(len(ids) == 1 for ids in deliveries().values()), "an event was delivered under two ids"


# --- a real SMTP server (aiosmtpd) -------------------------------------------------------------

SMTP_HANDLER = r'''
import json, sys, asyncio, os, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(sys.argv[2], f"{time.time_ns()}.json")
        with open(name, "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "data": envelope.content.decode("utf-8", "replace")}, f)
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
'''


def start_smtp(tmp_path):
    script = tmp_path / "smtp_handler.py"
    script.write_text(SMTP_HANDLER)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(outbox)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"aiosmtpd did not start (./platform test installs it): {line}{proc.stdout.read() if proc.poll() is not None else ''}"
    return proc, port, outbox


def read_mail(path):
    """(recipients, subject, text body) of a message the SMTP handler stored, transfer encoding undone."""
    stored = json.loads(path.read_text())
    message = email.message_from_string(stored["data"], policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    return stored["to"], str(message["Subject"]), (body or message).get_content()


def mails(outbox):
    """Every stored message, oldest first, as read_mail gives them."""
    return [read_mail(p) for p in sorted(outbox.glob("*.json"))]

