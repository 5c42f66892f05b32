-- WebDAV-Push coalescing across server instances: the last book token a registration was
-- told (or, through Push-Dont-Notify, already knows) and when, so that however many
-- instances hear of a change, one of them pushes it, at most once per coalescing window.
ALTER TABLE push_registrations ADD COLUMN told_token TEXT;
ALTER TABLE push_registrations ADD COLUMN told_at_ms INTEGER;
