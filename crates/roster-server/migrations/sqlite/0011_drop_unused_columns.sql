-- Columns no version of Roster reads any more: the space-separated phone keys of 0001 (one row
-- per key in card_phone_keys since 0004) and the per-account login counters (per login name
-- and client network in login_failures since 0008). No index, constraint or view names them,
-- so SQLite drops them in place.
ALTER TABLE cards DROP COLUMN phone_keys;
ALTER TABLE accounts DROP COLUMN failed_logins;
ALTER TABLE accounts DROP COLUMN locked_until;
