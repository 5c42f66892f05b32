-- no-transaction
-- Web sessions are a third kind of terminal ('web': a browser signed in to the pages, held in a
-- cookie). SQLite cannot change a CHECK constraint in place, so the table is rebuilt the way
-- SQLite documents it: foreign keys off for the swap (the stream cursors and push registrations
-- that reference terminals must not cascade), checked again before the commit.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE terminals_new (
    id           BLOB PRIMARY KEY NOT NULL,
    account_id   BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'app_password', 'web')),
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at   INTEGER,
    group_books  INTEGER,
    client       TEXT
);
INSERT INTO terminals_new (id, account_id, name, kind, token_hash, created_at, last_seen_at, revoked_at, group_books, client)
    SELECT id, account_id, name, kind, token_hash, created_at, last_seen_at, revoked_at, group_books, client FROM terminals;
DROP TABLE terminals;
ALTER TABLE terminals_new RENAME TO terminals;
CREATE INDEX terminals_by_account ON terminals (account_id);
COMMIT;
PRAGMA foreign_keys = ON;
