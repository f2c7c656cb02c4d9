-- A column can be archived with its cards (Trello's "archive this list"): it leaves the board and
-- the snapshot with every card in it, and comes back with them when restored. Its cards keep their
-- own archived flag, so a restore brings back exactly the cards that were on the board.
ALTER TABLE columns ADD COLUMN archived_at TIMESTAMPTZ;
