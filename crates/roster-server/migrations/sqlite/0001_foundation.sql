-- Accounts, terminals, cards, groups, memberships, invites and the per-group change log.
-- Ids are UUIDs stored as 16-byte blobs; times are Unix seconds.

CREATE TABLE accounts (
    id            BLOB PRIMARY KEY NOT NULL,
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created_at    INTEGER NOT NULL
);

CREATE TABLE terminals (
    id           BLOB PRIMARY KEY NOT NULL,
    account_id   BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'app_password')),
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX terminals_by_account ON terminals (account_id);

CREATE TABLE cards (
    account_id  BLOB PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    card        TEXT NOT NULL,            -- JSON of the validated card
    revision    INTEGER NOT NULL,
    search_name TEXT NOT NULL,            -- lower-case names, for directory search
    phone_keys  TEXT NOT NULL,            -- ' 49301234567 301234567 ', for prefix search
    updated_at  INTEGER NOT NULL
);

CREATE TABLE groups (
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    owner_id     BLOB NOT NULL REFERENCES accounts (id),
    join_policy  TEXT NOT NULL CHECK (join_policy IN ('invite_only', 'approval', 'open_with_link')),
    member_limit INTEGER NOT NULL,
    active_count INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 0,  -- the latest change's version
    floor        INTEGER NOT NULL DEFAULT 0,  -- changes up to here are compacted away
    created_at   INTEGER NOT NULL
);
CREATE INDEX groups_by_owner ON groups (owner_id);

CREATE TABLE memberships (
    group_id   BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    state      TEXT NOT NULL CHECK (state IN ('pending', 'active', 'left', 'removed')),
    share      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_account ON memberships (account_id, state);

-- No foreign key on subject_id: the log outlives a deleted account (its removal is logged).
CREATE TABLE changes (
    group_id   BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    subject_id BLOB NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('upsert', 'remove')),
    at         INTEGER NOT NULL,
    PRIMARY KEY (group_id, version)
) WITHOUT ROWID;

CREATE TABLE invites (
    id         BLOB PRIMARY KEY NOT NULL,
    group_id   BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL UNIQUE,
    created_by BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER
);
CREATE INDEX invites_by_group ON invites (group_id);
