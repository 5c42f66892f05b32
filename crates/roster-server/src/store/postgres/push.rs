//! [`PushStore`] on PostgreSQL: WebDAV-Push registrations.

use super::{AccountLock, PgStore, internal, lock_account, retry};
use crate::domain::Result;
use crate::domain::book::Book;
use crate::domain::ids::{AccountId, GroupId, RegistrationId, TerminalId};
use crate::domain::ports::{PushClaim, PushStore};
use crate::domain::push::PushRegistration;
use crate::store::rows::{PushRow, from_millis, millis, ts};
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

impl PgStore {
    /// One attempt at [`PushStore::upsert_push_registration`].
    async fn upsert_push_registration_once(
        &self,
        r: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>> {
        let book = r.book.key();
        let mut tx = self.write().await?;
        // One registration write per account at a time: two renewals of one registration
        // cannot both insert, nor two new ones both pass the cap.
        lock_account(&mut tx, r.account_id, AccountLock::Exclusive).await?;
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM push_registrations WHERE account_id = $1 AND book = $2 AND push_resource = $3",
        )
        .bind(r.account_id.0)
        .bind(&book)
        .bind(&r.subscription.push_resource)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        if let Some(id) = existing {
            // Renewed: told nothing yet (see `claim_push`).
            sqlx::query(
                "UPDATE push_registrations SET terminal_id = $1, public_key = $2, auth_secret = $3, expires_at = $4, \
                 told_token = NULL, told_at_ms = NULL WHERE id = $5",
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
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM push_registrations WHERE account_id = $1")
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
             public_key, auth_secret, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
}

#[async_trait]
impl PushStore for PgStore {
    async fn upsert_push_registration(
        &self,
        registration: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>> {
        retry(|| self.upsert_push_registration_once(registration, max_per_account, at)).await
    }

    async fn push_registration(&self, id: RegistrationId) -> Result<Option<PushRegistration>> {
        let row: Option<PushRow> = sqlx::query_as(
            "SELECT id, terminal_id, account_id, book, push_resource, public_key, auth_secret, expires_at \
             FROM push_registrations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.and_then(PushRow::registration))
    }

    async fn delete_push_registration(&self, account: Option<AccountId>, id: RegistrationId) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM push_registrations WHERE id = $1 AND ($2::UUID IS NULL OR account_id = $2)")
                .bind(id.0)
                .bind(account.map(|a| a.0))
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_registrations_for_group(&self, group: GroupId) -> Result<Vec<RegistrationId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT r.id FROM push_registrations r \
             JOIN memberships m ON m.account_id = r.account_id AND m.group_id = $1 AND m.state = 'active' \
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
        let keys: Vec<String> = books.iter().map(Book::key).collect();
        let rows: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT id, terminal_id FROM push_registrations WHERE account_id = $1 AND book = ANY($2)")
                .bind(account.0)
                .bind(&keys)
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, terminal)| (RegistrationId(id), TerminalId(terminal)))
            .collect())
    }

    async fn purge_push_registrations(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE expires_at <= $1")
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
        // One conditional statement: a concurrent claim (on any instance) waits for this
        // row's lock, then checks the condition again against what this one wrote, so only
        // one of them tells the token.
        let claimed = sqlx::query(
            "UPDATE push_registrations SET told_token = $1, told_at_ms = $2 \
             WHERE id = $3 AND (told_token IS NULL OR told_token <> $1) \
             AND (told_at_ms IS NULL OR told_at_ms <= $2 - $4)",
        )
        .bind(token)
        .bind(now_ms)
        .bind(id.0)
        .bind(window_ms)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        if claimed.rows_affected() == 1 {
            return Ok(PushClaim::Claimed);
        }
        let told: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT told_token, told_at_ms FROM push_registrations WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        let told = told.as_ref().map(|(token, at)| (token.as_deref(), at.map(from_millis)));
        Ok(PushClaim::refused(told, token, window))
    }
}
