"""The scheduler role with real processes: every cron tick runs exactly once while leaders are
killed, stopped, frozen, and while Redis restarts; due-date reminders go out once per card and due
date across failovers; the cron table is validated by check_config; status shows each job."""

import os
import random
import signal
import subprocess
import time

import pytest

from helpers import Tack, free_port, psql, redis_cli

TTL = 3.0  # TACK_SCHEDULER_LEASE_TTL set by conftest's Tack
PROBE = {"TACK_SCHEDULER_JOBS": "probe: @every 1s"}




def leader(tack):
    value = redis_cli(tack.redis_url, "GET", "tack:{scheduler}:leader", check=False)
    return value or None


def pid_of(owner):
    return int(owner.split("#")[0].rsplit("/", 1)[1])


def wait_leader(tack, other_than=None, timeout=15.0):
    """Polls the lease every 20 ms; returns (owner, seconds waited)."""
    start = time.time()
    while time.time() - start < timeout:
        owner = leader(tack)
        if owner and owner != other_than:
            return owner, time.time() - start
        time.sleep(0.02)
    raise AssertionError(f"no new scheduler leader within {timeout} s")


def start_schedulers(tack, count, env=PROBE):
    procs = {}
    for i in range(count):
        p = tack.start("run", "scheduler", env={**env, "TACK_NODE_NAME": f"node-{i}"})
        procs[p.pid] = p
    return procs


def cron_rows(tack, since_ms=0):
    out = psql(tack.db_url, f"""
        SELECT (extract(epoch FROM scheduled_for) * 1000)::BIGINT, duplicate_deliveries, coalesce(enqueued_by, '')
        FROM cron_runs WHERE job = 'probe' AND scheduled_for >= to_timestamp({since_ms} / 1000.0)
        ORDER BY scheduled_for""")
    rows = []
    for line in out.splitlines():
        if line:
            ms, dup, by = line.split("|", 2)
            rows.append((int(ms), int(dup), by))
    return rows


def wait_ticks_through(tack, until_ms, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = cron_rows(tack)
        if rows and rows[-1][0] >= until_ms:
            return rows
        time.sleep(0.3)
    raise AssertionError(f"ticks up to {until_ms} did not all run; last: {cron_rows(tack)[-3:]}")


def assert_every_tick_once(rows, first_ms, last_ms):
    ticks = [ms for ms, _, _ in rows if first_ms <= ms <= last_ms]
    expected = list(range(first_ms, last_ms + 1, 1000))
    missing = sorted(set(expected) - set(ticks))
    assert not missing, f"{len(missing)} tick(s) never ran, e.g. {missing[:5]}"
    dups = [(ms, d) for ms, d, _ in rows if d]
    assert not dups, f"ticks enqueued more than once: {dups[:5]}"
    assert len(ticks) == len(expected)


@pytest.fixture
def cluster(migrated):
    """A worker for the ticks; schedulers are started by each test."""
    migrated.start("run", "worker", env=PROBE)
    return migrated


def test_kill_9_of_the_leader_again_and_again_runs_every_tick_exactly_once(cluster):
    schedulers = start_schedulers(cluster, 3)
    owner, _ = wait_leader(cluster)
    first = wait_ticks_through(cluster, 0)[0][0]
    takeovers = []
    end = time.time() + float(os.environ.get("TACK_TEST_FAILOVER_SECONDS", "100"))
    n = 0
    while time.time() < end:
        time.sleep(random.uniform(2.0, 5.0))
        pid = pid_of(owner)
        victim = schedulers.pop(pid)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        owner, waited = wait_leader(cluster, other_than=owner)
        takeovers.append(waited)
        n += 1
        replacement = cluster.start("run", "scheduler", env={**PROBE, "TACK_NODE_NAME": f"node-r{n}"})
        schedulers[replacement.pid] = replacement
    stop_ms = int(time.time() * 1000) // 1000 * 1000 - 1000
    rows = wait_ticks_through(cluster, stop_ms)
    assert_every_tick_once(rows, first, stop_ms)
    assert len(takeovers) >= 10, takeovers
    assert max(takeovers) < TTL + 1.0, f"takeovers (s): {takeovers}"
    owners = {by for _, _, by in rows}
    assert len(owners) >= len(takeovers), "each leader enqueued its own ticks"


def test_sigterm_hands_over_within_two_seconds_and_no_tick_is_lost(cluster):
    schedulers = start_schedulers(cluster, 2)
    owner, _ = wait_leader(cluster)
    first = wait_ticks_through(cluster, 0)[0][0]
    for _ in range(3):
        time.sleep(2)
        victim = schedulers.pop(pid_of(owner))
        stopped = time.time()
        victim.send_signal(signal.SIGTERM)
        owner, _ = wait_leader(cluster, other_than=owner)
        assert time.time() - stopped < 2.0
        assert victim.wait(timeout=10) == 0
        assert "released the scheduler lease" in cluster.output(victim)
        again = cluster.start("run", "scheduler", env=PROBE)
        schedulers[again.pid] = again
    stop_ms = int(time.time() * 1000) // 1000 * 1000 - 1000
    assert_every_tick_once(wait_ticks_through(cluster, stop_ms), first, stop_ms)


def test_a_frozen_leader_stands_down_after_sigcont_without_enqueuing(cluster):
    schedulers = start_schedulers(cluster, 2)
    owner, _ = wait_leader(cluster)
    first = wait_ticks_through(cluster, 0)[0][0]
    time.sleep(2)
    frozen = schedulers[pid_of(owner)]
    os.killpg(frozen.pid, signal.SIGSTOP)
    frozen_at = int(time.time() * 1000)
    new_owner, waited = wait_leader(cluster, other_than=owner)
    assert waited < TTL + 1.0
    time.sleep(TTL)   # well past its lease
    os.killpg(frozen.pid, signal.SIGCONT)
    time.sleep(4)
    assert leader(cluster) == new_owner, "the thawed process did not take the lease back"
    stop_ms = int(time.time() * 1000) // 1000 * 1000 - 1000
    rows = wait_ticks_through(cluster, stop_ms)
    assert_every_tick_once(rows, first, stop_ms)
    late = [ms for ms, _, by in rows if by == owner and ms > frozen_at + 1000]
    assert not late, f"the frozen leader enqueued ticks after it was frozen: {late[:5]}"
    out = cluster.output(frozen)
    assert "lost the scheduler lease" in out or "renew deadline" in out, out[-3000:]


def test_redis_restart_mid_run_still_runs_each_tick_once(binary, tmp_path, fresh_db):
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()

    def start_redis():
        return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
                                 "--dir", str(data), "--save", ""], stdout=subprocess.DEVNULL, start_new_session=True)

    server = start_redis()
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_cli(url, "PING", check=False) == "PONG":
            break
        time.sleep(0.05)
    tack = Tack(binary, tmp_path, fresh_db, url)
    try:
        tack("upgrade_db", check=True)
        tack.start("run", "worker", env=PROBE)
        start_schedulers(tack, 3)
        wait_leader(tack)
        first = wait_ticks_through(tack, 0)[0][0]
        time.sleep(4)
        os.killpg(server.pid, signal.SIGKILL)   # a crash: AOF fsyncs once a second, so recent claims may be lost
        server.wait()
        time.sleep(2)
        server = start_redis()
        time.sleep(8)
        stop_ms = int(time.time() * 1000) // 1000 * 1000 - 1000
        rows = wait_ticks_through(tack, stop_ms, timeout=40)
        ticks = [ms for ms, _, _ in rows if first <= ms <= stop_ms]
        missing = sorted(set(range(first, stop_ms + 1, 1000)) - set(ticks))
        assert not missing, f"ticks never ran: {missing[:10]}"
        # cron_runs' key makes each tick one row; a re-enqueued tick is counted, never run again.
        assert len(ticks) == len(set(ticks))
    finally:
        tack.stop_all()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


SEED = """
INSERT INTO users (email, name, password_hash) VALUES ('ann@example.com', 'Ann', 'x'), ('bob@example.com', 'Bob', 'x'),
    ('cid@example.com', 'Cid', 'x');
INSERT INTO boards (name, created_by) SELECT 'Reminders', id FROM users WHERE email = 'ann@example.com';
INSERT INTO board_members (board_id, user_id, role) SELECT b.id, u.id, 'member' FROM boards b, users u;
INSERT INTO columns (board_id, name, position) SELECT id, 'Todo', 'a' FROM boards;
"""


def add_card(tack, title, due_sql, assignees=(), done=False):
    card = psql(tack.db_url, f"""
        INSERT INTO cards (board_id, column_id, title, position, due_at, done, created_by)
        SELECT c.board_id, c.id, '{title}', '{title}', {due_sql}, {str(done).lower()},
               (SELECT id FROM users WHERE email = 'ann@example.com')
        FROM columns c LIMIT 1 RETURNING id""").splitlines()[0]
    for who in assignees:
        psql(tack.db_url, f"INSERT INTO card_assignees (card_id, user_id) SELECT {card}, id FROM users WHERE email = '{who}@example.com'")
    return int(card)


def test_due_reminders_go_out_once_per_card_and_due_date_across_failovers(migrated):
    env = {"TACK_SCHEDULER_JOBS": "reminders: @every 1s", "TACK_SCHEDULER_REMINDER_LEAD_TIME": "3600"}
    psql(migrated.db_url, SEED)
    migrated.start("run", "worker", env=env)
    migrated.start("run", "worker", env=env)
    schedulers = start_schedulers(migrated, 3, env=env)
    owner, _ = wait_leader(migrated)
    soon = "now() + interval '20 minutes'"
    cards = {
        "assigned": add_card(migrated, "assigned", soon, assignees=("bob", "cid")),
        "unassigned": add_card(migrated, "unassigned", soon),
        "later": add_card(migrated, "later", "now() + interval '3 hours'", assignees=("bob",)),
        "done": add_card(migrated, "done", soon, assignees=("bob",), done=True),
        "moving": add_card(migrated, "moving", "date_trunc('second', now()) + interval '30 minutes'", assignees=("bob",)),
    }
    moving_due = psql(migrated.db_url, f"SELECT due_at FROM cards WHERE id = {cards['moving']}")
    for step in range(6):
        time.sleep(2)
        if step == 1:
            psql(migrated.db_url, f"UPDATE cards SET due_at = due_at + interval '5 minutes' WHERE id = {cards['moving']}")
        if step == 3:
            psql(migrated.db_url, f"UPDATE cards SET due_at = '{moving_due}' WHERE id = {cards['moving']}")
        if step % 2 == 0:   # kill the leader now and then; a standby takes over and keeps reminding
            victim = schedulers.pop(pid_of(owner))
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            owner, _ = wait_leader(migrated, other_than=owner)
            again = migrated.start("run", "scheduler", env=env)
            schedulers[again.pid] = again
    time.sleep(3)

    def notified(card):
        return psql(migrated.db_url, f"""SELECT coalesce(string_agg(u.name, ',' ORDER BY u.name), '') FROM notifications n
            JOIN users u ON u.id = n.user_id WHERE n.kind = 'due_soon' AND n.card_id = {card}""")

    assert notified(cards["assigned"]) == "Bob,Cid", "each assignee once"
    assert notified(cards["unassigned"]) == "Ann", "the creator when nobody is assigned"
    assert notified(cards["later"]) == "", "not yet within the lead time"
    assert notified(cards["done"]) == "", "done cards are not reminded"
    assert notified(cards["moving"]) == "Bob,Bob", "one per due date, and none again when the date comes back"
    assert psql(migrated.db_url, f"SELECT count(*) FROM card_reminders WHERE card_id = {cards['moving']}") == "2"
    assert psql(migrated.db_url, "SELECT coalesce(sum(duplicate_deliveries), 0) FROM cron_runs") == "0"


def test_exit_if_active_names_the_leader(migrated):
    first = migrated.start("run", "scheduler")
    owner, _ = wait_leader(migrated)
    second = migrated("run", "scheduler", "--exit-if-active", timeout=30)
    assert second.returncode == 2
    assert "another scheduler is active: " + owner.split("#")[0] in second.stderr + second.stdout
    assert first.poll() is None


def test_status_shows_each_jobs_last_and_next_run(cluster):
    start_schedulers(cluster, 1)
    wait_leader(cluster)
    wait_ticks_through(cluster, int(time.time() * 1000))
    report, _ = cluster.status()
    jobs = {j["name"]: j for j in report["cronJobs"]}
    # status reads this node's config (probe is off there, on in the running processes' env)
    assert set(jobs) == {"reminders", "purge_sessions", "prune", "board_snapshots", "probe"}
    assert jobs["prune"]["schedule"] == "30 3 * * *" and jobs["prune"]["nextRun"]
    assert jobs["probe"]["lastRun"] and jobs["probe"]["lastEnqueuedBy"] == leader(cluster)
    text = cluster("status", env=PROBE).stdout
    assert "probe" in text and "@every 1s" in text and "NEXT RUN" in text, text


@pytest.mark.parametrize("entry,subject,words", [
    ('reminders: "61 * * * *"', "scheduler.jobs.reminders", "minute: 61 is out of range 0-59"),
    ('nightly_report: "@daily"', "scheduler.jobs.nightly_report", "unknown job"),
])
def test_check_config_names_a_bad_cron_job(tack, entry, subject, words):
    text = tack.config.read_text()
    assert "\n  jobs: {}\n" in text
    tack.config.write_text(text.replace("\n  jobs: {}\n", f"\n  jobs:\n    {entry}\n"))
    r = tack("check_config")
    assert r.returncode == 2, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert subject in out and words in out and str(tack.config) in out, out
