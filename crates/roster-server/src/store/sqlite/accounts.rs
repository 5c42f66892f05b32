//! [`AccountStore`] on SQLite: accounts, terminals, stream tickets and account settings.

use super::{SqliteStore, append, internal};
use crate::domain::Result;
use crate::domain::ids::{AccountId, GroupId, TerminalId};
use crate::domain::model::{Account, AccountAuth, Change, ChangeKind, NewTerminal, Terminal};
use crate::domain::ports::{AccountStore, Refusable, Refusal};
use crate::store::rows::{AccountRow, TerminalRow, kind_str, select_terminals, ts};
use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Stores a new account inside a write; refused when the login is taken.
pub(super) async fn insert_account(
    conn: &mut SqliteConnection,
    account: &Account,
    password_hash: &str,
) -> Refusable<()> {
    let result =
        sqlx::query("INSERT INTO accounts (id, login, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
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

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, account: &Account, password_hash: &str) -> Refusable<()> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        insert_account(&mut conn, account, password_hash).await
    }

    async fn account_auth(&self, login: &str) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE login = ?")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn account_auth_by_id(&self, id: AccountId) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn set_display_name(&self, id: AccountId, display_name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET display_name = ? WHERE id = ?")
            .bind(display_name)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_account(&self, id: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        let owned: Vec<(Uuid, String, i64)> =
            sqlx::query_as("SELECT id, name, active_count FROM groups WHERE owner_id = ?")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(internal)?;
        if let Some((_, name, _)) = owned.iter().find(|(_, _, count)| *count > 1) {
            return Err(Refusal::OwnsSharedGroup { group: name.clone() }.into());
        }
        for (group, _, _) in &owned {
            sqlx::query("DELETE FROM groups WHERE id = ?")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let active: Vec<Uuid> =
            sqlx::query_scalar("SELECT group_id FROM memberships WHERE account_id = ? AND state = 'active'")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(internal)?;
        let mut changes = Vec::with_capacity(active.len());
        for group in active {
            sqlx::query("UPDATE groups SET active_count = active_count - 1 WHERE id = ?")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            changes.push(append(&mut tx, GroupId(group), id, ChangeKind::Remove, at).await?);
        }
        sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn create_terminal(&self, new: &NewTerminal) -> Result<()> {
        let t = &new.terminal;
        sqlx::query(
            "INSERT INTO terminals (id, account_id, name, kind, token_hash, created_at, last_seen_at, group_books) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        let Some(terminal): Option<TerminalRow> =
            sqlx::query_as(select_terminals!("WHERE token_hash = ? AND revoked_at IS NULL"))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?
        else {
            return Ok(None);
        };
        let account: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(terminal.account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        account
            .map(|a| Ok((a.account(), Terminal::try_from(terminal)?)))
            .transpose()
    }

    async fn touch_terminal(&self, id: TerminalId, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE terminals SET last_seen_at = ? WHERE id = ?")
            .bind(ts(at))
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn terminals(&self, account: AccountId) -> Result<Vec<Terminal>> {
        let rows: Vec<TerminalRow> = sqlx::query_as(select_terminals!(
            "WHERE account_id = ? AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(Terminal::try_from).collect()
    }

    async fn set_terminal_group_books(&self, account: AccountId, id: TerminalId, listed: Option<bool>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE terminals SET group_books = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL")
                .bind(listed)
                .bind(id.0)
                .bind(account.0)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn note_terminal_client(&self, id: TerminalId, client: &str) -> Result<()> {
        sqlx::query("UPDATE terminals SET client = ? WHERE id = ? AND client IS NULL")
            .bind(client)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn revoke_terminal(&self, account: AccountId, id: TerminalId, at: OffsetDateTime) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE terminals SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(id.0)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        sqlx::query("DELETE FROM push_registrations WHERE terminal_id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_group_books(&self, account: AccountId) -> Result<bool> {
        let list: Option<bool> =
            sqlx::query_scalar("SELECT list_group_books FROM directory_settings WHERE account_id = ?")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(list.unwrap_or(false))
    }

    async fn set_list_group_books(&self, account: AccountId, list: bool) -> Result<()> {
        sqlx::query(
            "INSERT INTO directory_settings (account_id, list_group_books) VALUES (?1, ?2) \
             ON CONFLICT (account_id) DO UPDATE SET list_group_books = ?2",
        )
        .bind(account.0)
        .bind(list)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn create_ticket(&self, ticket_hash: &[u8], terminal: TerminalId, expires_at: OffsetDateTime) -> Result<()> {
        sqlx::query("INSERT INTO stream_tickets (ticket_hash, terminal_id, expires_at) VALUES (?, ?, ?)")
            .bind(ticket_hash)
            .bind(terminal.0)
            .bind(ts(expires_at))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn redeem_ticket(&self, ticket_hash: &[u8], now: OffsetDateTime) -> Result<Option<(Account, Terminal)>> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM stream_tickets WHERE expires_at <= ?")
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let terminal: Option<Uuid> =
            sqlx::query_scalar("DELETE FROM stream_tickets WHERE ticket_hash = ? RETURNING terminal_id")
                .bind(ticket_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let Some(terminal) = terminal else {
            return Ok(None);
        };
        let row: Option<TerminalRow> = sqlx::query_as(select_terminals!("WHERE id = ? AND revoked_at IS NULL"))
            .bind(terminal)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let account: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(row.account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        account.map(|a| Ok((a.account(), Terminal::try_from(row)?))).transpose()
    }
}
