-- WebDAV-Push: subscriptions of address books, one per (account, book, push resource), each
-- held by the terminal that registered it. They go with their terminal, account or group.
CREATE TABLE push_registrations (
    id            BLOB PRIMARY KEY NOT NULL,
    terminal_id   BLOB NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    account_id    BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    book          TEXT NOT NULL,                                  -- 'contacts', 'me' or the group id
    group_id      BLOB REFERENCES groups (id) ON DELETE CASCADE,  -- set for a group's book
    push_resource TEXT NOT NULL,
    public_key    BLOB NOT NULL,                                  -- P-256, uncompressed (RFC 8291)
    auth_secret   BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    UNIQUE (account_id, book, push_resource)
);
CREATE INDEX push_registrations_by_terminal ON push_registrations (terminal_id);
CREATE INDEX push_registrations_by_group ON push_registrations (group_id);
CREATE INDEX push_registrations_by_expiry ON push_registrations (expires_at);

-- Server secrets that must survive restarts (the VAPID key pair, the topic key), written once.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
