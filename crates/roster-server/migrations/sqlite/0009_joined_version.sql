-- The group version at which each membership last became active: a member's sync from before
-- that point must not learn who left the group before they joined. 0 (rows older than this
-- migration): unknown, nothing is withheld.
ALTER TABLE memberships ADD COLUMN joined_version INTEGER NOT NULL DEFAULT 0;
