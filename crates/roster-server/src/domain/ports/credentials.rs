//! The credentials port: failed-login counters per login name and client network, the
//! password change that revokes other terminals in the same write, and the registration
//! that joins a group in the same write as it creates the account.

use super::Refusable;
use crate::domain::Result;
use crate::domain::ids::TerminalId;
use crate::domain::model::{Account, Change, Joining, LockRule, LoginFailures, PasswordChange};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Storage of credentials' guard data.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// The failures counted for a login name from a client network.
    async fn login_failures(&self, login: &str, client: &str) -> Result<Option<LoginFailures>>;
    /// Counts one failure atomically (one statement, whatever the concurrency) and locks the
    /// pair as `rule` says; returns the new state.
    async fn record_login_failure(
        &self,
        login: &str,
        client: &str,
        rule: LockRule,
        at: OffsetDateTime,
    ) -> Result<LoginFailures>;
    /// Forgets the failures of a login name from a client network (after a success).
    async fn clear_login_failures(&self, login: &str, client: &str) -> Result<()>;
    /// Deletes counters untouched since `idle_since` whose lock has lapsed by `now`.
    async fn purge_login_failures(&self, idle_since: OffsetDateTime, now: OffsetDateTime) -> Result<u64>;
    /// Replaces the password hash and revokes the other terminals (all but `keep`, and the
    /// app passwords too unless kept), dropping their push registrations, in one write.
    /// Returns the revoked terminals.
    async fn change_password(&self, change: &PasswordChange<'_>) -> Result<Vec<TerminalId>>;
    /// Stores a new account and, in the same write, its join through an invite (whose use is
    /// counted and checked there): either both happen or neither. Refused as
    /// [`AccountStore::create_account`](super::AccountStore::create_account) and
    /// [`GroupStore::join`](super::GroupStore::join) are.
    async fn create_account_joining(
        &self,
        account: &Account,
        password_hash: &str,
        joining: &Joining,
    ) -> Refusable<Vec<Change>>;
}
