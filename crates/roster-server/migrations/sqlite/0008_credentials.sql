-- Failed main-password logins are counted per login name *and* client network, so that
-- guesses from one address lock out that address only, never the account's owner elsewhere,
-- and unknown logins are counted exactly like known ones (no lock-out oracle). The counter is
-- incremented in one statement; rows are purged once idle. The per-account columns of 0001
-- are no longer read.
CREATE TABLE login_failures (
    login        TEXT NOT NULL,
    client       TEXT NOT NULL,         -- an IPv4 address, an IPv6 /64, or 'unknown'
    failures     INTEGER NOT NULL,
    locked_until INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (login, client)
) WITHOUT ROWID;
CREATE INDEX login_failures_by_age ON login_failures (updated_at);
