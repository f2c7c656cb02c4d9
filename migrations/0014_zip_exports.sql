-- Board exports may also be a ZIP: the board's JSON with every attachment's file.
ALTER TABLE exports DROP CONSTRAINT exports_format_check;
ALTER TABLE exports ADD CONSTRAINT exports_format_check CHECK (format IN ('json', 'csv', 'zip'));
