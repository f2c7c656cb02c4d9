-- Worker and scheduler roles: probe runs, webhooks and their deliveries, email preferences,
-- exports, cron runs, due-date reminders and daily board snapshots.

-- `./platform jobs probe` and the queue tests: one row per run of a probe job.
CREATE TABLE job_probe_runs (
    job_id TEXT NOT NULL,
    attempt INT NOT NULL,
    worker TEXT NOT NULL,
    ran_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX job_probe_runs_job_idx ON job_probe_runs (job_id);

CREATE TABLE webhooks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Event kinds delivered; empty means every kind.
    events TEXT[] NOT NULL DEFAULT '{}',
    active BOOLEAN NOT NULL DEFAULT true,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last board version whose event was turned into a delivery (or skipped by the filter).
    dispatched_version BIGINT NOT NULL,
    failures_in_row INT NOT NULL DEFAULT 0,
    disabled_reason TEXT,
    disabled_at TIMESTAMPTZ
);
CREATE INDEX webhooks_board_idx ON webhooks (board_id);

CREATE TABLE webhook_deliveries (
    -- Stable across retries: sent as X-Tack-Delivery on every attempt.
    id TEXT PRIMARY KEY,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    board_id BIGINT NOT NULL,
    event_version BIGINT NOT NULL,
    event_kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When its delivery job was enqueued; NULL until then (a crash in between is repaired by the next sweep).
    enqueued_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    UNIQUE (webhook_id, event_version)
);
CREATE INDEX webhook_deliveries_recent_idx ON webhook_deliveries (webhook_id, created_at DESC);
CREATE INDEX webhook_deliveries_unqueued_idx ON webhook_deliveries (created_at) WHERE enqueued_at IS NULL;
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

CREATE TABLE webhook_delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code INT,
    latency_ms INT NOT NULL,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Email: instant, a daily digest, or none.
ALTER TABLE users ADD COLUMN email_notifications TEXT NOT NULL DEFAULT 'instant'
    CHECK (email_notifications IN ('instant', 'daily', 'off'));
ALTER TABLE users ADD COLUMN digest_sent_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN digest_queued_at TIMESTAMPTZ;
-- When an email job was enqueued for the notification, and when it was sent (or skipped).
ALTER TABLE notifications ADD COLUMN email_queued_at TIMESTAMPTZ;
ALTER TABLE notifications ADD COLUMN emailed_at TIMESTAMPTZ;
CREATE INDEX notifications_unemailed_idx ON notifications (created_at) WHERE emailed_at IS NULL;

CREATE TABLE exports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    requested_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    format TEXT NOT NULL CHECK (format IN ('json', 'csv')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed', 'expired')),
    file_name TEXT,
    bytes BIGINT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX exports_board_idx ON exports (board_id, created_at DESC);
CREATE INDEX exports_expiry_idx ON exports (expires_at) WHERE status <> 'expired';

-- One row per cron tick that ran: the unique key makes a tick run once even if enqueued twice.
CREATE TABLE cron_runs (
    job TEXT NOT NULL,
    scheduled_for TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    -- Deliveries of this tick after the first (should stay 0; counted, not run).
    duplicate_deliveries INT NOT NULL DEFAULT 0,
    PRIMARY KEY (job, scheduled_for)
);

-- One reminder per card and due date, whatever the scheduler does.
CREATE TABLE card_reminders (
    card_id BIGINT NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    due_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (card_id, due_at)
);

-- Nightly count of cards per column, for charts.
CREATE TABLE board_snapshots (
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    column_id BIGINT NOT NULL,
    cards INT NOT NULL,
    done INT NOT NULL,
    PRIMARY KEY (board_id, day, column_id)
);
