//! `register`, `login`, `logout`, `password`, `terminals`.

use super::output::{DIM, GOOD, STRONG, styled};
use super::{Context, parse_id};
use clap::{Args, Subcommand};
use roster_client::{Client, Credentials, Error};
use roster_proto::api::{ChangePasswordRequest, LoginRequest, RegisterRequest};

/// Where and as whom to log in.
#[derive(Debug, Args)]
pub(crate) struct Login {
    /// The server's URL, e.g. https://roster.example.org
    #[arg(long, env = "ROSTER_SERVER")]
    server: String,
    /// The login name.
    login: String,
    /// A name for this terminal, shown in `roster terminals` [default: roster on <host>].
    #[arg(long)]
    terminal_name: Option<String>,
}

/// A new account.
#[derive(Debug, Args)]
pub(crate) struct Register {
    #[command(flatten)]
    login: Login,
    /// How other members see the account [default: the login name].
    #[arg(long)]
    display_name: Option<String>,
    /// An invite link or code to accept with the registration (required by servers whose
    /// registration is invite-only).
    #[arg(long)]
    invite: Option<String>,
}

/// A new main password.
#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// Keep the app passwords (phones' address books) working; every other terminal is
    /// logged out in any case.
    #[arg(long)]
    keep_app_passwords: bool,
}

/// `roster terminals revoke ID`
#[derive(Debug, Subcommand)]
pub(crate) enum TerminalsAction {
    /// Revoke a terminal: its token stops working at once.
    Revoke {
        /// The terminal's id (from `roster terminals`).
        id: String,
    },
}

/// The password: `ROSTER_PASSWORD`, else a prompt that does not echo.
fn password(confirm: bool) -> Result<String, Error> {
    if let Ok(password) = std::env::var("ROSTER_PASSWORD") {
        return Ok(password);
    }
    let no_terminal = |_| Error::Usage("no terminal to ask for the password: set ROSTER_PASSWORD".into());
    let password = rpassword::prompt_password("Password: ").map_err(no_terminal)?;
    if confirm && rpassword::prompt_password("Password again: ").map_err(no_terminal)? != password {
        return Err(Error::Usage("the passwords differ".into()));
    }
    Ok(password)
}

fn default_terminal_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this computer".into());
    format!("roster on {host}")
}

/// Logs in and stores the credentials; keeps the remembered book folder of the same account.
async fn log_in(cx: &Context, client: &Client, args: Login, password: String) -> anyhow::Result<()> {
    let response = client
        .login(&LoginRequest {
            login: args.login.clone(),
            password,
            terminal_name: Some(args.terminal_name.unwrap_or_else(default_terminal_name)),
        })
        .await?;
    let book = Credentials::load(&cx.paths)
        .ok()
        .flatten()
        .filter(|c| c.account_id == response.account.id && c.server == client.base())
        .and_then(|c| c.book);
    Credentials {
        server: client.base().to_string(),
        login: response.account.login.clone(),
        account_id: response.account.id,
        terminal_id: response.terminal.id,
        token: response.token.clone(),
        book,
    }
    .save(&cx.paths)?;
    cx.out.show(&response.account, || {
        anstream::println!(
            "{} as {} on {} (terminal {})",
            styled(GOOD, "Logged in"),
            styled(STRONG, &response.account.login),
            client.base(),
            styled(DIM, &response.terminal.name)
        );
    })
}

/// `roster register`
pub(crate) async fn register(cx: &Context, args: Register) -> anyhow::Result<()> {
    let client = Client::new(&args.login.server, None)?;
    let password = password(std::env::var_os("ROSTER_PASSWORD").is_none())?;
    client
        .register(&RegisterRequest {
            login: args.login.login.clone(),
            password: password.clone(),
            display_name: args.display_name,
            invite: args.invite,
        })
        .await?;
    log_in(cx, &client, args.login, password).await
}

/// `roster login`
pub(crate) async fn login(cx: &Context, args: Login) -> anyhow::Result<()> {
    let client = Client::new(&args.server, None)?;
    let password = password(false)?;
    log_in(cx, &client, args, password).await
}

/// `roster logout`
pub(crate) async fn logout(cx: &Context) -> anyhow::Result<()> {
    let (client, credentials) = cx.client()?;
    match client.logout().await {
        // Already revoked elsewhere: the local credentials are useless either way.
        Ok(()) | Err(Error::TokenRejected) => {}
        Err(e) => return Err(e.into()),
    }
    Credentials::remove(&cx.paths)?;
    cx.out.show(&serde_json::json!({"logged_out": credentials.login}), || {
        anstream::println!("Logged out {} from {}", credentials.login, credentials.server);
    })
}

/// `roster password`: the current password (prompt, or `ROSTER_PASSWORD`), then the new one
/// (prompted twice, or `ROSTER_NEW_PASSWORD`).
pub(crate) async fn change_password(cx: &Context, args: PasswordArgs) -> anyhow::Result<()> {
    let (client, _) = cx.client()?;
    let current = password(false)?;
    let new_password = match std::env::var("ROSTER_NEW_PASSWORD") {
        Ok(new_password) => new_password,
        Err(_) => {
            let no_terminal =
                |_| Error::Usage("no terminal to ask for the new password: set ROSTER_NEW_PASSWORD".into());
            let first = rpassword::prompt_password("New password: ").map_err(no_terminal)?;
            if rpassword::prompt_password("New password again: ").map_err(no_terminal)? != first {
                return Err(Error::Usage("the passwords differ".into()).into());
            }
            first
        }
    };
    let changed = client
        .change_password(&ChangePasswordRequest {
            current_password: current,
            new_password,
            keep_app_passwords: args.keep_app_passwords,
        })
        .await?;
    cx.out.show(&changed, || {
        anstream::println!(
            "{}; {} other terminal(s) logged out",
            styled(GOOD, "Password changed"),
            changed.revoked_terminals.len()
        );
    })
}

/// `roster terminals [revoke ID]`
pub(crate) async fn terminals(cx: &Context, action: Option<TerminalsAction>) -> anyhow::Result<()> {
    let (client, credentials) = cx.client()?;
    match action {
        Some(TerminalsAction::Revoke { id }) => {
            let id = parse_id(&id, "terminal")?;
            client.revoke_terminal(id).await?;
            if id == credentials.terminal_id {
                Credentials::remove(&cx.paths)?;
            }
            cx.out.show(&serde_json::json!({"revoked": id}), || {
                anstream::println!("Revoked terminal {id}");
            })
        }
        None => {
            let terminals = client.terminals().await?;
            cx.out.show(&terminals, || {
                for t in &terminals {
                    let current = if t.current { " (this one)" } else { "" };
                    let seen = t.last_seen_at.as_deref().unwrap_or("never");
                    anstream::println!(
                        "{}  {}{current}  last seen {seen}",
                        styled(DIM, t.id),
                        styled(STRONG, &t.name)
                    );
                }
            })
        }
    }
}
