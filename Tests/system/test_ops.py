"""The example files at the root, exercised as an operator uses them: nginx loads the rendered site
and proxies to real tack processes; supervisord runs the rendered programs and stops them cleanly."""

import os
import random
import signal
import subprocess
import time
import urllib.request

from helpers import ROOT, free_port, free_port_run, one_line, wait_http
from helpers import Nginx, PushSocket, SseStream, Supervisor, Writers, run, signup


def test_nginx_example_passes_nginx_t_and_proxies_web_and_push(migrated, tmp_path):
    listen = free_port()
    # The site's address, as users type it: the session cookie's Origin must match it.
    migrated.env["TACK_WEB_BASE_URL"] = f"http://localhost:{listen}"
    web = migrated.start("run", "web")
    push = migrated.start("run", "push")
    # Renders the example, passes `nginx -t`, starts nginx and waits for /push/healthz through it.
    nginx = Nginx(tmp_path, [migrated.env["TACK_WEB_PORT"]], [migrated.env["TACK_PUSH_PORT"]], port=listen)
    try:
        wait_http(f"http://127.0.0.1:{listen}/healthz")
        health = urllib.request.urlopen(f"http://127.0.0.1:{listen}/healthz", timeout=2)
        pushed = urllib.request.urlopen(f"http://127.0.0.1:{listen}/push/healthz", timeout=2)
        assert health.status == 200 and b'"ok"' in health.read()
        assert pushed.status == 200 and pushed.read() == b"ok"
        run(live_updates_through_nginx(listen), 60)
        attachments_through_nginx(listen)
    finally:
        nginx.stop()
        for proc in (web, push):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


def attachments_through_nginx(listen):
    """An attachment above nginx's 10m body limit passes through the attachments location,
    streamed, and comes back whole; Tack's own limit (attachments.max_bytes, 25 MiB) still holds."""
    site = f"http://127.0.0.1:{listen}"
    ada = signup(site, "files@example.com", "File Tester")
    board = ada.create_board("Files behind nginx")
    card = ada.create_card(board, ada.create_column(board), "Big file")["card"]["id"]
    data = os.urandom(12 * 1024 * 1024)
    _, reply = ada.upload(board, card, "big.bin", data)
    status, body, _ = ada.raw("GET", reply["attachment"]["url"])
    assert status == 200 and body == data
    status, refused = ada.upload(board, card, "too-big.bin", (bytes(1024 * 1024) for _ in range(26)), expect=413)
    assert refused["error"]["code"] == "attachment_too_large", refused


async def live_updates_through_nginx(listen):
    """A WebSocket (upgraded through nginx) and an SSE stream (unbuffered) both receive a card
    written through nginx's /api/v1."""
    site = f"http://127.0.0.1:{listen}"
    ada = signup(site, "nginx@example.com", "Nginx Tester")
    board = ada.create_board("Behind nginx")
    column = ada.create_column(board)
    sock = await PushSocket.connect(f"ws://127.0.0.1:{listen}/push/ws", cookie=ada.cookie, origin=f"http://localhost:{listen}",
                                    label="WebSocket through nginx")
    stream = await SseStream.open("127.0.0.1", listen, [board], cookie=ada.cookie, label="SSE through nginx")
    try:
        version = (await sock.subscribe(board))["version"]
        await stream.wait_for("subscribed", board)
        written = ada.create_card(board, column, "Through nginx")
        assert written["version"] == version + 1
        await sock.events_through(board, written["version"])
        await stream.events_through(board, written["version"])
        sock.versions.assert_exactly(board, version + 1, written["version"], "the WebSocket through nginx")
        stream.versions.assert_exactly(board, version + 1, written["version"], "the SSE stream through nginx")
    finally:
        await sock.close()
        await stream.close()


def test_supervisord_example_runs_every_role_and_stops_them_cleanly(migrated, tmp_path):
    # web.port=<prefix>%(process_num)d gives ports prefix*10 and prefix*10+1: both must be free.
    prefix = free_port_run(2, candidates=[p * 10 for p in random.sample(range(1000, 3200), 200)]) // 10
    supervisor = Supervisor(tmp_path, migrated.config, migrated.env, prefix, web_processes=2)
    try:
        report = migrated.wait_for(
            lambda r: sorted(p["role"] for p in r["processes"]) == ["push", "scheduler", "web", "web", "worker", "worker"]
            and r.get("schedulerLeader"), timeout=60, what="every program of the example")
        ports = sorted(int(p["listen"].rsplit(":", 1)[1]) for p in report["processes"] if p["role"] == "web")
        assert ports == [prefix * 10, prefix * 10 + 1]
        for port in ports:
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
        _, code = migrated.status()
        assert code == 0

        # gen_nginx lists every live web and push process of the registry, and nginx accepts the site.
        site = tmp_path / "from-cluster.conf"
        migrated("gen_nginx", str(site), "--server-name", "tack.example.com", "--from-cluster", check=True)
        text = site.read_text()
        push_listen = next(p["listen"] for p in report["processes"] if p["role"] == "push")
        for address in [f"127.0.0.1:{port}" for port in ports] + [push_listen]:
            assert f"    server {address} max_fails=1 fail_timeout=2s;" in text, text
        assert text.count("    server ") == 3 and "{{" not in text and "server_name tack.example.com;" in text
        nginx_t(tmp_path, site)

        stop = supervisor.ctl("stop", "tack:*")
        assert stop.returncode == 0, stop.stdout + stop.stderr
        status = supervisor.ctl("status").stdout
        assert "STOPPED" in status and "EXITED" not in status and "FATAL" not in status, status
        report, _ = migrated.status()
        assert report["processes"] == []
        for log in tmp_path.glob("tack-*.log"):
            assert "left the cluster" in log.read_text(), log
    finally:
        supervisor.stop()


def test_the_launchers_production_path_only_execs_the_built_binary(tmp_path):
    """`./platform run ROLE` (what supervisord starts) and every operator command only exec the built
    binary: a missing or stale one stops them with exit 2 and one line naming `./platform build`, and
    nothing is built or installed on the way."""
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    called = tmp_path / "called"
    for tool in ["swift", "apt-get", "dpkg", "sudo", "pip", "pip3"]:
        path = fakes / tool
        path.write_text(f"#!/bin/sh\necho {tool} >> {called}\nexit 1\n")
        path.chmod(0o755)
    env = dict(os.environ, PATH=f"{fakes}:{os.environ['PATH']}")

    def launch(build_dir, *args):
        return subprocess.run([str(ROOT / "platform"), *args], capture_output=True, text=True, timeout=30,
                              env=dict(env, TACK_BUILD_DIR=str(build_dir)))

    missing = launch(tmp_path / "no-build", "run", "web")
    assert missing.returncode == 2, missing.stderr
    assert "not built" in one_line(missing.stderr) and "./platform build" in missing.stderr

    build = tmp_path / "stale-build"
    (build / "release").mkdir(parents=True)
    binary = build / "release" / "tack"
    binary.write_text("#!/bin/sh\necho \"ran $*\"\n")
    binary.chmod(0o755)
    os.utime(binary, (946684800, 946684800))  # 2000-01-01: older than every source file
    for args in [("run", "web"), ("run", "scheduler"), ("upgrade_db",), ("status",)]:
        stale = launch(build, *args)
        assert stale.returncode == 2, stale.stderr
        assert "older than the sources" in one_line(stale.stderr) and "./platform build" in stale.stderr

    binary.touch()
    fresh = launch(build, "run", "push")
    assert fresh.returncode == 0 and fresh.stdout == "ran run push\n", fresh.stdout + fresh.stderr
    assert not called.exists(), f"the production path ran {called.read_text()}"


def nginx_t(tmp_path, site):
    """`nginx -t` on a site file inside a minimal http block."""
    conf = tmp_path / "nginx-check.conf"
    conf.write_text(f"pid {tmp_path}/check.pid;\nerror_log {tmp_path}/check-error.log;\nevents {{}}\n"
                    f"http {{\n access_log off;\n include {site};\n}}\n")
    check = subprocess.run(["nginx", "-t", "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_gen_nginx_refuses_what_nginx_would_misread(binary, tmp_path):
    """Bad names, paths and addresses are named (exit 2) and nothing is written."""
    site = tmp_path / "site.conf"
    base = [binary, "gen_nginx", str(site), "--server-name", "tack.example.com"]
    good = ["--web", "10.0.0.1:5000", "--push", "10.0.0.1:4000"]
    for args, named in [(["--web", "10.0.0.1", "--push", "10.0.0.1:4000"], "--web 10.0.0.1"),
                        (["--web", "10.0.0.1:5000"], "--push"),
                        (["--root", "/srv/tack dir", *good], "--root"),
                        (["--listen", "80; evil", *good], "--listen")]:
        r = subprocess.run(base + args, capture_output=True, text=True)
        assert r.returncode == 2 and named in one_line(r.stderr), r.stderr
        assert not site.exists()
    r = subprocess.run([binary, "gen_nginx", str(site), "--server-name", "a b", *good], capture_output=True, text=True)
    assert r.returncode == 2 and "--server-name" in one_line(r.stderr)
    r = subprocess.run(base + good, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    nginx_t(tmp_path, site)
    r = subprocess.run(base + good, capture_output=True, text=True)
    assert r.returncode == 2 and "--force" in one_line(r.stderr)


def test_web_restarts_behind_nginx_fail_no_write(migrated, tmp_path):
    """Two web processes behind the example's nginx; one is stopped (SIGTERM) and started again,
    over and over, while six writers POST cards through nginx on kept-alive connections. Before it
    stops, the process drains (web.drain_seconds): it answers with `Connection: close` until nginx
    has closed every connection to it. Without that, nginx could send a POST on a connection the
    process was closing, and answer 502 without trying the other process."""
    listen = free_port()
    migrated.env["TACK_WEB_BASE_URL"] = f"http://localhost:{listen}"
    first = int(migrated.env["TACK_WEB_PORT"])
    web = migrated.start("run", "web")
    migrated.start("run", "web", env={"TACK_WEB_PORT": str(first + 1)})
    migrated.start("run", "push")
    for port in (first, first + 1):
        wait_http(f"http://127.0.0.1:{port}/readyz")
    nginx = Nginx(tmp_path, [first, first + 1], [migrated.env["TACK_PUSH_PORT"]], port=listen)
    try:
        ada = signup(nginx.base, "ada@example.com", "Ada")
        board = ada.create_board("Restarts")
        column = ada.create_column(board)
        writers = Writers([ada] * 6, board, column)
        writers.start()
        drains = []
        try:
            time.sleep(1.5)
            for _ in range(4):
                web.send_signal(signal.SIGTERM)
                started = time.monotonic()
                assert web.wait(timeout=15) == 0, migrated.output(web)[-2000:]
                drains.append(time.monotonic() - started)
                assert "draining: answering with Connection: close" in migrated.output(web), migrated.output(web)[-2000:]
                web = migrated.start("run", "web")
                wait_http(f"http://127.0.0.1:{first}/readyz")
                time.sleep(2.5)  # nginx's fail_timeout, as docs/operations.md asks between restarts
        finally:
            writers.stop()
        print(f"writes: {writers.report()}; seconds from SIGTERM to exit: {[round(d, 2) for d in drains]}")
        assert writers.ok["start"] > 100, writers.report()
        assert not writers.failed["start"], dict(writers.failed)
        # A drain waits for nginx to close its idle connections (keepalive_timeout 2s), not for the
        # whole web.drain_seconds bound.
        assert all(d < 3 + 2 for d in drains), drains
    finally:
        nginx.stop()
