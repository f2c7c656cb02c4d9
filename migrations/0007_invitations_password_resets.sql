-- Invitations to a board by email, for people who may not have an account yet. The link is signed
-- (secret_key, bound to the board and address), so nothing secret is stored here; a link works
-- until expires_at, once (accepted_at), unless withdrawn (revoked_at). The worker's email sweep
-- sends the link when mail is configured (email_queued_at / emailed_at, as for notifications).
CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    email TEXT NOT NULL CHECK (email = lower(email)),
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    invited_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    accepted_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at TIMESTAMPTZ,
    email_queued_at TIMESTAMPTZ,
    emailed_at TIMESTAMPTZ
);
CREATE INDEX invitations_board_idx ON invitations (board_id) WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_unemailed_idx ON invitations (created_at) WHERE emailed_at IS NULL;

-- Requests to reset a forgotten password, by address. A request is recorded whether or not an
-- account has the address (the answer and its cost must not tell); the worker looks the account up
-- when it sends the email. The link is signed and bound to the account's password hash.
CREATE TABLE password_resets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    email_queued_at TIMESTAMPTZ,
    emailed_at TIMESTAMPTZ
);
CREATE INDEX password_resets_email_idx ON password_resets (email, created_at);
CREATE INDEX password_resets_unemailed_idx ON password_resets (created_at) WHERE emailed_at IS NULL;
