-- Every event gets a random identity. A version number is not one: when PostgreSQL loses its newest
-- commits (an asynchronous failover, a point-in-time restore) the next write takes a version that
-- webhook receivers, the Redis history and push clients have seen before. Delivery ids, history
-- entries and resumes carry the event's id, so the new event is never taken for the old one.
ALTER TABLE events ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE webhook_deliveries ADD COLUMN event_id UUID;

-- An export's job can be lost with Redis like a webhook delivery's: enqueued_at is when its job was
-- last seen alive (queued, or an attempt started); a pending export not seen for long is enqueued
-- again by the worker's sweep.
ALTER TABLE exports ADD COLUMN enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX exports_pending_idx ON exports (enqueued_at) WHERE status = 'pending';
