-- Single-use tickets that let a browser open the stream without an Authorization header.
CREATE TABLE stream_tickets (
    ticket_hash BLOB PRIMARY KEY NOT NULL,
    terminal_id BLOB NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
);

-- Compaction reads changes by age within a group.
CREATE INDEX changes_by_age ON changes (group_id, at);
