-- Boards imported from another tool (Trello's JSON export): the file is kept in the row until a
-- worker has turned it into a board in one transaction (or found why it cannot), so any web node
-- can take the upload and any worker node the job. Progress is visible while it runs.
CREATE TABLE imports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('trello')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    progress INT NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    bytes BIGINT NOT NULL,
    content BYTEA,
    board_id BIGINT REFERENCES boards (id) ON DELETE SET NULL,
    summary JSONB,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX imports_user_idx ON imports (requested_by, created_at DESC);
CREATE INDEX imports_open_idx ON imports (enqueued_at) WHERE status IN ('pending', 'running');
