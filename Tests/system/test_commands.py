"""The operator's commands as an operator runs them: gen_config, check_config, init_node, upgrade_db,
bad input, and the launcher's help."""

import os
import stat
import subprocess
import threading

from helpers import ROOT, copy_root, free_port, one_line, psql, redis_cli




def test_platform_help_lists_every_command():
    out = subprocess.run([str(ROOT / "platform"), "help"], capture_output=True, text=True, check=True).stdout
    for command in ["up", "test", "gen_config", "check_config", "init_node", "upgrade_db", "run ROLE", "status"]:
        assert command in out
    assert len(out.splitlines()) < 30, "help fits one screen"


def test_gen_config_writes_a_private_file_with_fresh_secrets_and_refuses_to_overwrite(binary, tmp_path):
    target = tmp_path / "config.yml"
    r = subprocess.run([binary, "gen_config", str(target)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    first = target.read_text()
    assert 'secret_key: "' in first and 'secret_key: ""' not in first

    r = subprocess.run([binary, "gen_config", str(target)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "already exists" in one_line(r.stderr) and "--force" in r.stderr
    assert target.read_text() == first, "a refused gen_config must not touch the file"

    r = subprocess.run([binary, "gen_config", "--force", str(target)], capture_output=True, text=True)
    assert r.returncode == 0
    assert target.read_text() != first, "--force writes fresh secrets"

    r = subprocess.run([binary, "check_config", str(target)], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert r.returncode == 0, r.stderr
    assert ": OK" in r.stdout


def test_the_config_example_is_loaded_by_the_binary(binary):
    env = {"PATH": os.environ["PATH"], "TACK_SECRET_KEY": "x" * 40}
    r = subprocess.run([binary, "check_config", str(ROOT / "config-prod.yml.example")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    # Without a secret the example is refused, naming the key.
    r = subprocess.run([binary, "check_config", str(ROOT / "config-prod.yml.example")], capture_output=True, text=True,
                       env={"PATH": os.environ["PATH"]})
    assert r.returncode == 2
    assert "secret_key" in one_line(r.stderr)


BAD_CONFIGS = [
    ("malformed YAML", "web:\n  port: [5000\n", "not valid YAML"),
    ("unknown key", "web:\n  prot: 5000\n", "web.prot"),
    ("wrong type", "web:\n  port: lots\n", "web.port"),
    ("missing secret", None, "secret_key"),
]


def test_bad_config_is_one_line_naming_the_key_exit_2_and_nothing_written(tack):
    secret_line = next(l for l in tack.config.read_text().splitlines() if l.startswith("secret_key:"))
    for what, body, needle in BAD_CONFIGS:
        text = (secret_line + "\n" + body) if body is not None else "web:\n  port: 5000\n"
        tack.config.write_text(text)
        for command in (["check_config"], ["upgrade_db"], ["run", "web"], ["init_node"], ["status"]):
            r = tack(*command)
            assert r.returncode == 2, f"{what} / {command}: exit {r.returncode} {r.stderr}"
            line = one_line(r.stderr)
            assert needle in line, f"{what} / {command}: {line}"
    # Nothing reached the database.
    assert psql(tack.db_url, "SELECT to_regclass('tack_schema_migrations') IS NULL") == "t"


def test_unreachable_servers_and_unknown_role_are_named(tack):
    dead = free_port()
    r = tack("upgrade_db", env={"TACK_DATABASE_URL": f"postgres://tack@127.0.0.1:{dead}/tack", "TACK_DATABASE_CONNECT_TIMEOUT": "2"})
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert f"PostgreSQL at 127.0.0.1:{dead}/tack" in line and "unreachable" in line, line

    r = tack("init_node", env={"TACK_REDIS_URL": f"redis://127.0.0.1:{dead}/0", "TACK_REDIS_CONNECT_TIMEOUT": "2"})
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert f"Redis at 127.0.0.1:{dead}/0" in line and "unreachable" in line, line

    r = tack("run", "conductor")
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "conductor" in line and "web, worker, scheduler, push" in line


def test_three_concurrent_upgrade_db_apply_the_schema_once(tack):
    results = [None] * 3

    def run(i):
        results[i] = tack("upgrade_db", env={"TACK_NODE_NAME": f"node-{i}"})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert r.returncode == 0, r.stderr
    appliers = [r for r in results if "applied 0001_core.sql" in r.stdout]
    assert len(appliers) == 1, [r.stdout for r in results]
    for r in results:
        if r not in appliers:
            assert "up to date" in r.stdout
    files = sorted(p.name for p in (ROOT / "migrations").glob("*.sql"))
    assert psql(tack.db_url, "SELECT count(*) FROM tack_schema_migrations") == str(len(files))
    assert psql(tack.db_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'boards'") == "1"

    status = tack("upgrade_db", "--status")
    assert status.returncode == 0
    assert "applied  0001_core.sql" in status.stdout and "0 pending" in status.stdout


def test_an_edited_applied_migration_is_refused_by_upgrade_db_and_run(tack, tmp_path):
    root = copy_root(tmp_path)
    env = {"TACK_ROOT": str(root)}
    assert tack("upgrade_db", env=env).returncode == 0
    path = root / "migrations" / "0001_core.sql"
    path.write_text(path.read_text() + "\n-- a later edit\n")
    for command in (["upgrade_db"], ["run", "web"]):
        r = tack(*command, env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        line = one_line(r.stderr)
        assert "0001_core.sql" in line and "edited" in line, line


def test_roles_refuse_to_start_while_migrations_are_pending(tack):
    for role in ("web", "worker", "scheduler", "push"):
        r = tack("run", role)
        assert r.returncode == 2, r.stderr
        assert "./platform upgrade_db" in one_line(r.stderr)
    r = tack("run")
    assert r.returncode == 2
    assert "./platform upgrade_db" in one_line(r.stderr)


def test_init_node_checks_servers_creates_directories_and_warns_without_aof(tack):
    r = tack("init_node")
    assert r.returncode == 0, r.stderr
    assert (tack.workdir / "storage").is_dir() and (tack.workdir / "log").is_dir()
    assert "postgresql" in r.stdout and "redis" in r.stdout and "pending" in r.stdout
    assert "./platform upgrade_db" in r.stdout
    assert "AOF is off" not in r.stdout
    redis_cli(tack.redis_url, "CONFIG", "SET", "appendonly", "no")
    try:
        r = tack("init_node")
        assert r.returncode == 0
        assert "warning: Redis persistence: AOF is off" in r.stdout
    finally:
        redis_cli(tack.redis_url, "CONFIG", "SET", "appendonly", "yes")


def test_gen_config_set_writes_the_given_values_into_the_commented_file(binary, tmp_path):
    """What `./platform up` does instead of editing YAML: --set values land in the file, which still
    documents every key and loads as written; a bad key or value is named and nothing is written."""
    target = tmp_path / "config.yml"
    r = subprocess.run([binary, "gen_config", str(target), "--set", "database.url=postgres://tack@127.0.0.1:6543/tack",
                        "--set", "node.name=node-a", "--set", "web.port=5123", "--set", "queues=webhooks:fast"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = target.read_text()
    assert 'url: "postgres://tack@127.0.0.1:6543/tack"' in text and 'name: "node-a"' in text and "port: 5123" in text
    assert "  webhooks: fast\n" in text and "  exports: low\n" in text, "a --set queue route, the others at their defaults"
    def comments(t):
        return [line for line in t.splitlines() if line.lstrip().startswith("#")]
    assert comments(text) == comments((ROOT / "config-prod.yml.example").read_text()), "still the commented file"
    r = subprocess.run([binary, "check_config", str(target)], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert r.returncode == 0 and ": OK" in r.stdout, r.stderr

    for bad, named in [("web.prot=1", "web.prot"), ("web.port=high", "web.port"), ("no-equals", "no-equals")]:
        other = tmp_path / f"bad-{named}.yml"
        r = subprocess.run([binary, "gen_config", str(other), "--set", bad], capture_output=True, text=True)
        assert r.returncode == 2 and named in one_line(r.stderr), r.stderr
        assert not other.exists()
