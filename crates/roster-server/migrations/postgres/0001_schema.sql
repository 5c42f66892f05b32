-- The whole schema, as SQLite's migrations 0001-0012 leave it, in PostgreSQL's types: ids are
-- UUIDs, secrets and hashes BYTEA, times Unix seconds in BIGINT (push claims: milliseconds),
-- counts and the share-policy bits BIGINT (the codecs read every integer as i64).
-- Later changes get their own files here, as in migrations/sqlite/.

CREATE TABLE accounts (
    id            UUID PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Credentials devices hold: app sessions, app passwords and web sessions.
CREATE TABLE terminals (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'app_password', 'web')),
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at   BIGINT,
    group_books  BOOLEAN,  -- lists the per-group books (NULL: as the account says)
    client       TEXT      -- the client that first used it
);
CREATE INDEX terminals_by_account ON terminals (account_id);

CREATE TABLE cards (
    account_id  UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    card        TEXT NOT NULL,    -- JSON of the validated card
    revision    BIGINT NOT NULL,
    search_name TEXT NOT NULL,    -- lower-case names, for directory search
    updated_at  BIGINT NOT NULL
);

-- Phone search keys, one row per key, so that a prefix search reads only the matching range.
-- COLLATE "C": the range scan (key >= prefix AND key < prefix || ':') needs byte order.
CREATE TABLE card_phone_keys (
    key        TEXT COLLATE "C" NOT NULL,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (key, account_id)
);
CREATE INDEX card_phone_keys_by_account ON card_phone_keys (account_id);

CREATE TABLE groups (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    owner_id     UUID NOT NULL REFERENCES accounts (id),
    join_policy  TEXT NOT NULL CHECK (join_policy IN ('invite_only', 'approval', 'open_with_link')),
    member_limit BIGINT NOT NULL,
    active_count BIGINT NOT NULL DEFAULT 0,
    version      BIGINT NOT NULL DEFAULT 0,  -- the latest change's version
    floor        BIGINT NOT NULL DEFAULT 0,  -- changes up to here are compacted away
    created_at   BIGINT NOT NULL
);
CREATE INDEX groups_by_owner ON groups (owner_id);

CREATE TABLE memberships (
    group_id       UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id     UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'active', 'left', 'removed')),
    share          BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    -- The group version at which the membership last became active (0: unknown).
    joined_version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX memberships_by_account ON memberships (account_id, state);

-- No foreign key on subject_id: the log outlives a deleted account (its removal is logged).
CREATE TABLE changes (
    group_id   UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    subject_id UUID NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('upsert', 'remove')),
    at         BIGINT NOT NULL,
    PRIMARY KEY (group_id, version)
);
-- Compaction reads changes by age within a group.
CREATE INDEX changes_by_age ON changes (group_id, at);

CREATE TABLE invites (
    id         UUID PRIMARY KEY,
    group_id   UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL UNIQUE,
    created_by UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_uses   BIGINT,
    uses       BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT
);
CREATE INDEX invites_by_group ON invites (group_id);
-- PostgreSQL does not index a referencing column by itself: without this, deleting an account
-- would scan every invite (as deleting a terminal would scan every ticket, below).
CREATE INDEX invites_by_creator ON invites (created_by);

-- Single-use tickets that let a browser open the stream without an Authorization header.
CREATE TABLE stream_tickets (
    ticket_hash BYTEA PRIMARY KEY,
    terminal_id UUID NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX stream_tickets_by_terminal ON stream_tickets (terminal_id);

-- Per-account settings of the address books CardDAV serves.
CREATE TABLE directory_settings (
    account_id       UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    list_group_books BOOLEAN NOT NULL DEFAULT FALSE  -- list one book per group besides `contacts`
);

-- WebDAV-Push: subscriptions of address books, one per (account, book, push resource), each
-- held by the terminal that registered it. They go with their terminal, account or group.
CREATE TABLE push_registrations (
    id            UUID PRIMARY KEY,
    terminal_id   UUID NOT NULL REFERENCES terminals (id) ON DELETE CASCADE,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    book          TEXT NOT NULL,                                  -- 'contacts', 'me' or the group id
    group_id      UUID REFERENCES groups (id) ON DELETE CASCADE,  -- set for a group's book
    push_resource TEXT NOT NULL,
    public_key    BYTEA NOT NULL,                                 -- P-256, uncompressed (RFC 8291)
    auth_secret   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    -- The last push claimed for it (a sync token) and when, in Unix milliseconds: each token
    -- is told once per registration, whichever instance claims it.
    told_token    TEXT NULL,
    told_at_ms    BIGINT NULL,
    UNIQUE (account_id, book, push_resource)
);
CREATE INDEX push_registrations_by_terminal ON push_registrations (terminal_id);
CREATE INDEX push_registrations_by_group ON push_registrations (group_id);
CREATE INDEX push_registrations_by_expiry ON push_registrations (expires_at);

-- Server secrets that must survive restarts (the VAPID key pair, the topic key) and values the
-- server keeps about itself.
CREATE TABLE server_keys (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- Failed main-password logins, per login name and client network (see SQLite's 0008).
CREATE TABLE login_failures (
    login        TEXT NOT NULL,
    client       TEXT NOT NULL,  -- an IPv4 address, an IPv6 /64, or 'unknown'
    failures     BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (login, client)
);
CREATE INDEX login_failures_by_age ON login_failures (updated_at);
