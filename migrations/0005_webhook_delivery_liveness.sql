-- webhook_deliveries.enqueued_at now also moves at each attempt: it is when the delivery's job was
-- last seen alive. A pending delivery not seen for long (its job lost with Redis) is enqueued
-- again by the dispatcher's sweep; this index finds those without reading the whole table.
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (enqueued_at) WHERE status = 'pending';
