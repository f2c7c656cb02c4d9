"""The example files at the root, exercised as an operator uses them: nginx loads the rendered site
and proxies to real tack processes; supervisord runs the rendered programs and stops them cleanly."""

import os
import random
import signal
import subprocess
import urllib.request

from helpers import ROOT, free_port, free_port_run, one_line, wait_http
from helpers import Nginx, PushSocket, SseStream, run, signup


def render(text, **values):
    for key, value in values.items():
        text = text.replace("{{%s}}" % key, value)
    assert "{{" not in text, "every placeholder is documented and rendered"
    return text


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
    finally:
        nginx.stop()
        for proc in (web, push):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0


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
    programs = render((ROOT / "supervisord.conf.example").read_text(), PATH_TO_TACK_ROOT=str(ROOT), USER=os.environ.get("USER") or "root")
    programs = programs.replace(f"{ROOT}/var/log", str(tmp_path))
    programs = programs.replace(f'TACK_CONFIG="{ROOT}/config.yml"', f'TACK_CONFIG="{migrated.config}"')
    programs = programs.replace("web.port=50%(process_num)02d", f"web.port={prefix}%(process_num)d")
    programs = programs.replace("numprocs=1", "numprocs=2", 1)
    if os.geteuid() != 0:
        programs = "\n".join(l for l in programs.splitlines() if not l.startswith("user="))
    (tmp_path / "tack.conf").write_text(programs)
    sock = tmp_path / "supervisor.sock"
    main = f"""
[unix_http_server]
file={sock}

[supervisord]
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{sock}

[include]
files={tmp_path}/tack.conf
"""
    (tmp_path / "supervisord.conf").write_text(main)
    env = dict(migrated.env)
    env.pop("TACK_WEB_PORT")
    supervisord = subprocess.Popen(["supervisord", "-c", str(tmp_path / "supervisord.conf")], env=env)
    ctl = ["supervisorctl", "-c", str(tmp_path / "supervisord.conf")]
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

        stop = subprocess.run(ctl + ["stop", "tack:*"], capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        status = subprocess.run(ctl + ["status"], capture_output=True, text=True).stdout
        assert "STOPPED" in status and "EXITED" not in status and "FATAL" not in status, status
        report, _ = migrated.status()
        assert report["processes"] == []
        for log in tmp_path.glob("tack-*.log"):
            assert "left the cluster" in log.read_text(), log
    finally:
        supervisord.send_signal(signal.SIGTERM)
        supervisord.wait(timeout=30)


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
