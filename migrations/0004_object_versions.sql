-- Conflict-safe writes: every board object records the board version at which it last changed, so
-- a client can replace a value it typed only if nobody changed the object since it read it
-- (If-Match / expected_version; a stale one answers 412 with the current object).
ALTER TABLE boards ADD COLUMN changed_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE columns ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cards ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE comments ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE labels ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Existing objects: the last event of the log that concerns them (0 when the log no longer holds one).
UPDATE boards b SET changed_version = COALESCE(
    (SELECT max(e.version) FROM events e WHERE e.board_id = b.id AND e.kind IN ('board.created', 'board.updated')), 0);
UPDATE columns c SET version = COALESCE(
    (SELECT max(e.version) FROM events e
     WHERE e.board_id = c.board_id AND e.kind IN ('column.created', 'column.updated') AND e.payload->>'id' = c.id::TEXT), 0);
UPDATE cards c SET version = COALESCE(
    (SELECT max(e.version) FROM events e
     WHERE e.card_id = c.id AND e.board_id = c.board_id AND e.kind IN ('card.created', 'card.updated', 'card.moved')), 0);
UPDATE comments cm SET version = COALESCE(
    (SELECT max(e.version) FROM events e JOIN cards c ON c.id = cm.card_id
     WHERE e.card_id = cm.card_id AND e.board_id = c.board_id AND e.kind IN ('comment.created', 'comment.updated')
       AND e.payload->>'id' = cm.id::TEXT), 0);
UPDATE labels l SET version = COALESCE(
    (SELECT max(e.version) FROM events e
     WHERE e.board_id = l.board_id AND e.kind IN ('label.created', 'label.updated') AND e.payload->>'id' = l.id::TEXT), 0);
