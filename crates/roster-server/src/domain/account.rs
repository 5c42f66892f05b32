//! Accounts: registration, login (which issues a terminal, see [`super::terminal`]), lock-out
//! on password guessing, password change and account deletion.

use super::error::{Error, FieldErrors, Result};
use super::group::invite_code;
use super::ids::{AccountId, TerminalId};
use super::limits::client_network;
use super::model::{Account, Joining, LockRule, PasswordChange, Terminal};
use super::secret::secret_hash;
use super::share_policy::ShareFields;
use super::terminal::{APP_PASSWORD_SCOPE, Caller, terminal_name};
use super::{Roster, now};
use roster_proto::api::{
    ChangePasswordRequest, JoinPolicy, LoginRequest, MembershipState, RegisterRequest, TerminalKind,
};
use std::net::IpAddr;
use std::time::Duration;

/// Who may create accounts, as the operator sets it (`registration` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Registration {
    /// Anyone may register.
    #[default]
    Open,
    /// An account is created only together with accepting a valid invite code.
    InviteOnly,
    /// Nobody may register; existing accounts keep working.
    Closed,
}

impl std::str::FromStr for Registration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "open" => Ok(Registration::Open),
            "invite-only" => Ok(Registration::InviteOnly),
            "closed" => Ok(Registration::Closed),
            other => Err(format!("`{other}` is none of open, invite-only, closed")),
        }
    }
}

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;
const MAX_DISPLAY_NAME: usize = 100;
/// Most doublings of a lock-out's length for one client network (15 min → 16 h by default).
const MAX_LOCK_DOUBLINGS: i64 = 6;
/// Failed-login counters untouched this long are forgotten.
const LOGIN_FAILURES_KEPT: Duration = Duration::from_secs(24 * 3600);

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

/// Checks a display name: 1 to 100 characters after trimming, no control characters.
pub fn parse_display_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control) {
        return Err(format!("1 to {MAX_DISPLAY_NAME} characters, no control characters"));
    }
    Ok(name.to_string())
}

impl Roster {
    /// Registers an account, as the server's [`Registration`] mode allows; with an invite
    /// code, the account joins that group in the same write (invite-only servers demand one).
    pub async fn register(&self, request: &RegisterRequest, client: Option<IpAddr>) -> Result<Account> {
        let mode = self.settings.registration;
        if mode == Registration::Closed {
            return Err(Error::Forbidden(
                "registration is closed on this server: ask its operator for an account".into(),
            ));
        }
        let mut errors = FieldErrors::default();
        let login = errors.check("login", parse_login(&request.login));
        let password_ok = (MIN_PASSWORD..=MAX_PASSWORD).contains(&request.password.chars().count());
        if !password_ok {
            errors.add("password", format!("{MIN_PASSWORD} to {MAX_PASSWORD} characters"));
        }
        let display_name = match request.display_name.as_deref().filter(|d| !d.trim().is_empty()) {
            Some(d) => errors.check("display_name", parse_display_name(d)),
            None => login.clone(),
        };
        let code = request.invite.as_deref().map(invite_code).filter(|c| !c.is_empty());
        if mode == Registration::InviteOnly && code.is_none() {
            errors.add(
                "invite",
                "this server creates accounts only together with an invite code",
            );
        }
        let (login, display_name) = errors.finish(|| (login.unwrap_or_default(), display_name.unwrap_or_default()))?;
        self.limits.registration(client)?;
        // The invite is checked before any hashing, so made-up codes cost nothing; its use is
        // counted (and checked again) in the write that creates the account.
        let at = now();
        let invite = match code {
            Some(code) => {
                let invite = self
                    .store
                    .invite_by_code(&secret_hash(code))
                    .await?
                    .ok_or(Error::NotFound("invite"))?;
                if !invite.usable(at) {
                    return Err(Error::InviteUnusable);
                }
                Some((invite.id, self.load_group(invite.group_id).await?))
            }
            None => None,
        };
        let hash = self.passwords.hash(&request.password).await?;
        let account = Account {
            id: AccountId::random(),
            login,
            display_name,
            created_at: at,
        };
        match invite {
            None => self.store.create_account(&account, &hash).await?,
            Some((invite, group)) => {
                let state = if group.join_policy == JoinPolicy::Approval {
                    MembershipState::Pending
                } else {
                    MembershipState::Active
                };
                let joining = Joining {
                    group_id: group.id,
                    account_id: account.id,
                    state,
                    share: ShareFields::default_policy(),
                    invite: Some(invite),
                    at,
                };
                let changes = self.store.create_account_joining(&account, &hash, &joining).await?;
                self.announce(&[(account.id, group.id)], &changes);
                tracing::info!(group = %group.id, account = %account.id, ?state, "invite accepted at registration");
            }
        }
        tracing::info!(account = %account.id, "account registered");
        Ok(account)
    }

    /// Logs in: checks the password and creates a terminal. Returns its credential, shown once.
    pub async fn login(
        &self,
        request: &LoginRequest,
        kind: TerminalKind,
        client: Option<IpAddr>,
    ) -> Result<(String, Terminal, Account)> {
        let name = terminal_name(request.terminal_name.as_deref(), kind)?;
        let login = request.login.trim().to_ascii_lowercase();
        self.limits.login(client)?;
        let account = self.check_password(&login, &request.password, client).await?;
        let (token, terminal) = self.create_terminal(account.id, name, kind).await?;
        Ok((token, terminal, account))
    }

    /// Verifies a login and password, with a lock-out after repeated failures that holds for
    /// the client network they came from only: guesses from elsewhere never lock the owner
    /// out. Unknown logins are counted and answered exactly as known ones.
    pub async fn check_password(&self, login: &str, password: &str, client: Option<IpAddr>) -> Result<Account> {
        let network = client_network(client);
        // A login that breaks the (public) naming rules cannot exist: it gets no counter, so
        // counters stay few and short whatever names an attacker makes up.
        let countable = parse_login(login).is_ok_and(|l| l == login);
        let at = now();
        let counted = if countable {
            self.store.login_failures(login, &network).await?
        } else {
            None
        };
        if let Some(until) = counted.and_then(|c| c.locked_until).filter(|until| *until > at) {
            return Err(Error::RateLimited {
                retry_after: Duration::try_from(until - at).unwrap_or_default(),
            });
        }
        let stored = if countable {
            self.store.account_auth(login).await?
        } else {
            None
        };
        // A wrong login takes as long as a wrong password.
        let verified = match &stored {
            Some(auth) => self.passwords.verify(password, &auth.password_hash).await?,
            None => {
                self.passwords.waste(password).await?;
                false
            }
        };
        match stored {
            Some(auth) if verified => {
                if counted.is_some() {
                    self.store.clear_login_failures(login, &network).await?;
                }
                Ok(auth.account)
            }
            _ => {
                if countable {
                    let rule = LockRule {
                        every: self.settings.lockout_after,
                        lock_for: i64::try_from(self.settings.lockout_for.as_secs()).unwrap_or(i64::MAX / 1024),
                        max_doublings: MAX_LOCK_DOUBLINGS,
                    };
                    let state = self.store.record_login_failure(login, &network, rule, at).await?;
                    if state.locked_until.is_some_and(|until| until > at) && state.failures % rule.every.max(1) == 0 {
                        tracing::warn!(%network, "login locked for one client network after repeated failures");
                    }
                }
                Err(Error::Unauthorized)
            }
        }
    }

    /// Changes the name the caller's fellow members see in member lists. Cards are separate,
    /// so no directory changes.
    pub async fn set_display_name(&self, caller: &Caller, display_name: &str) -> Result<Account> {
        if caller.terminal.kind == TerminalKind::AppPassword {
            return Err(Error::Forbidden(APP_PASSWORD_SCOPE.into()));
        }
        let display_name = parse_display_name(display_name).map_err(|m| Error::invalid("display_name", m))?;
        if !self.store.set_display_name(caller.account.id, &display_name).await? {
            return Err(Error::Unauthorized);
        }
        tracing::info!(account = %caller.account.id, "display name changed");
        Ok(Account {
            display_name,
            ..caller.account.clone()
        })
    }

    /// Checks the caller's main password again before a grave change; limited per account,
    /// and refused to anything but a session terminal.
    async fn confirm_password(&self, caller: &Caller, password: &str) -> Result<()> {
        if caller.terminal.kind == TerminalKind::AppPassword {
            return Err(Error::Forbidden(APP_PASSWORD_SCOPE.into()));
        }
        self.limits.password_check(caller.account.id)?;
        let auth = self
            .store
            .account_auth_by_id(caller.account.id)
            .await?
            .ok_or(Error::Unauthorized)?;
        if self.passwords.verify(password, &auth.password_hash).await? {
            Ok(())
        } else {
            Err(Error::Forbidden("the password is wrong".into()))
        }
    }

    /// Deletes the caller's account after checking its password again; the account leaves
    /// every group and its groups without other members are deleted.
    pub async fn delete_account(&self, caller: &Caller, password: &str) -> Result<()> {
        self.confirm_password(caller, password).await?;
        let changes = self.store.delete_account(caller.account.id, now()).await?;
        self.bus.publish(super::ports::Event::AccountClosed {
            account: caller.account.id,
        });
        self.publish(&changes);
        tracing::info!(account = %caller.account.id, "account deleted");
        Ok(())
    }

    /// Changes the caller's main password after checking the current one, and revokes every
    /// other terminal: sessions always, app passwords unless `keep_app_passwords` (a phone
    /// then keeps syncing). Returns the revoked terminals.
    pub async fn change_password(&self, caller: &Caller, request: &ChangePasswordRequest) -> Result<Vec<TerminalId>> {
        if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&request.new_password.chars().count()) {
            return Err(Error::invalid(
                "new_password",
                format!("{MIN_PASSWORD} to {MAX_PASSWORD} characters"),
            ));
        }
        self.confirm_password(caller, &request.current_password).await?;
        let hash = self.passwords.hash(&request.new_password).await?;
        let revoked = self
            .store
            .change_password(&PasswordChange {
                account: caller.account.id,
                password_hash: &hash,
                keep: caller.terminal.id,
                keep_app_passwords: request.keep_app_passwords,
                at: now(),
            })
            .await?;
        for terminal in &revoked {
            self.bus
                .publish(super::ports::Event::TerminalRevoked { terminal: *terminal });
        }
        tracing::info!(account = %caller.account.id, revoked = revoked.len(), "password changed");
        Ok(revoked)
    }

    /// Periodic upkeep: forgets idle rate-limit keys, frees idle password-hashing memory,
    /// compacts change logs and deletes lapsed push subscriptions.
    pub async fn housekeeping(&self) {
        self.limits.shrink();
        self.passwords.release_idle();
        let at = now();
        if let Err(e) = self.store.purge_login_failures(at - LOGIN_FAILURES_KEPT, at).await {
            tracing::error!(error = ?e, "login-failure clean-up failed");
        }
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
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(parse_display_name("  Anna S. "), Ok("Anna S.".into()));
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(101)] {
            assert!(parse_display_name(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_display_name(&"é".repeat(100)).is_ok());
    }
}
