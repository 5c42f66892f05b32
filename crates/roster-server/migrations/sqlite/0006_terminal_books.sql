-- Address books are offered per terminal: an app password may list or hide the per-group books
-- whatever the account's default (NULL: follow it), and remembers which client first used it,
-- so that an Apple device keeps getting the merged book only even on requests whose
-- User-Agent does not say so.
ALTER TABLE terminals ADD COLUMN group_books INTEGER;
ALTER TABLE terminals ADD COLUMN client TEXT;
