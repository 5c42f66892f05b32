-- Per-account settings of the address books CardDAV serves.
CREATE TABLE directory_settings (
    account_id       BLOB PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    list_group_books INTEGER NOT NULL DEFAULT 0  -- list one book per group besides `contacts`
) WITHOUT ROWID;
