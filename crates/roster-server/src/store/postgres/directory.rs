//! [`DirectoryStore`] on PostgreSQL: cards with their search keys, directory pages and the
//! change log.

use super::{AccountLock, PgStore, append, internal, lock_account, lock_groups, retry};
use crate::domain::card::Card;
use crate::domain::ids::{AccountId, GroupId, TerminalId};
use crate::domain::model::{Change, ChangeKind, DirectorySearch, MemberCard, StoredCard};
use crate::domain::ports::{DirectoryStore, Refusable, Refusal};
use crate::domain::share_policy::ShareFields;
use crate::domain::{Error, Result};
use crate::store::rows::{ChangeRow, MemberCardRow, contains_pattern, from_ts, merge_pages, parse_card, ts};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

impl PgStore {
    /// Active members (not `viewer`) after `after` with a phone search key starting with
    /// `digits`, in account order, at most `limit`.
    async fn phone_prefix_page(
        &self,
        group: GroupId,
        viewer: AccountId,
        after: Option<AccountId>,
        limit: u32,
        digits: &str,
    ) -> Result<Vec<MemberCard>> {
        // Walk the matching key range only (':' sorts right after '9' in the keys' "C"
        // collation).
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT DISTINCT m.account_id, m.state, m.share, c.card FROM card_phone_keys k \
             JOIN memberships m ON m.group_id = $1 AND m.account_id = k.account_id \
             JOIN cards c ON c.account_id = k.account_id \
             WHERE k.key >= $4 AND k.key < $4 || ':' AND m.state = 'active' \
             AND m.account_id <> $2 AND m.account_id > $3 \
             ORDER BY m.account_id LIMIT $5",
        )
        .bind(group.0)
        .bind(viewer.0)
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(digits)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    /// One attempt at [`DirectoryStore::set_card`].
    async fn set_card_once(
        &self,
        account: AccountId,
        card: &Card,
        json: &str,
        expected_revision: i64,
        changed: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<(i64, Vec<Change>)> {
        let mut tx = self.write().await?;
        // One card write per account at a time, and none while a membership change logs the
        // card (see the module's documentation): the revision read next is the committed one.
        lock_account(&mut tx, account, AccountLock::Exclusive).await?;
        let current: i64 = sqlx::query_scalar("SELECT revision FROM cards WHERE account_id = $1")
            .bind(account.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?
            .unwrap_or(0);
        if current != expected_revision {
            return Err(Refusal::CardChanged.into());
        }
        let revision = current + 1;
        sqlx::query(
            "INSERT INTO cards (account_id, card, revision, search_name, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account_id) DO UPDATE SET card = excluded.card, revision = excluded.revision, \
             search_name = excluded.search_name, updated_at = excluded.updated_at",
        )
        .bind(account.0)
        .bind(json)
        .bind(revision)
        .bind(card.search_name())
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM card_phone_keys WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let keys: Vec<String> = card.phones.iter().flat_map(|p| p.number.search_keys()).collect();
        sqlx::query(
            "INSERT INTO card_phone_keys (key, account_id) SELECT DISTINCT key, $2 FROM UNNEST($1::TEXT[]) AS key \
             ON CONFLICT DO NOTHING",
        )
        .bind(&keys)
        .bind(account.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        let shared = "SELECT group_id FROM memberships \
                      WHERE account_id = $1 AND state = 'active' AND (share & $2) <> 0 ORDER BY group_id";
        let candidates: Vec<Uuid> = sqlx::query_scalar(shared)
            .bind(account.0)
            .bind(changed.bits())
            .fetch_all(&mut *tx)
            .await
            .map_err(internal)?;
        let locked = lock_groups(&mut tx, &candidates).await?;
        // Read again under the group locks: a member who left meanwhile gets no upsert. (No
        // membership can have become active: that takes the account lock this write holds.)
        let groups: Vec<Uuid> = sqlx::query_scalar(
            "SELECT group_id FROM memberships WHERE account_id = $1 AND state = 'active' AND (share & $2) <> 0 \
             AND group_id = ANY($3) ORDER BY group_id",
        )
        .bind(account.0)
        .bind(changed.bits())
        .bind(&locked)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        let mut changes = Vec::with_capacity(groups.len());
        for group in groups {
            changes.push(append(&mut tx, GroupId(group), account, ChangeKind::Upsert, at).await?);
        }
        tx.commit().await.map_err(internal)?;
        Ok((revision, changes))
    }

    /// One group's compaction (see [`DirectoryStore::compact_log`]); the entries dropped.
    async fn compact_group(&self, group: Uuid, keep_versions: i64, before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.write().await?;
        // Locked, and its version and floor read again: a concurrent compaction must not
        // lower the floor this one raises.
        let Some((version, floor)): Option<(i64, i64)> =
            sqlx::query_as("SELECT version, floor FROM groups WHERE id = $1 FOR NO KEY UPDATE")
                .bind(group)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?
        else {
            return Ok(0);
        };
        let new_floor: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM changes WHERE group_id = $1 AND version <= $2 AND at <= $3")
                .bind(group)
                .bind(version - keep_versions)
                .bind(ts(before))
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
        let Some(new_floor) = new_floor.filter(|f| *f > floor) else {
            return Ok(0);
        };
        let done = sqlx::query("DELETE FROM changes WHERE group_id = $1 AND version <= $2")
            .bind(group)
            .bind(new_floor)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("UPDATE groups SET floor = $1 WHERE id = $2")
            .bind(new_floor)
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl DirectoryStore for PgStore {
    async fn card(&self, account: AccountId) -> Result<Option<StoredCard>> {
        let row: Option<(String, i64, i64)> =
            sqlx::query_as("SELECT card, revision, updated_at FROM cards WHERE account_id = $1")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        row.map(|(card, revision, updated_at)| {
            Ok(StoredCard {
                card: parse_card(&card)?,
                revision,
                updated_at: from_ts(updated_at),
            })
        })
        .transpose()
    }

    async fn cards_page(&self, after: Option<AccountId>, limit: u32) -> Result<Vec<(AccountId, StoredCard)>> {
        let rows: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT account_id, card, revision, updated_at FROM cards WHERE account_id > $1 \
             ORDER BY account_id LIMIT $2",
        )
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|(account, card, revision, updated_at)| {
                Ok((
                    AccountId(account),
                    StoredCard {
                        card: parse_card(&card)?,
                        revision,
                        updated_at: from_ts(updated_at),
                    },
                ))
            })
            .collect()
    }

    async fn set_card(
        &self,
        account: AccountId,
        card: &Card,
        expected_revision: i64,
        changed: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<(i64, Vec<Change>)> {
        let json = serde_json::to_string(card).map_err(|e| Error::Internal(e.into()))?;
        let json = json.as_str();
        retry(|| self.set_card_once(account, card, json, expected_revision, changed, at)).await
    }

    async fn directory_page(
        &self,
        group: GroupId,
        viewer: AccountId,
        after: Option<AccountId>,
        limit: u32,
        search: &DirectorySearch,
    ) -> Result<Vec<MemberCard>> {
        if let DirectorySearch::PhonePrefixes(prefixes) = search {
            // Each reading of the search text walks its own key range. A search has a handful
            // of readings at most.
            let mut pages = Vec::with_capacity(prefixes.len());
            for prefix in prefixes {
                pages.push(self.phone_prefix_page(group, viewer, after, limit, prefix).await?);
            }
            return Ok(merge_pages(pages, limit));
        }
        let name = match search {
            DirectorySearch::Name(text) => Some(contains_pattern(text)),
            _ => None,
        };
        // Two statements rather than one with `$4 IS NULL OR …`: PostgreSQL's generic plan
        // for that form cannot walk the membership key in order and stop at the limit, so a
        // page of a 100,000-member group read every member (0.5 s instead of 2 ms). The cursor
        // is repeated on `cards` so that a merge join starts there, not at the first card.
        let after = after.map_or(Uuid::nil(), |a| a.0);
        let rows: Vec<MemberCardRow> = match name {
            None => sqlx::query_as(
                "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
                 LEFT JOIN cards c ON c.account_id = m.account_id AND c.account_id > $3 \
                 WHERE m.group_id = $1 AND m.state = 'active' AND m.account_id <> $2 AND m.account_id > $3 \
                 ORDER BY m.account_id LIMIT $4",
            )
            .bind(group.0)
            .bind(viewer.0)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?,
            Some(pattern) => sqlx::query_as(
                "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
                 JOIN cards c ON c.account_id = m.account_id AND c.account_id > $3 \
                 WHERE m.group_id = $1 AND m.state = 'active' AND m.account_id <> $2 AND m.account_id > $3 \
                 AND c.search_name LIKE $4 ESCAPE '\\' ORDER BY m.account_id LIMIT $5",
            )
            .bind(group.0)
            .bind(viewer.0)
            .bind(after)
            .bind(pattern)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?,
        };
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    async fn changes_since(&self, group: GroupId, since: i64, limit: u32) -> Result<Vec<Change>> {
        let rows: Vec<ChangeRow> = sqlx::query_as(
            "SELECT group_id, version, subject_id, kind FROM changes \
             WHERE group_id = $1 AND version > $2 ORDER BY version LIMIT $3",
        )
        .bind(group.0)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(Change::try_from).collect()
    }

    async fn member_cards(&self, group: GroupId, subjects: &[AccountId]) -> Result<Vec<MemberCard>> {
        // One array parameter, however many subjects.
        let ids: Vec<Uuid> = subjects.iter().map(|s| s.0).collect();
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
             LEFT JOIN cards c ON c.account_id = m.account_id \
             WHERE m.group_id = $1 AND m.account_id = ANY($2)",
        )
        .bind(group.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    async fn compact_log(&self, keep_versions: i64, before: OffsetDateTime) -> Result<u64> {
        let keep_versions = keep_versions.max(0);
        let groups: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM groups WHERE version - floor > $1")
            .bind(keep_versions)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        let mut dropped = 0;
        for group in groups {
            dropped += retry(|| self.compact_group(group, keep_versions, before)).await?;
        }
        Ok(dropped)
    }

    async fn add_refetch(
        &self,
        terminal: TerminalId,
        book: &str,
        subject: AccountId,
        cap: u32,
        at: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        sqlx::query("INSERT INTO refetches (terminal_id, book, subject_id, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(terminal.0)
            .bind(book)
            .bind(subject.0)
            .bind(ts(at))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "DELETE FROM refetches WHERE terminal_id = $1 AND book = $2 AND subject_id NOT IN (SELECT subject_id FROM refetches WHERE terminal_id = $1 AND book = $2 ORDER BY added_at DESC, subject_id LIMIT $3)",
        )
        .bind(terminal.0)
            .bind(book)
            .bind(i64::from(cap))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)
    }

    async fn take_refetches(&self, terminal: TerminalId, book: &str) -> Result<Vec<AccountId>> {
        let taken: Vec<Uuid> =
            sqlx::query_scalar("DELETE FROM refetches WHERE terminal_id = $1 AND book = $2 RETURNING subject_id")
                .bind(terminal.0)
                .bind(book)
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
        Ok(taken.into_iter().map(AccountId).collect())
    }
}
