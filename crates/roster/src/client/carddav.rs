//! `roster carddav`: app passwords for the address books of phones and desktops (CardDAV), and
//! which books they list.

use super::output::{DIM, GOOD, NOTE, STRONG, styled};
use super::{Context, parse_id};
use clap::{Subcommand, ValueEnum};
use roster_proto::api::{AppPasswordRequest, DirectorySettings, TerminalBooks, TerminalKind};

/// `roster carddav …`
#[derive(Debug, Subcommand)]
pub(crate) enum CarddavCommand {
    /// Create an app password for one device's address book (shown once) and print how to set
    /// the device up.
    Add {
        /// The device's name, shown in `roster terminals` [default: CardDAV].
        name: Option<String>,
        /// Whether this device lists one book per group besides `contacts`
        /// [default: the account's choice, see `carddav group-books`].
        #[arg(long, value_name = "on|off")]
        group_books: Option<Switch>,
    },
    /// List the devices that use an app password, with the client each was first used by.
    List,
    /// Whether the per-group books are listed: for the account (every device that has no
    /// choice of its own), or with --device for one device (`default`: follow the account).
    GroupBooks {
        /// on, off, or (with --device) default.
        value: Choice,
        /// The device's terminal id (from `roster carddav list`).
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
}

/// On or off.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Switch {
    On,
    Off,
}

/// On, off, or as the account says.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Choice {
    On,
    Off,
    Default,
}

fn on_off(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "on",
        Some(false) => "off",
        None => "account default",
    }
}

/// Runs one `carddav` command.
pub(crate) async fn run(cx: &Context, command: CarddavCommand) -> anyhow::Result<()> {
    let (client, credentials) = cx.client()?;
    match command {
        CarddavCommand::Add { name, group_books } => {
            let created = client
                .create_app_password(&AppPasswordRequest {
                    name: Some(name.unwrap_or_else(|| "CardDAV".into())),
                    group_books: group_books.map(|s| matches!(s, Switch::On)),
                })
                .await?;
            let server = format!("{}/dav/", client.base());
            cx.out.show(
                &serde_json::json!({
                    "server": server,
                    "login": credentials.login,
                    "password": created.password,
                    "terminal": created.terminal,
                }),
                || {
                    anstream::println!(
                        "{} for {}",
                        styled(GOOD, "App password created"),
                        styled(STRONG, &created.terminal.name)
                    );
                    anstream::println!("  Server:    {server}");
                    anstream::println!("  User name: {}", credentials.login);
                    anstream::println!("  Password:  {}", styled(STRONG, &created.password));
                    anstream::println!(
                        "{}",
                        styled(
                            NOTE,
                            "The password is shown only now. Revoke it with `roster terminals revoke ID`."
                        )
                    );
                    anstream::println!("{}", styled(DIM, format!("terminal {}", created.terminal.id)));
                },
            )
        }
        CarddavCommand::List => {
            let devices: Vec<_> = client
                .terminals()
                .await?
                .into_iter()
                .filter(|t| t.kind == TerminalKind::AppPassword)
                .collect();
            let default = client.directory_settings().await?;
            cx.out.show(&devices, || {
                anstream::println!(
                    "Group books for the account: {}",
                    on_off(Some(default.list_group_books))
                );
                if devices.is_empty() {
                    anstream::println!("No app passwords yet: `roster carddav add NAME` creates one.");
                }
                for t in &devices {
                    let seen = t.last_seen_at.as_deref().unwrap_or("never");
                    let used_by = t.client.as_deref().unwrap_or("not used yet");
                    anstream::println!(
                        "{}  {}  group books: {}  last seen {seen}  {}",
                        styled(DIM, t.id),
                        styled(STRONG, &t.name),
                        on_off(t.group_books),
                        styled(DIM, used_by)
                    );
                }
            })
        }
        CarddavCommand::GroupBooks { value, device } => match device {
            Some(device) => {
                let id = parse_id(&device, "terminal")?;
                let group_books = match value {
                    Choice::On => Some(true),
                    Choice::Off => Some(false),
                    Choice::Default => None,
                };
                let terminal = client.set_terminal_books(id, &TerminalBooks { group_books }).await?;
                cx.out.show(&terminal, || {
                    anstream::println!("Group books for {}: {}", terminal.name, on_off(terminal.group_books));
                })
            }
            None => {
                let list_group_books = match value {
                    Choice::On => true,
                    Choice::Off => false,
                    Choice::Default => {
                        return Err(roster_client::Error::Usage(
                            "`default` is for one device (--device ID); the account's choice is on or off".into(),
                        )
                        .into());
                    }
                };
                let settings = client
                    .set_directory_settings(&DirectorySettings { list_group_books })
                    .await?;
                cx.out.show(&settings, || {
                    anstream::println!(
                        "Group books for the account: {}",
                        on_off(Some(settings.list_group_books))
                    );
                })
            }
        },
    }
}
