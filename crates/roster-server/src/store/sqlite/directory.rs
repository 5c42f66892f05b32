//! [`DirectoryStore`] on SQLite: cards with their search keys, directory pages and the
//! change log.

use super::{SqliteStore, append, internal};
use crate::domain::card::Card;
use crate::domain::ids::{AccountId, GroupId, TerminalId};
use crate::domain::model::{Change, ChangeKind, DirectorySearch, MemberCard, StoredCard};
use crate::domain::ports::{DirectoryStore, Refusable, Refusal};
use crate::domain::share_policy::ShareFields;
use crate::domain::{Error, Result};
use crate::store::rows::{ChangeRow, MemberCardRow, contains_pattern, from_ts, merge_pages, parse_card, ts};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

impl SqliteStore {
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
        // Walk the matching key range only (':' sorts right after '9'). CROSS JOIN makes
        // SQLite keep the key range as the outer loop instead of scanning the group in
        // account order to satisfy ORDER BY.
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT DISTINCT m.account_id, m.state, m.share, c.card FROM card_phone_keys k \
             CROSS JOIN memberships m ON m.group_id = ?1 AND m.account_id = k.account_id \
             CROSS JOIN cards c ON c.account_id = k.account_id \
             WHERE k.key >= ?4 AND k.key < ?4 || ':' AND m.state = 'active' \
             AND m.account_id != ?2 AND m.account_id > ?3 \
             ORDER BY m.account_id LIMIT ?5",
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
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn card(&self, account: AccountId) -> Result<Option<StoredCard>> {
        let row: Option<(String, i64, i64)> =
            sqlx::query_as("SELECT card, revision, updated_at FROM cards WHERE account_id = ?")
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
            "SELECT account_id, card, revision, updated_at FROM cards WHERE account_id > ? \
             ORDER BY account_id LIMIT ?",
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
        let mut tx = self.write().await?;
        let current: i64 = sqlx::query_scalar("SELECT revision FROM cards WHERE account_id = ?")
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
            "INSERT INTO cards (account_id, card, revision, search_name, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET card = excluded.card, revision = excluded.revision, \
             search_name = excluded.search_name, updated_at = excluded.updated_at",
        )
        .bind(account.0)
        .bind(&json)
        .bind(revision)
        .bind(card.search_name())
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM card_phone_keys WHERE account_id = ?")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        for key in card.phones.iter().flat_map(|p| p.number.search_keys()) {
            sqlx::query("INSERT OR IGNORE INTO card_phone_keys (key, account_id) VALUES (?, ?)")
                .bind(key)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let groups: Vec<Uuid> = sqlx::query_scalar(
            "SELECT group_id FROM memberships WHERE account_id = ? AND state = 'active' AND (share & ?) != 0",
        )
        .bind(account.0)
        .bind(changed.bits())
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
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
             LEFT JOIN cards c ON c.account_id = m.account_id \
             WHERE m.group_id = ?1 AND m.state = 'active' AND m.account_id != ?2 AND m.account_id > ?3 \
             AND (?4 IS NULL OR c.search_name LIKE ?4 ESCAPE '\\') \
             ORDER BY m.account_id LIMIT ?5",
        )
        .bind(group.0)
        .bind(viewer.0)
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(name)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    async fn changes_since(&self, group: GroupId, since: i64, limit: u32) -> Result<Vec<Change>> {
        let rows: Vec<ChangeRow> = sqlx::query_as(
            "SELECT group_id, version, subject_id, kind FROM changes \
             WHERE group_id = ? AND version > ? ORDER BY version LIMIT ?",
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
        let mut out = Vec::with_capacity(subjects.len());
        // SQLite allows 32766 bound parameters; stay well below.
        for chunk in subjects.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
                 LEFT JOIN cards c ON c.account_id = m.account_id WHERE m.group_id = ",
            );
            query.push_bind(group.0).push(" AND m.account_id IN (");
            let mut ids = query.separated(", ");
            for subject in chunk {
                ids.push_bind(subject.0);
            }
            query.push(")");
            let rows: Vec<MemberCardRow> = query.build_query_as().fetch_all(&self.pool).await.map_err(internal)?;
            for row in rows {
                out.push(row.into_member_card()?);
            }
        }
        Ok(out)
    }

    async fn compact_log(&self, keep_versions: i64, before: OffsetDateTime) -> Result<u64> {
        let groups: Vec<(Uuid, i64, i64)> =
            sqlx::query_as("SELECT id, version, floor FROM groups WHERE version - floor > ?")
                .bind(keep_versions.max(0))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
        let mut dropped = 0;
        for (group, version, floor) in groups {
            let mut tx = self.write().await?;
            let new_floor: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM changes WHERE group_id = ? AND version <= ? AND at <= ?")
                    .bind(group)
                    .bind(version - keep_versions.max(0))
                    .bind(ts(before))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(internal)?;
            let Some(new_floor) = new_floor.filter(|f| *f > floor) else {
                continue;
            };
            let done = sqlx::query("DELETE FROM changes WHERE group_id = ? AND version <= ?")
                .bind(group)
                .bind(new_floor)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            sqlx::query("UPDATE groups SET floor = ? WHERE id = ?")
                .bind(new_floor)
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            dropped += done.rows_affected();
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
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO refetches (terminal_id, book, subject_id, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(terminal.0)
            .bind(book)
            .bind(subject.0)
            .bind(ts(at))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "DELETE FROM refetches WHERE terminal_id = ? AND book = ? AND subject_id NOT IN (SELECT subject_id FROM refetches WHERE terminal_id = ? AND book = ? ORDER BY added_at DESC, subject_id LIMIT ?)",
        )
        .bind(terminal.0)
            .bind(book)
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
            sqlx::query_scalar("DELETE FROM refetches WHERE terminal_id = ? AND book = ? RETURNING subject_id")
                .bind(terminal.0)
                .bind(book)
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
        Ok(taken.into_iter().map(AccountId).collect())
    }
}
