-- Checklists on cards (several per card), each with ordered items that can be ticked, given to a
-- member and given a due day. Every change is a board event; the card front shows the progress.
CREATE TABLE checklists (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    card_id BIGINT NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    position TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX checklists_card_idx ON checklists (card_id, position);

CREATE TABLE checklist_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board_id BIGINT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    card_id BIGINT NOT NULL REFERENCES cards (id) ON DELETE CASCADE,
    checklist_id BIGINT NOT NULL REFERENCES checklists (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    position TEXT COLLATE "C" NOT NULL,
    done BOOLEAN NOT NULL DEFAULT false,
    assignee_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    due_at TIMESTAMPTZ,
    version BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX checklist_items_checklist_idx ON checklist_items (checklist_id, position);
CREATE INDEX checklist_items_card_idx ON checklist_items (card_id);
CREATE INDEX checklist_items_assignee_idx ON checklist_items (board_id, assignee_id) WHERE assignee_id IS NOT NULL;
