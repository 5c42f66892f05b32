//! [`AccountStore`] on PostgreSQL: accounts, terminals, stream tickets and account settings.

use super::{AccountLock, PgStore, append, internal, lock_account, lock_groups, retry};
use crate::domain::Result;
use crate::domain::ids::{AccountId, GroupId, TerminalId};
use crate::domain::model::{Account, AccountAuth, Change, ChangeKind, NewTerminal, Terminal};
use crate::domain::ports::{AccountStore, Refusable, Refusal};
use crate::store::rows::{AccountRow, TerminalRow, kind_str, select_terminals, ts};
use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Stores a new account inside a write; refused when the login is taken.
pub(super) async fn insert_account(conn: &mut PgConnection, account: &Account, password_hash: &str) -> Refusable<()> {
    let result = sqlx::query(
        "INSERT INTO accounts (id, login, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account.id.0)
    .bind(&account.login)
    .bind(&account.display_name)
    .bind(password_hash)
    .bind(ts(account.created_at))
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Refusal::LoginTaken {
            login: account.login.clone(),
        }
        .into()),
        Err(e) => Err(internal(e).into()),
    }
}

impl PgStore {
    /// One attempt at [`AccountStore::delete_account`].
    async fn delete_account_once(&self, id: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        // The account first, then every group it owns or is active in, in id order: the
        // order of every write (see the module's documentation). A join waiting on the
        // account cannot slip into a group about to be deleted.
        lock_account(&mut tx, id, AccountLock::Delete).await?;
        let involved: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM groups WHERE owner_id = $1 \
             UNION SELECT group_id FROM memberships WHERE account_id = $1 AND state = 'active'",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        lock_groups(&mut tx, &involved).await?;
        // Read again under the locks: the counts and states are now the committed ones.
        let owned: Vec<(Uuid, String, i64)> =
            sqlx::query_as("SELECT id, name, active_count FROM groups WHERE owner_id = $1 ORDER BY id")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(internal)?;
        if let Some((_, name, _)) = owned.iter().find(|(_, _, count)| *count > 1) {
            return Err(Refusal::OwnsSharedGroup { group: name.clone() }.into());
        }
        for (group, _, _) in &owned {
            sqlx::query("DELETE FROM groups WHERE id = $1")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let active: Vec<Uuid> = sqlx::query_scalar(
            "SELECT group_id FROM memberships WHERE account_id = $1 AND state = 'active' ORDER BY group_id",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        let mut changes = Vec::with_capacity(active.len());
        for group in active {
            sqlx::query("UPDATE groups SET active_count = active_count - 1 WHERE id = $1")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            changes.push(append(&mut tx, GroupId(group), id, ChangeKind::Remove, at).await?);
        }
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    /// The unrevoked terminal with this id, with its account.
    async fn terminal_with_account(&self, terminal: TerminalRow) -> Result<Option<(Account, Terminal)>> {
        let account: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = $1")
            .bind(terminal.account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        account
            .map(|a| Ok((a.account(), Terminal::try_from(terminal)?)))
            .transpose()
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, account: &Account, password_hash: &str) -> Refusable<()> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        insert_account(&mut conn, account, password_hash).await
    }

    async fn account_auth(&self, login: &str) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn account_auth_by_id(&self, id: AccountId) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn set_display_name(&self, id: AccountId, display_name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET display_name = $1 WHERE id = $2")
            .bind(display_name)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_account(&self, id: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>> {
        retry(|| self.delete_account_once(id, at)).await
    }

    async fn create_terminal(&self, new: &NewTerminal) -> Result<()> {
        let t = &new.terminal;
        sqlx::query(
            "INSERT INTO terminals (id, account_id, name, kind, token_hash, created_at, last_seen_at, group_books) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(t.id.0)
        .bind(t.account_id.0)
        .bind(&t.name)
        .bind(kind_str(t.kind))
        .bind(&new.token_hash)
        .bind(ts(t.created_at))
        .bind(t.last_seen_at.map(ts))
        .bind(t.group_books)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<(Account, Terminal)>> {
        let terminal: Option<TerminalRow> =
            sqlx::query_as(select_terminals!("WHERE token_hash = $1 AND revoked_at IS NULL"))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        match terminal {
            Some(terminal) => self.terminal_with_account(terminal).await,
            None => Ok(None),
        }
    }

    async fn touch_terminal(&self, id: TerminalId, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE terminals SET last_seen_at = $1 WHERE id = $2")
            .bind(ts(at))
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn terminals(&self, account: AccountId) -> Result<Vec<Terminal>> {
        let rows: Vec<TerminalRow> = sqlx::query_as(select_terminals!(
            "WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(Terminal::try_from).collect()
    }

    async fn set_terminal_group_books(&self, account: AccountId, id: TerminalId, listed: Option<bool>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE terminals SET group_books = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(listed)
        .bind(id.0)
        .bind(account.0)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn note_terminal_client(&self, id: TerminalId, client: &str) -> Result<()> {
        sqlx::query("UPDATE terminals SET client = $1 WHERE id = $2 AND client IS NULL")
            .bind(client)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn revoke_terminal(&self, account: AccountId, id: TerminalId, at: OffsetDateTime) -> Result<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE terminals SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(ts(at))
        .bind(id.0)
        .bind(account.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM push_registrations WHERE terminal_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_group_books(&self, account: AccountId) -> Result<bool> {
        let list: Option<bool> =
            sqlx::query_scalar("SELECT list_group_books FROM directory_settings WHERE account_id = $1")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(list.unwrap_or(false))
    }

    async fn set_list_group_books(&self, account: AccountId, list: bool) -> Result<()> {
        sqlx::query(
            "INSERT INTO directory_settings (account_id, list_group_books) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO UPDATE SET list_group_books = excluded.list_group_books",
        )
        .bind(account.0)
        .bind(list)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn create_ticket(&self, ticket_hash: &[u8], terminal: TerminalId, expires_at: OffsetDateTime) -> Result<()> {
        sqlx::query("INSERT INTO stream_tickets (ticket_hash, terminal_id, expires_at) VALUES ($1, $2, $3)")
            .bind(ticket_hash)
            .bind(terminal.0)
            .bind(ts(expires_at))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn redeem_ticket(&self, ticket_hash: &[u8], now: OffsetDateTime) -> Result<Option<(Account, Terminal)>> {
        // Purging is no part of redeeming (nothing waits for it), so each is a statement of
        // its own; two purges deleting the same rows may deadlock, and are then run again.
        retry(|| async move {
            sqlx::query("DELETE FROM stream_tickets WHERE expires_at <= $1")
                .bind(ts(now))
                .execute(&self.pool)
                .await
                .map_err(internal)
        })
        .await?;
        // Of two concurrent redemptions, the second waits for the first's delete and then
        // finds no row: a ticket is used once.
        let terminal: Option<Uuid> =
            sqlx::query_scalar("DELETE FROM stream_tickets WHERE ticket_hash = $1 RETURNING terminal_id")
                .bind(ticket_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        let Some(terminal) = terminal else {
            return Ok(None);
        };
        let row: Option<TerminalRow> = sqlx::query_as(select_terminals!("WHERE id = $1 AND revoked_at IS NULL"))
            .bind(terminal)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        match row {
            Some(row) => self.terminal_with_account(row).await,
            None => Ok(None),
        }
    }
}
