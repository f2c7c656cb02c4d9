"""The job queue end to end with real worker processes: a worker killed with SIGKILL mid-run loses
no job (its jobs in flight are claimed back after the visibility timeout and run again); a poison
job ends in the dead-letter stream with its error, an operator retries and purges it; `jobs probe`
tells whether a worker consumes the queue; the no-op jobs bench/jobs enqueues run."""

import json
import os
import re
import signal

from helpers import psql, redis_cli, wait_until

# Short timings so a claimed-back job or a retry happens within seconds.
FAST = {
    "TACK_WORKER_VISIBILITY_TIMEOUT": "2",
    "TACK_WORKER_MAX_ATTEMPTS": "3",
    "TACK_WORKER_RETRY_BASE_DELAY": "0.1",
    "TACK_WORKER_RETRY_MAX_DELAY": "0.5",
    "TACK_LOG_LEVEL": "info",
}
CONCURRENCY = 16


def queue_stats(tack, queue="default"):
    result = tack("jobs", "--json", check=True)
    return next(s for s in json.loads(result.stdout) if s["queue"] == queue)


def probe_counts(db):
    rows, distinct = psql(db, "SELECT count(*), count(DISTINCT job_id) FROM job_probe_runs").split("|")
    return int(rows), int(distinct)


def consumer_pending(redis_url, consumer):
    """Jobs read and not yet acknowledged by one consumer (worker) of the default queue's group."""
    lines = redis_cli(redis_url, "XINFO", "CONSUMERS", "tack:q:{default}", "workers").splitlines()
    for i in range(0, len(lines) - 3, 6):
        if lines[i:i + 2] == ["name", consumer] and lines[i + 2] == "pending":
            return int(lines[i + 3])
    raise AssertionError(f"no consumer {consumer} in {lines}")




def test_a_killed_worker_loses_no_job(migrated):
    db = migrated.db_url
    env = dict(FAST, TACK_WORKER_CONCURRENCY=str(CONCURRENCY))
    # A probe sleeps 10 ms: two workers of 16 run at most ~3,200 a second, slow enough to kill one
    # mid-run, and a finished job's batched acknowledgement is rarely still waiting when it dies.
    enqueue = migrated("jobs", "probe", "--count", "10000", "--sleep-ms", "10", "--no-wait", env=env, check=True)
    assert "10000 probe job(s) enqueued" in enqueue.stdout, enqueue.stdout
    assert queue_stats(migrated)["waiting"] == 10000

    victim = migrated.start("run", "worker", env=env)
    survivor = migrated.start("run", "worker", env=env)
    report = migrated.wait_for(lambda r: sum(p["role"] == "worker" for p in r["processes"]) == 2, what="two workers")
    victim_id = next(p["id"] for p in report["processes"] if p["pid"] == victim.pid)
    wait_until(lambda: probe_counts(db)[1] >= 3000, 60, "3,000 probes to run",
               lambda: migrated.output(victim) + migrated.output(survivor))
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    # What the dead worker held (read, not acknowledged) stays pending under its name until claimed
    # back after the visibility timeout; read it at once.
    held = consumer_pending(migrated.redis_url, victim_id)
    assert held > 0, "the victim died holding jobs"
    killed_at = probe_counts(db)[1]
    assert killed_at < 10000, "the worker must die mid-run, with jobs left to do"
    assert int(psql(db, f"SELECT count(*) FROM job_probe_runs WHERE worker = '{victim_id}'")) > 0, "the victim took a share"

    wait_until(lambda: probe_counts(db)[1] == 10000, 90, "every probe to run",
               lambda: migrated.output(survivor)[-3000:])
    wait_until(lambda: queue_stats(migrated)["in_flight"] == 0, 15, "nothing left in flight",
               lambda: json.dumps(queue_stats(migrated)))

    rows, distinct = probe_counts(db)
    assert distinct == 10000, "every job ran at least once: none lost"
    # Jobs run twice: among those the killed worker held, the ones it had recorded before dying. It
    # held the jobs it was running (at most its concurrency) and finished ones whose batched
    # acknowledgement had not gone out yet (with 10 ms jobs, a handful at most).
    rerun = rows - distinct
    assert 0 <= rerun <= held, f"{rerun} jobs ran more than once, but the killed worker held only {held}"
    assert rerun <= CONCURRENCY, f"{rerun} jobs ran more than once; the killed worker ran at most {CONCURRENCY} at once"
    assert int(psql(db, "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM job_probe_runs GROUP BY job_id) c")) <= 2
    # Each job run twice ran first on the killed worker, then once on the survivor.
    assert psql(db, f"""SELECT count(*) FROM (SELECT job_id FROM job_probe_runs GROUP BY job_id HAVING count(*) > 1
                        AND (bool_and(worker <> '{victim_id}') OR bool_and(worker = '{victim_id}'))) c""") == "0"
    stats = queue_stats(migrated)
    assert (stats["waiting"], stats["in_flight"], stats["dead"], stats["retries"]) == (0, 0, 0, 0), stats
    # The survivor claimed back every job the victim held, after the visibility timeout.
    out = migrated.output(survivor)
    reclaimed = sum(int(n) for n in re.findall(r"claimed back jobs of a silent worker.*tack\.worker\.reclaimed=(\d+)", out))
    assert reclaimed >= held, f"the survivor claimed back {reclaimed} jobs of the {held} the victim held\n{out[-3000:]}"
    print(f"killed after {killed_at} distinct probes holding {held}; {reclaimed} claimed back; {rerun} ran twice")


def test_a_poison_job_goes_dead_and_an_operator_retries_and_purges_it(migrated):
    db = migrated.db_url
    worker = migrated.start("run", "worker", env=FAST)
    poison = migrated("jobs", "probe", "--count", "1", "--fail", "poisoned on purpose", "--no-wait", check=True)
    assert poison.returncode == 0, poison.stdout
    good = migrated("jobs", "probe", "--count", "200", "--wait", "30", env=FAST)
    assert good.returncode == 0, good.stdout + good.stderr + migrated.output(worker)[-3000:]
    assert "all 200 ran within" in good.stdout

    wait_until(lambda: queue_stats(migrated)["dead"] == 1, 20, "the poison job to die",
               lambda: json.dumps(queue_stats(migrated)) + migrated.output(worker)[-3000:])
    poison_id = psql(db, "SELECT job_id FROM job_probe_runs GROUP BY job_id HAVING count(*) > 1")
    assert poison_id, "the poison job ran more than once"
    assert psql(db, f"SELECT count(*) FROM job_probe_runs WHERE job_id = '{poison_id}'") == "3", "max_attempts runs"
    assert psql(db, f"SELECT string_agg(attempt::text, ',' ORDER BY attempt) FROM job_probe_runs WHERE job_id = '{poison_id}'") == "1,2,3"
    assert psql(db, "SELECT count(DISTINCT job_id) FROM job_probe_runs") == "201"
    stats = queue_stats(migrated)
    assert (stats["waiting"], stats["in_flight"], stats["retries"], stats["dead"]) == (0, 0, 0, 1), stats

    dead = migrated("jobs", "dead", check=True).stdout
    assert poison_id in dead and "diagnostics.probe" in dead and "3 attempt(s)" in dead, dead
    assert "gave up after 3 attempts: poisoned on purpose" in dead, dead
    listed = json.loads(migrated("jobs", "dead", "--json", check=True).stdout)
    assert len(listed) == 1, listed
    assert listed[0]["id"] == poison_id and listed[0]["queue"] == "default" and listed[0]["attempts"] == 3
    assert listed[0]["error"] == "gave up after 3 attempts: poisoned on purpose"
    shown = migrated("jobs", check=True).stdout
    assert "1 dead job(s)" in shown, shown

    # Retried by the operator: back as a first attempt, it fails three more times and dies again.
    retry = migrated("jobs", "retry", "--all", check=True)
    assert "1 job(s) back in their queue" in retry.stdout, retry.stdout
    wait_until(lambda: psql(db, f"SELECT count(*) FROM job_probe_runs WHERE job_id = '{poison_id}'") == "6", 20,
               "the retried poison job to run its attempts again", lambda: migrated.output(worker)[-3000:])
    wait_until(lambda: queue_stats(migrated)["dead"] == 1, 20, "the retried poison job to die again")
    assert psql(db, f"SELECT string_agg(attempt::text, ',' ORDER BY ran_at) FROM job_probe_runs WHERE job_id = '{poison_id}'") == "1,2,3,1,2,3"

    purge = migrated("jobs", "purge_dead", check=True)
    assert "1 dead job(s) deleted" in purge.stdout, purge.stdout
    assert migrated("jobs", "dead", check=True).stdout.strip() == "no dead jobs"
    assert json.loads(migrated("jobs", "dead", "--json", check=True).stdout) == []
    stats = queue_stats(migrated)
    assert (stats["waiting"], stats["in_flight"], stats["retries"], stats["dead"]) == (0, 0, 0, 0), stats


def test_probe_exits_0_with_a_worker_and_1_naming_the_queue_without(migrated):
    alone = migrated("jobs", "probe", "--count", "50", "--wait", "2")
    assert alone.returncode == 1, alone.stdout + alone.stderr
    message = alone.stdout + alone.stderr
    assert "0 of 50 probe job(s) ran within 2.0 s" in message and "queue default" in message, message

    # The 50 left waiting are run by the worker too: nothing is lost while no worker runs.
    worker = migrated.start("run", "worker")
    ok = migrated("jobs", "probe", "--count", "50", "--wait", "30")
    assert ok.returncode == 0, ok.stdout + ok.stderr + migrated.output(worker)[-3000:]
    assert "all 50 ran within" in ok.stdout, ok.stdout
    wait_until(lambda: psql(migrated.db_url, "SELECT count(DISTINCT job_id) FROM job_probe_runs") == "100", 10,
               "the first 50 probes to run")


def test_noop_jobs_for_benchmarks_are_enqueued_without_waiting(migrated):
    refused = migrated("jobs", "probe", "--kind", "noop", "--count", "10")
    assert refused.returncode == 2 and "use it with --no-wait" in refused.stderr, refused.stderr
    enqueued = migrated("jobs", "probe", "--kind", "noop", "--count", "1000", "--no-wait", check=True)
    assert re.search(r"^1000 noop job\(s\) enqueued in [\d.]+ s \(\d+ jobs/s\)$", enqueued.stdout, re.M), enqueued.stdout
    assert queue_stats(migrated)["waiting"] == 1000
    migrated.start("run", "worker")
    wait_until(lambda: queue_stats(migrated)["waiting"] + queue_stats(migrated)["in_flight"] == 0, 20, "the no-op jobs to run")
    assert psql(migrated.db_url, "SELECT count(*) FROM job_probe_runs") == "0", "no-op jobs record nothing"
