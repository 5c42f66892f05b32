//! Accounts and terminals: registration, login (one terminal per login), credentials,
//! revocation, lock-out on password guessing, and account deletion.

use super::error::{Error, FieldErrors, Result};
use super::ids::{AccountId, TerminalId};
use super::model::{Account, NewTerminal, Terminal};
use super::{Roster, now};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_proto::api::{LoginRequest, RegisterRequest, TerminalKind};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

/// The caller of a request: an account acting through one of its terminals.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub account: Account,
    /// The terminal that presented the credential.
    pub terminal: Terminal,
}

const TOKEN_PREFIX: &str = "rst_";
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;
const MAX_TERMINAL_NAME: usize = 100;
// Seen timestamps are written at most this often per terminal, not on every request.
const SEEN_RESOLUTION: Duration = Duration::from_secs(60);

/// Checks a login name: 3 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn parse_login(login: &str) -> Result<String, String> {
    let login = login.trim().to_ascii_lowercase();
    let valid_chars = login
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    if !(3..=64).contains(&login.len()) || !valid_chars || !login.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("3 to 64 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit".into());
    }
    Ok(login)
}

/// A fresh random credential and the hash that is stored instead of it.
pub(crate) fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = secret_hash(&secret);
    (secret, hash)
}

/// The stored form of a credential or invite code.
pub(crate) fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn terminal_name(name: Option<&str>, kind: TerminalKind) -> Result<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match name {
        Some(n) if n.chars().count() > MAX_TERMINAL_NAME || n.chars().any(char::is_control) => Err(Error::invalid(
            "terminal_name",
            format!("at most {MAX_TERMINAL_NAME} characters, no control characters"),
        )),
        Some(n) => Ok(n.to_string()),
        None => Ok(match kind {
            TerminalKind::Session => "terminal".into(),
            TerminalKind::AppPassword => "app password".into(),
        }),
    }
}

impl Roster {
    /// Registers an account.
    pub async fn register(&self, request: &RegisterRequest, client: Option<IpAddr>) -> Result<Account> {
        let mut errors = FieldErrors::default();
        let login = errors.check("login", parse_login(&request.login));
        let password_ok = (MIN_PASSWORD..=MAX_PASSWORD).contains(&request.password.chars().count());
        if !password_ok {
            errors.add("password", format!("{MIN_PASSWORD} to {MAX_PASSWORD} characters"));
        }
        let display_name = match request.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) if d.chars().count() > 100 || d.chars().any(char::is_control) => {
                errors.add("display_name", "at most 100 characters, no control characters");
                None
            }
            Some(d) => Some(d.to_string()),
            None => login.clone(),
        };
        let (login, display_name) = errors.finish(|| (login.unwrap_or_default(), display_name.unwrap_or_default()))?;
        self.limits.registration(client)?;
        let hash = self.passwords.hash(&request.password).await?;
        let account = Account {
            id: AccountId::random(),
            login,
            display_name,
            created_at: now(),
        };
        self.store.create_account(&account, &hash).await?;
        tracing::info!(account = %account.id, "account registered");
        Ok(account)
    }

    /// Logs in: checks the password and creates a terminal. Returns its credential, shown once.
    /// Attempts are limited per client address, in total and per login name.
    pub async fn login(
        &self,
        request: &LoginRequest,
        kind: TerminalKind,
        client: Option<IpAddr>,
    ) -> Result<(String, Terminal, Account)> {
        let name = terminal_name(request.terminal_name.as_deref(), kind)?;
        let login = request.login.trim().to_ascii_lowercase();
        self.limits.login_attempt(client)?;
        self.limits.login(&login)?;
        let account = self.check_password(&login, &request.password).await?;
        let (token, terminal) = self.create_terminal(account.id, name, kind).await?;
        Ok((token, terminal, account))
    }

    /// Verifies a login and password, with lock-out after repeated failures.
    pub async fn check_password(&self, login: &str, password: &str) -> Result<Account> {
        let stored = self.store.account_auth(login).await?;
        let Some(auth) = stored else {
            self.passwords.waste(password).await?;
            return Err(Error::Unauthorized);
        };
        let at = now();
        if let Some(until) = auth.locked_until.filter(|until| *until > at) {
            return Err(Error::RateLimited {
                retry_after: Duration::try_from(until - at).unwrap_or_default(),
            });
        }
        if self.passwords.verify(password, &auth.password_hash).await? {
            if auth.failed_logins != 0 || auth.locked_until.is_some() {
                self.store.set_login_failures(auth.account.id, 0, None).await?;
            }
            return Ok(auth.account);
        }
        let failures = auth.failed_logins + 1;
        if failures >= self.settings.lockout_after {
            tracing::warn!(account = %auth.account.id, "account locked after repeated failed logins");
            self.store
                .set_login_failures(auth.account.id, 0, Some(at + self.settings.lockout_for))
                .await?;
        } else {
            self.store.set_login_failures(auth.account.id, failures, None).await?;
        }
        Err(Error::Unauthorized)
    }

    /// Creates a terminal with a fresh credential for an already authenticated account.
    pub async fn create_terminal(
        &self,
        account: AccountId,
        name: String,
        kind: TerminalKind,
    ) -> Result<(String, Terminal)> {
        self.issue_terminal(account, name, kind, None).await
    }

    /// Creates a terminal with a fresh credential, and its choice of group books (app
    /// passwords), stored in the same write.
    pub(super) async fn issue_terminal(
        &self,
        account: AccountId,
        name: String,
        kind: TerminalKind,
        group_books: Option<bool>,
    ) -> Result<(String, Terminal)> {
        let (token, token_hash) = new_secret(TOKEN_PREFIX);
        let at = now();
        let terminal = Terminal {
            id: TerminalId::random(),
            account_id: account,
            name,
            kind,
            created_at: at,
            last_seen_at: Some(at),
            group_books,
            client: None,
        };
        self.store
            .create_terminal(&NewTerminal {
                terminal: terminal.clone(),
                token_hash,
            })
            .await?;
        Ok((token, terminal))
    }

    /// Resolves a terminal credential to its caller, and records that the terminal was seen.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if token.is_empty() || token.len() > 200 {
            return Err(Error::Unauthorized);
        }
        let (account, mut terminal) = self
            .store
            .authenticate(&secret_hash(token))
            .await?
            .ok_or(Error::Unauthorized)?;
        let at = now();
        if terminal.last_seen_at.is_none_or(|seen| at - seen >= SEEN_RESOLUTION) {
            // Bookkeeping must not turn a read into a failure (disk full, read-only database).
            match self.store.touch_terminal(terminal.id, at).await {
                Ok(()) => terminal.last_seen_at = Some(at),
                Err(e) => tracing::warn!(error = %e, terminal = %terminal.id, "cannot record that a terminal was seen"),
            }
        }
        Ok(Caller { account, terminal })
    }

    /// The caller's terminals.
    pub async fn terminals(&self, caller: &Caller) -> Result<Vec<Terminal>> {
        self.store.terminals(caller.account.id).await
    }

    /// Revokes one of the caller's terminals (its credential stops working at once).
    pub async fn revoke_terminal(&self, caller: &Caller, id: TerminalId) -> Result<()> {
        if self.store.revoke_terminal(caller.account.id, id, now()).await? {
            self.bus.publish(crate::bus::Event::TerminalRevoked { terminal: id });
            tracing::info!(account = %caller.account.id, terminal = %id, "terminal revoked");
            Ok(())
        } else {
            Err(Error::NotFound("terminal"))
        }
    }

    /// Deletes the caller's account after checking its password again; the account leaves
    /// every group and its groups without other members are deleted.
    pub async fn delete_account(&self, caller: &Caller, password: &str) -> Result<()> {
        let auth = self
            .store
            .account_auth_by_id(caller.account.id)
            .await?
            .ok_or(Error::Unauthorized)?;
        if !self.passwords.verify(password, &auth.password_hash).await? {
            return Err(Error::Forbidden("the password is wrong".into()));
        }
        let changes = self.store.delete_account(caller.account.id, now()).await?;
        self.bus.publish(crate::bus::Event::AccountClosed {
            account: caller.account.id,
        });
        self.publish(&changes);
        tracing::info!(account = %caller.account.id, "account deleted");
        Ok(())
    }

    /// Periodic upkeep: forgets idle rate-limit keys, frees idle password-hashing memory,
    /// compacts change logs and deletes lapsed push subscriptions.
    pub async fn housekeeping(&self) {
        self.limits.shrink();
        self.passwords.release_idle();
        if let Err(e) = self.compact_log().await {
            tracing::error!(error = ?e, "change-log compaction failed");
        }
        if let Err(e) = self.purge_push().await {
            tracing::error!(error = ?e, "push subscription clean-up failed");
        }
    }

    /// Drops change-log entries beyond the retention (see [`super::Settings`]); terminals
    /// whose cursor falls below a group's new floor get a resync.
    pub async fn compact_log(&self) -> Result<u64> {
        let before = now() - self.settings.log_keep_for;
        let dropped = self.store.compact_log(self.settings.log_keep_versions, before).await?;
        if dropped > 0 {
            tracing::info!(dropped, "change log compacted");
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_checked_and_lower_cased() {
        assert_eq!(parse_login(" Anna.S "), Ok("anna.s".into()));
        for bad in ["ab", "-anna", "anna smith", "änna", &"a".repeat(65)] {
            assert!(parse_login(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (a, hash_a) = new_secret(TOKEN_PREFIX);
        let (b, _) = new_secret(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(secret_hash(&a), hash_a);
        assert_ne!(hash_a, a.as_bytes());
    }
}
