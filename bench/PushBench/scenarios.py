"""The scenarios of bench/push (run by it, with the servers it started). Prints a Markdown table and,
last, one summary line; exits 0 when every target passes, 1 when one fails, 2 when it cannot run."""

import argparse
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

PER_PROCESS = 3000
args = None


def log(*parts):
    print("bench/push:", *parts, file=sys.stderr, flush=True)


class Web:
    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        reply = self.call("POST", "/api/v1/auth/login", {"email": "bench@example.com", "password": "bench-password-0123"})
        self.csrf = reply["csrf_token"]
        self.cookie = next(c.value for c in self.jar if c.name == "tack_session")

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if getattr(self, "csrf", None):
            headers["X-CSRF-Token"] = self.csrf
        data = json.dumps(body).encode() if body is not None else None
        with self.opener.open(urllib.request.Request(self.base + path, data=data, method=method, headers=headers), timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def board(self, name):
        board = self.call("POST", "/api/v1/boards", {"name": name})["board"]["id"]
        column = self.call("POST", f"/api/v1/boards/{board}/columns", {"name": "Doing"})["column"]["id"]
        return board, column

    def version(self, board):
        return self.call("GET", f"/api/v1/boards/{board}")["board"]["version"]


class Redis:
    """Just enough RESP to publish events the way the web role does."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = self.sock.makefile("rb")

    def pipeline(self, commands):
        out = bytearray()
        for command in commands:
            out += b"*%d\r\n" % len(command)
            for part in command:
                part = part if isinstance(part, bytes) else str(part).encode()
                out += b"$%d\r\n%s\r\n" % (len(part), part)
        self.sock.sendall(out)
        for _ in commands:
            self.read()

    def read(self):
        line = self.reader.readline()
        kind = line[:1]
        if kind == b"$":
            n = int(line[1:])
            if n >= 0:
                self.reader.read(n + 2)
        elif kind == b"*":
            for _ in range(int(line[1:])):
                self.read()
        elif kind == b"-":
            raise RuntimeError(line.decode())

    def publish(self, board, version):
        now = time.time()
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % int(now % 1 * 1000)
        event = json.dumps({"board_id": board, "version": version, "kind": "bench.tick", "actor_id": None, "card_id": None,
                            "created_at": at, "payload": {"mark": "@@%d@@" % (time.time_ns() // 1000)}}, separators=(",", ":"))
        self.pipeline([["XADD", f"tack:{{board:{board}}}:history", "MAXLEN", "~", "1000", f"{version}-0", "e", event],
                       ["PUBLISH", f"tack:board:{board}", event]])


class Clients:
    """Client processes of bench/PushBench, `count` connections in all, from 127.0.0.<first>..."""

    def __init__(self, count, board, urls, first_source, web, after=None):
        self.procs, self.reports = [], []
        for i, start in enumerate(range(0, count, PER_PROCESS)):
            n = min(PER_PROCESS, count - start)
            command = [args.client, "--urls", ",".join(urls), "--source", f"127.0.0.{first_source + i}", "--count", str(n),
                       "--cookie", web.cookie, "--origin", args.origin, "--board", str(board), "--rate", "1500"]
            if after is not None:
                command += ["--after", str(after)]
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
            self.procs.append(proc)
            self.reports.append({})
            threading.Thread(target=self.follow, args=(i,), daemon=True).start()
        self.count = count

    def follow(self, i):
        for line in self.procs[i].stdout:
            try:
                self.reports[i] = json.loads(line)
            except ValueError:
                pass

    def total(self, key):
        return sum(r.get(key, 0) for r in self.reports)

    def min_last(self):
        values = [r.get("min_last", -1) for r in self.reports]
        return -1 if not values or -1 in values else min(values)

    def wait(self, predicate, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.reports) == len(self.procs) and all(self.reports) and predicate():
                return time.time()
            time.sleep(0.1)
        raise TimeoutError(f"{what}: not within {timeout} s; clients report {self.reports}")

    def latencies(self):
        samples = []
        for i, proc in enumerate(self.procs):
            path = f"{args.work}/lat-{id(self)}-{i}.txt"
            proc.stdin.write(f"dump {path}\n")
            proc.stdin.flush()
            for _ in range(100):
                if os.path.exists(path):
                    break
                time.sleep(0.05)
            time.sleep(0.1)
            with open(path) as f:
                samples += [int(x) / 1000 for x in f.read().split()]
        return sorted(samples)

    def stop(self):
        for proc in self.procs:
            try:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def percentile(values, p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/push/metrics", timeout=10).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))


def fanout(web, redis, subscribers, events, rate, source):
    """Publish `events` at `rate` per second to a board with `subscribers`; latencies in ms."""
    board, _ = web.board(f"fan-out {subscribers}")
    clients = Clients(subscribers, board, [f"127.0.0.1:{args.push_a}"], source, web)
    try:
        clients.wait(lambda: clients.total("subscribed") == subscribers, 120, f"{subscribers} subscribers")
        time.sleep(1)
        version = web.version(board)
        cpu = cpu_seconds(args.push_a_pid)
        for i in range(events):
            redis.publish(board, version + 1 + i)
            time.sleep(1 / rate)
        final = version + events
        clients.wait(lambda: clients.min_last() >= final, 60, f"every subscriber at version {final}")
        per_delivery = (cpu_seconds(args.push_a_pid) - cpu) / (events * subscribers) * 1e6
        samples = clients.latencies()
        problems = clients.total("gaps") + clients.total("duplicates")
        return samples, problems, board, clients, per_delivery
    except Exception:
        clients.stop()
        raise


def main():
    global args
    parser = argparse.ArgumentParser()
    for name in ("client", "web", "origin", "work"):
        parser.add_argument("--" + name, required=True)
    for name in ("push-a", "push-b", "push-a-pid", "push-b-pid", "redis-port", "idle"):
        parser.add_argument("--" + name, type=int, required=True)
    parser.add_argument("--only", default="abcdef", help="scenario letters to run")
    args = parser.parse_args()
    web = Web(args.web)
    redis = Redis(args.redis_port)
    rows, ok = [], True

    def row(what, figure, target, passed):
        nonlocal ok
        ok = ok and passed
        rows.append(f"| {what} | {figure} | {target} | {'PASS' if passed else 'FAIL'} |")

    if "b" in args.only:
        scenario_b(web, redis, row)
    if "c" in args.only or "d" in args.only:
        scenarios_cd(web, redis, row)
    if "e" in args.only:
        scenario_e(web, row)
    if "a" in args.only or "f" in args.only:
        scenarios_af(web, row)

    print("| scenario | measured | target | result |")
    print("|---|---|---|---|")
    for line in rows:
        print(line)
    print()
    passed = sum(1 for r in rows if r.endswith("PASS |"))
    print(f"bench/push: {passed} of {len(rows)} targets met" + ("" if ok else " (see bench/RESULTS.md)"))
    return 0 if ok else 1


def scenario_b(web, redis, row):
    """(b) 1,000 subscribers."""
    log("(b) 1,000 subscribers, 100 events at 10/s")
    samples, problems, _, clients, cost = fanout(web, redis, 1000, 100, 10, 2)
    clients.stop()
    p99 = percentile(samples, 99)
    row("(b) publish-to-receive, 1 board x 1,000 subscribers (100 events, 10/s)",
        f"p50 {percentile(samples, 50):.1f} ms, p99 {p99:.1f} ms ({len(samples)} samples, {problems} gaps+duplicates; "
        f"push CPU {cost:.1f} µs per delivery)",
        "p99 <= 25 ms", p99 <= 25 and problems == 0)


def scenarios_cd(web, redis, row):
    """(c) and (d): 10,000 subscribers."""
    log("(c) 10,000 subscribers, 30 events at 2/s")
    samples, problems, board, clients, cost = fanout(web, redis, 10000, 30, 2, 3)
    p99 = percentile(samples, 99)
    row("(c) publish-to-receive, 1 board x 10,000 subscribers (30 events, 2/s)",
        f"p50 {percentile(samples, 50):.1f} ms, p99 {p99:.1f} ms ({len(samples)} samples, {problems} gaps+duplicates; "
        f"push CPU {cost:.1f} µs per delivery)",
        "p99 <= 150 ms", p99 <= 150 and problems == 0)
    if "d" not in args.only:
        clients.stop()
        return
    log("(d) a burst of 100 events to the 10,000")
    try:
        start_version = clients.min_last()
        before = metric(args.push_a, "tack_push_deliveries_total")
        cpu = cpu_seconds(args.push_a_pid)
        started = time.time()
        for i in range(100):
            redis.publish(board, start_version + 1 + i)
        final = start_version + 100
        done = clients.wait(lambda: clients.min_last() >= final, 120, f"every subscriber at version {final}")
        delivered = metric(args.push_a, "tack_push_deliveries_total") - before
        cost = (cpu_seconds(args.push_a_pid) - cpu) / max(1, delivered) * 1e6
        rate = delivered / (done - started)
        problems = clients.total("gaps") + clients.total("duplicates")
        row("(d) deliveries per second, one push process (burst of 100 events x 10,000 subscribers)",
            f"{rate:,.0f}/s ({delivered:,.0f} in {done - started:.2f} s, {problems} gaps+duplicates; push CPU {cost:.1f} µs per delivery)",
            ">= 60,000/s",
            rate >= 60000 and problems == 0)
    finally:
        clients.stop()


def scenario_e(web, row):
    """(e) a card written through the web API."""
    log("(e) 1,000 subscribers, 100 cards through the web API at 10/s")
    board, column = web.board("web writes")
    clients = Clients(1000, board, [f"127.0.0.1:{args.push_a}"], 7, web)
    try:
        clients.wait(lambda: clients.total("subscribed") == 1000, 60, "1,000 subscribers")
        time.sleep(1)
        for _ in range(100):
            web.call("POST", f"/api/v1/boards/{board}/cards", {"column_id": column, "title": "bench @@%d@@" % (time.time_ns() // 1000)})
            time.sleep(0.1)
        final = web.version(board)
        clients.wait(lambda: clients.min_last() >= final, 60, f"every subscriber at version {final}")
        samples = clients.latencies()
        problems = clients.total("gaps") + clients.total("duplicates")
    finally:
        clients.stop()
    p99 = percentile(samples, 99)
    row("(e) web API write to receive, 1,000 subscribers (100 cards, 10/s)",
        f"p50 {percentile(samples, 50):.1f} ms, p99 {p99:.1f} ms ({len(samples)} samples, {problems} gaps+duplicates)",
        "p99 <= 50 ms", p99 <= 50 and problems == 0)


def scenarios_af(web, row):
    """(a) idle connections, then (f) failover."""
    # (a) idle connections on the second push process (fresh: nothing freed by earlier scenarios
    # is reused), then (f) kill -9 of it; the clients fail over to the first.
    log(f"(a) {args.idle} idle connections on one push process")
    board, column = web.board("idle and failover")
    # Warm-up: 1,000 connections come and go first, so the baseline already holds what any number
    # of connections shares (grown database and Redis pools, the board's subscription and cache).
    warm = Clients(1000, board, [f"127.0.0.1:{args.push_b}"], 9, web)
    warm.wait(lambda: warm.total("subscribed") == 1000, 60, "1,000 warm-up connections")
    warm.stop()
    time.sleep(3)
    before = rss_kib(args.push_b_pid)
    clients = Clients(args.idle, board, [f"127.0.0.1:{args.push_b}", f"127.0.0.1:{args.push_a}"], 10, web, after=web.version(board))
    try:
        clients.wait(lambda: clients.total("subscribed") == args.idle and clients.total("connected") == args.idle, 180,
                     f"{args.idle} subscribed connections")
        time.sleep(5)
        after = rss_kib(args.push_b_pid)
        per = (after - before) / args.idle
        row("(a) idle authenticated WebSockets on one push process, each subscribed to a board",
            f"{args.idle:,} connected; RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB = {per:.2f} KiB each",
            ">= 18,000 at <= 8 KiB each", args.idle >= 18000 and per <= 8)

        log(f"(f) kill -9 of the push process holding the {args.idle} while cards are written")
        stop, written = threading.Event(), []

        def writer():
            while not stop.is_set():
                web.call("POST", f"/api/v1/boards/{board}/cards", {"column_id": column, "title": "during failover"})
                written.append(1)
                time.sleep(0.02)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(3)
        killed = time.time()
        os.kill(args.push_b_pid, signal.SIGKILL)
        time.sleep(3)
        stop.set()
        thread.join(30)
        final = web.version(board)
        done = clients.wait(lambda: clients.min_last() >= final and clients.total("connected") == args.idle, 120,
                            f"all {args.idle} caught up to {final} on the second process")
        gaps, dups = clients.total("gaps"), clients.total("duplicates")
        took = done - killed
        row(f"(f) kill -9 of the process holding {args.idle:,} clients, {len(written)} cards written around it",
            f"all reconnected to the second process and caught up in {took:.1f} s; {gaps} gaps, {dups} duplicates",
            "<= 30 s, 0 gaps", took <= 30 and gaps == 0 and dups == 0)
    finally:
        clients.stop()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:
        log(f"could not run: {error}")
        sys.exit(2)
