-- A burst from one person on one card (three mentions in a minute, assigning and re-assigning) is
-- one notification: while it is unread and was last touched less than ten minutes ago, the next
-- one of the same kind, card and actor bumps it (times + 1, the newest excerpt, updated_at) instead
-- of adding a row. It is emailed once.
ALTER TABLE notifications ADD COLUMN times INTEGER NOT NULL DEFAULT 1;
ALTER TABLE notifications ADD COLUMN updated_at TIMESTAMPTZ;
CREATE INDEX notifications_burst_idx ON notifications (user_id, card_id, actor_id) WHERE read_at IS NULL;
