//! [`PushStore`] on SQLite: WebDAV-Push registrations.

use super::{SqliteStore, internal};
use crate::domain::Result;
use crate::domain::book::Book;
use crate::domain::ids::{AccountId, GroupId, RegistrationId, TerminalId};
use crate::domain::ports::{PushClaim, PushStore};
use crate::domain::push::PushRegistration;
use crate::store::rows::{PushRow, from_millis, millis, ts};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl PushStore for SqliteStore {
    async fn upsert_push_registration(
        &self,
        registration: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>> {
        let r = registration;
        let book = r.book.key();
        let mut tx = self.write().await?;
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM push_registrations WHERE account_id = ? AND book = ? AND push_resource = ?",
        )
        .bind(r.account_id.0)
        .bind(&book)
        .bind(&r.subscription.push_resource)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        if let Some(id) = existing {
            sqlx::query(
                "UPDATE push_registrations SET terminal_id = ?, public_key = ?, auth_secret = ?, expires_at = ?, \
                 told_token = NULL, told_at_ms = NULL WHERE id = ?",
            )
            .bind(r.terminal_id.0)
            .bind(&r.subscription.public_key)
            .bind(&r.subscription.auth_secret)
            .bind(ts(r.expires_at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            return Ok(Some((RegistrationId(id), false)));
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM push_registrations WHERE account_id = ?")
            .bind(r.account_id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        if held >= i64::from(max_per_account) {
            return Ok(None);
        }
        let group = match r.book {
            Book::Group(id) => Some(id.0),
            Book::Contacts | Book::Me => None,
        };
        sqlx::query(
            "INSERT INTO push_registrations (id, terminal_id, account_id, book, group_id, push_resource, \
             public_key, auth_secret, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.0)
        .bind(r.terminal_id.0)
        .bind(r.account_id.0)
        .bind(&book)
        .bind(group)
        .bind(&r.subscription.push_resource)
        .bind(&r.subscription.public_key)
        .bind(&r.subscription.auth_secret)
        .bind(ts(at))
        .bind(ts(r.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Some((r.id, true)))
    }

    async fn push_registration(&self, id: RegistrationId) -> Result<Option<PushRegistration>> {
        let row: Option<PushRow> = sqlx::query_as(
            "SELECT id, terminal_id, account_id, book, push_resource, public_key, auth_secret, expires_at \
             FROM push_registrations WHERE id = ?",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.and_then(PushRow::registration))
    }

    async fn delete_push_registration(&self, account: Option<AccountId>, id: RegistrationId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE id = ? AND (? IS NULL OR account_id = ?)")
            .bind(id.0)
            .bind(account.map(|a| a.0))
            .bind(account.map(|a| a.0))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_registrations_for_group(&self, group: GroupId) -> Result<Vec<RegistrationId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT r.id FROM push_registrations r \
             JOIN memberships m ON m.account_id = r.account_id AND m.group_id = ? AND m.state = 'active' \
             WHERE r.book = 'contacts' OR r.group_id = m.group_id",
        )
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(ids.into_iter().map(RegistrationId).collect())
    }

    async fn push_registrations_of(
        &self,
        account: AccountId,
        books: &[Book],
    ) -> Result<Vec<(RegistrationId, TerminalId)>> {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT id, terminal_id FROM push_registrations WHERE account_id = ");
        query.push_bind(account.0).push(" AND book IN (");
        let mut keys = query.separated(", ");
        for book in books {
            keys.push_bind(book.key());
        }
        query.push(")");
        let rows: Vec<(Uuid, Uuid)> = query.build_query_as().fetch_all(&self.pool).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, terminal)| (RegistrationId(id), TerminalId(terminal)))
            .collect())
    }

    async fn purge_push_registrations(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE expires_at <= ?")
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected())
    }

    async fn claim_push(
        &self,
        id: RegistrationId,
        token: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<PushClaim> {
        let now_ms = millis(now);
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        // One statement: SQLite runs it under its write lock, so two instances cannot both
        // see the old token.
        let claimed = sqlx::query(
            "UPDATE push_registrations SET told_token = ?, told_at_ms = ? \
             WHERE id = ? AND (told_token IS NULL OR told_token <> ?) \
             AND (told_at_ms IS NULL OR told_at_ms <= ? - ?)",
        )
        .bind(token)
        .bind(now_ms)
        .bind(id.0)
        .bind(token)
        .bind(now_ms)
        .bind(window_ms)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        if claimed.rows_affected() == 1 {
            return Ok(PushClaim::Claimed);
        }
        let told: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT told_token, told_at_ms FROM push_registrations WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        let told = told.as_ref().map(|(token, at)| (token.as_deref(), at.map(from_millis)));
        Ok(PushClaim::refused(told, token, window))
    }
}
