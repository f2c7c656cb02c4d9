-- Scheduler role: which scheduler enqueued each cron tick (its lease owner token), so an operator
-- (and the failover tests) can see that a stale leader enqueued nothing.
ALTER TABLE cron_runs ADD COLUMN enqueued_by TEXT;
-- The nightly prune deletes old runs by age.
CREATE INDEX cron_runs_started_idx ON cron_runs (started_at);
