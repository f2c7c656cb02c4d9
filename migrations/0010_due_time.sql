-- A due date is a day, or a day and a time of day. A day is stored at noon UTC of that day (so it
-- is the same day in every time zone people live in) with due_has_time false; a time is an exact
-- instant, shown in each reader's time zone and overdue from that instant.
ALTER TABLE cards ADD COLUMN due_has_time BOOLEAN NOT NULL DEFAULT false;
