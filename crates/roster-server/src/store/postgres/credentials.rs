//! [`CredentialStore`] on PostgreSQL: failed-login counters, password changes and the
//! registration that joins a group in the same write.

use super::accounts::insert_account;
use super::groups::join_in;
use super::{PgStore, internal, retry};
use crate::domain::Result;
use crate::domain::ids::TerminalId;
use crate::domain::model::{Account, Change, Joining, LockRule, LoginFailures, PasswordChange};
use crate::domain::ports::{CredentialStore, Refusable};
use crate::store::rows::{from_ts, ts};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

impl PgStore {
    /// One attempt at [`CredentialStore::change_password`].
    async fn change_password_once(&self, change: &PasswordChange<'_>) -> Result<Vec<TerminalId>> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(change.password_hash)
            .bind(change.account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let revoked: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE terminals SET revoked_at = $1 \
             WHERE account_id = $2 AND id <> $3 AND revoked_at IS NULL AND (NOT $4 OR kind <> 'app_password') \
             RETURNING id",
        )
        .bind(ts(change.at))
        .bind(change.account.0)
        .bind(change.keep.0)
        .bind(change.keep_app_passwords)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM push_registrations WHERE terminal_id = ANY($1)")
            .bind(&revoked)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(revoked.into_iter().map(TerminalId).collect())
    }

    /// One attempt at [`CredentialStore::create_account_joining`].
    async fn create_account_joining_once(
        &self,
        account: &Account,
        password_hash: &str,
        joining: &Joining,
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        insert_account(&mut tx, account, password_hash).await?;
        let changes = join_in(&mut tx, joining).await?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn login_failures(&self, login: &str, client: &str) -> Result<Option<LoginFailures>> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT failures, locked_until FROM login_failures WHERE login = $1 AND client = $2")
                .bind(login)
                .bind(client)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(row.map(|(failures, locked_until)| LoginFailures {
            failures,
            locked_until: locked_until.map(from_ts),
        }))
    }

    async fn record_login_failure(
        &self,
        login: &str,
        client: &str,
        rule: LockRule,
        at: OffsetDateTime,
    ) -> Result<LoginFailures> {
        // One statement: the upsert locks the counter's row, so concurrent guesses (on any
        // instance) each see their own increment and none slips past the lock by reading a
        // stale count.
        let (failures, locked_until): (i64, Option<i64>) = sqlx::query_as(
            "INSERT INTO login_failures AS f (login, client, failures, locked_until, updated_at) \
             VALUES ($1, $2, 1, CASE WHEN $3 <= 1 THEN $4 + $5 END, $4) \
             ON CONFLICT (login, client) DO UPDATE SET \
               failures = f.failures + 1, \
               locked_until = CASE WHEN (f.failures + 1) % $3 = 0 \
                 THEN $4 + $5 * (1::BIGINT << LEAST((f.failures + 1) / $3 - 1, $6)::INTEGER) \
                 ELSE f.locked_until END, \
               updated_at = $4 \
             RETURNING failures, locked_until",
        )
        .bind(login)
        .bind(client)
        .bind(rule.every.max(1))
        .bind(ts(at))
        .bind(rule.lock_for.max(0))
        .bind(rule.max_doublings.clamp(0, 16))
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        Ok(LoginFailures {
            failures,
            locked_until: locked_until.map(from_ts),
        })
    }

    async fn clear_login_failures(&self, login: &str, client: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE login = $1 AND client = $2")
            .bind(login)
            .bind(client)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn purge_login_failures(&self, idle_since: OffsetDateTime, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM login_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $2)",
        )
        .bind(ts(idle_since))
        .bind(ts(now))
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(done.rows_affected())
    }

    async fn change_password(&self, change: &PasswordChange<'_>) -> Result<Vec<TerminalId>> {
        retry(|| self.change_password_once(change)).await
    }

    async fn create_account_joining(
        &self,
        account: &Account,
        password_hash: &str,
        joining: &Joining,
    ) -> Refusable<Vec<Change>> {
        retry(|| self.create_account_joining_once(account, password_hash, joining)).await
    }
}
