-- Files attached to cards. The file itself lives under node.storage_dir/attachments, named by
-- storage_key (random, never the uploader's file name); name is the sanitised display name and
-- content_type what Tack decided from the bytes. board_id is the card's board, kept here so a
-- board's quota is one indexed sum.
CREATE TABLE attachments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    card_id BIGINT NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    uploaded_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    version BIGINT NOT NULL
);
CREATE INDEX attachments_card_idx ON attachments (card_id, id);
CREATE INDEX attachments_board_idx ON attachments (board_id);

-- An image of the card shown on its front. Deleting the attachment clears it (the write that does
-- so also records a card.updated event; SET NULL covers the card's own deletion).
ALTER TABLE cards ADD COLUMN cover_attachment_id BIGINT REFERENCES attachments (id) ON DELETE SET NULL;

-- Files to delete from storage: the key of every attachment row deleted, however it went (alone,
-- with its card or column, with its board). The web role deletes the files right after its
-- write and the worker sweeps what is left (AttachmentFiles.purge), so no file outlives its row
-- for long and none is deleted before its row's deletion has committed.
CREATE TABLE attachment_removals (
    storage_key TEXT PRIMARY KEY,
    removed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attachment_removals_removed_at_idx ON attachment_removals (removed_at);

CREATE FUNCTION tack_attachments_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attachment_removals (storage_key)
    SELECT storage_key FROM removed
    ON CONFLICT (storage_key) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER attachments_removed
    AFTER DELETE ON attachments
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION tack_attachments_removed();
