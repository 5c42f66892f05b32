//! The accounts port: accounts, their terminals (the credentials devices hold), stream
//! tickets and per-account settings.

use super::Refusable;
use crate::domain::Result;
use crate::domain::ids::{AccountId, TerminalId};
use crate::domain::model::{Account, AccountAuth, Change, NewTerminal, Terminal};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Storage of accounts and terminals.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    // Accounts

    /// Stores a new account; refused with `LoginTaken` when the login is taken.
    async fn create_account(&self, account: &Account, password_hash: &str) -> Refusable<()>;
    /// The account with this login, with its password hash.
    async fn account_auth(&self, login: &str) -> Result<Option<AccountAuth>>;
    /// The account with this id, with its password hash.
    async fn account_auth_by_id(&self, id: AccountId) -> Result<Option<AccountAuth>>;
    /// Sets an account's display name; false when there is no such account.
    async fn set_display_name(&self, id: AccountId, display_name: &str) -> Result<bool>;
    /// Deletes an account with its terminals, credentials and push registrations: removes it
    /// from every group (appending removals) and deletes the groups it owns alone. Refused
    /// with `OwnsSharedGroup` when it owns a group that has other active members.
    async fn delete_account(&self, id: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>>;

    // Terminals

    /// Stores a new terminal.
    async fn create_terminal(&self, terminal: &NewTerminal) -> Result<()>;
    /// The unrevoked terminal holding this credential hash, with its account.
    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<(Account, Terminal)>>;
    /// Records that a terminal was seen.
    async fn touch_terminal(&self, id: TerminalId, at: OffsetDateTime) -> Result<()>;
    /// The account's unrevoked terminals, oldest first.
    async fn terminals(&self, account: AccountId) -> Result<Vec<Terminal>>;
    /// Sets whether a terminal lists the per-group books (`None`: as the account says); false
    /// when the account has no such unrevoked terminal.
    async fn set_terminal_group_books(&self, account: AccountId, id: TerminalId, listed: Option<bool>) -> Result<bool>;
    /// Remembers the client that first used a terminal (kept once set).
    async fn note_terminal_client(&self, id: TerminalId, client: &str) -> Result<()>;
    /// Revokes one of the account's terminals, dropping its push registrations; false when
    /// there is no such terminal.
    async fn revoke_terminal(&self, account: AccountId, id: TerminalId, at: OffsetDateTime) -> Result<bool>;

    // Stream tickets

    /// Stores a single-use stream ticket for a terminal.
    async fn create_ticket(&self, ticket_hash: &[u8], terminal: TerminalId, expires_at: OffsetDateTime) -> Result<()>;
    /// Consumes a ticket: the terminal and account it was issued to, if it is unexpired and
    /// the terminal is not revoked. Expired tickets are purged on the way.
    async fn redeem_ticket(&self, ticket_hash: &[u8], now: OffsetDateTime) -> Result<Option<(Account, Terminal)>>;

    // Settings

    /// Whether the account lists one address book per group besides `contacts` (default off).
    async fn list_group_books(&self, account: AccountId) -> Result<bool>;
    /// Sets whether the account lists one address book per group.
    async fn set_list_group_books(&self, account: AccountId, list: bool) -> Result<()>;
}
