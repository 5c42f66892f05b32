-- Phone search keys, one row per key, so that a prefix search reads only the matching range
-- instead of every member of the group.
CREATE TABLE card_phone_keys (
    key        TEXT NOT NULL,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (key, account_id)
) WITHOUT ROWID;
CREATE INDEX card_phone_keys_by_account ON card_phone_keys (account_id);

-- Backfill from the space-separated keys every card already carries.
WITH RECURSIVE split (account_id, rest, key) AS (
    SELECT account_id, ltrim(phone_keys), '' FROM cards
    UNION ALL
    SELECT account_id,
           ltrim(substr(rest, instr(rest || ' ', ' '))),
           substr(rest, 1, instr(rest || ' ', ' ') - 1)
    FROM split WHERE rest != ''
)
INSERT OR IGNORE INTO card_phone_keys (key, account_id) SELECT key, account_id FROM split WHERE key != '';
