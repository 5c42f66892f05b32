-- The local cache of one address book folder: whose book it is, each group's cursor, and
-- every contact Roster wrote into the folder (only those may ever be deleted by Roster).
CREATE TABLE owner (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    server TEXT NOT NULL,
    account_id TEXT NOT NULL
);

CREATE TABLE groups (
    group_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE contacts (
    group_id TEXT NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    card TEXT NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
