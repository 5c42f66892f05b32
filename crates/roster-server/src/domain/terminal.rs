//! Terminals: the credentials through which an account acts (a CLI login, a web session, an
//! app password for a device's address book), how each is issued, resolved to its caller,
//! scoped to its door, listed and revoked, and HTTP Basic authentication with app passwords.

use super::error::{Error, Result};
use super::ids::{AccountId, TerminalId};
use super::model::{Account, NewTerminal, Terminal};
use super::secret::{new_secret, secret_hash};
use super::{Roster, now};
use roster_proto::api::TerminalKind;
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

/// Prefix of every terminal credential.
pub(super) const TOKEN_PREFIX: &str = "rst_";
const MAX_TERMINAL_NAME: usize = 100;
// Seen timestamps are written at most this often per terminal, not on every request.
const SEEN_RESOLUTION: Duration = Duration::from_secs(60);
/// Why an app password is refused outside CardDAV.
pub const APP_PASSWORD_SCOPE: &str =
    "an app password opens CardDAV only; log in with the account's password for the JSON API";

/// A terminal's name as given, or the default name of its kind.
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
            TerminalKind::Web => "web browser".into(),
        }),
    }
}

impl Roster {
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

    /// Resolves a session terminal's credential (a login token) to its caller: the key of
    /// the JSON API and the stream. An app password is refused here: it opens CardDAV only.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let caller = self.resolve_credential(token).await?;
        match caller.terminal.kind {
            TerminalKind::Session => Ok(caller),
            TerminalKind::AppPassword => Err(Error::Forbidden(APP_PASSWORD_SCOPE.into())),
            // A page cookie is not a bearer token: it is refused as if unknown.
            TerminalKind::Web => Err(Error::Unauthorized),
        }
    }

    /// Resolves a web session's cookie to its caller: the key of the web pages. Any other
    /// credential is refused as if unknown (an app password never opens the pages).
    pub async fn authenticate_web(&self, token: &str) -> Result<Caller> {
        let caller = self.resolve_credential(token).await?;
        match caller.terminal.kind {
            TerminalKind::Web => Ok(caller),
            TerminalKind::Session | TerminalKind::AppPassword => Err(Error::Unauthorized),
        }
    }

    /// Resolves any terminal credential to its caller, and records that the terminal was seen.
    pub(crate) async fn resolve_credential(&self, token: &str) -> Result<Caller> {
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
            self.bus.publish(super::ports::Event::TerminalRevoked { terminal: id });
            tracing::info!(account = %caller.account.id, terminal = %id, "terminal revoked");
            Ok(())
        } else {
            Err(Error::NotFound("terminal"))
        }
    }

    /// Creates an app password: a terminal whose credential a device's address book uses
    /// with HTTP Basic, listing the per-group books as `group_books` says (`None`: as the
    /// account's setting says). Returns the password, shown once.
    pub async fn create_app_password(
        &self,
        caller: &Caller,
        name: Option<&str>,
        group_books: Option<bool>,
    ) -> Result<(String, Terminal)> {
        let name = terminal_name(name, TerminalKind::AppPassword)?;
        self.issue_terminal(caller.account.id, name, TerminalKind::AppPassword, group_books)
            .await
    }

    /// Chooses whether one app password's device lists the per-group books (`None`: as the
    /// account's setting says).
    pub async fn set_terminal_group_books(
        &self,
        caller: &Caller,
        id: TerminalId,
        group_books: Option<bool>,
    ) -> Result<Terminal> {
        let terminal = self
            .store
            .terminals(caller.account.id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(Error::NotFound("terminal"))?;
        if terminal.kind != TerminalKind::AppPassword {
            return Err(Error::invalid(
                "group_books",
                "only app passwords (CardDAV devices) have address books to list",
            ));
        }
        if !self
            .store
            .set_terminal_group_books(caller.account.id, id, group_books)
            .await?
        {
            return Err(Error::NotFound("terminal"));
        }
        Ok(Terminal {
            group_books,
            ..terminal
        })
    }

    /// Remembers which client (its User-Agent) first used an app password, shown in the
    /// terminal list and used to keep offering that device the books that suit it.
    pub async fn note_client(&self, caller: &Caller, client: &str) -> Result<()> {
        if caller.terminal.kind != TerminalKind::AppPassword || caller.terminal.client.is_some() {
            return Ok(());
        }
        let client: String = client.chars().filter(|c| !c.is_control()).take(200).collect();
        if client.trim().is_empty() {
            return Ok(());
        }
        self.store.note_terminal_client(caller.terminal.id, client.trim()).await
    }

    /// Authenticates HTTP Basic credentials: the login with one of its app passwords, or
    /// with the main password when the operator allows it. App passwords are checked first
    /// and no lock-out or failure limit stands in their way: they cannot be guessed, and
    /// someone guessing the main password must not cut the owner's phones off. Failures are
    /// limited per client network, whatever the login (so the answer says nothing about it).
    pub async fn authenticate_basic(&self, login: &str, password: &str, client: Option<IpAddr>) -> Result<Caller> {
        let login = login.trim().to_ascii_lowercase();
        if let Ok(caller) = self.resolve_credential(password).await
            && caller.account.login == login
            && caller.terminal.kind == TerminalKind::AppPassword
        {
            return Ok(caller);
        }
        self.limits.basic_permitted(client)?;
        if self.settings.basic_main_password {
            match self.check_password(&login, password, client).await {
                Ok(account) => {
                    // The main password belongs to no terminal; this stands for "the account
                    // itself" and is never stored.
                    let terminal = Terminal {
                        id: TerminalId(account.id.0),
                        account_id: account.id,
                        name: "main password".into(),
                        kind: TerminalKind::Session,
                        created_at: account.created_at,
                        last_seen_at: Some(now()),
                        group_books: None,
                        client: None,
                    };
                    return Ok(Caller { account, terminal });
                }
                Err(Error::Unauthorized) => {}
                Err(e) => return Err(e),
            }
        }
        self.limits.basic_failed(client);
        Err(Error::Unauthorized)
    }
}
