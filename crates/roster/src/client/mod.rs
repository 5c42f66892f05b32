//! The terminal client's commands: parsing (clap), then one function per command that calls
//! `roster-client` and prints text or `--json`. No HTTP or file format details live here.

mod account;
mod book;
mod card;
mod carddav;
pub(crate) mod exit;
mod group;
mod output;

use clap::{Args, Subcommand};
use roster_client::{Client, Credentials, Error, Paths};
use std::path::PathBuf;
use uuid::Uuid;

/// The client commands (flattened into `roster`'s command list beside `serve`).
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create an account on a server and log this terminal in.
    Register(account::Register),
    /// Log this terminal in (password from a prompt, or ROSTER_PASSWORD).
    Login(account::Login),
    /// Log this terminal out: the server revokes its token and the local credentials go.
    Logout,
    /// Change the account's password; every other terminal is logged out (app passwords too,
    /// unless --keep-app-passwords).
    Password(account::PasswordArgs),
    /// List this account's terminals, or revoke one.
    Terminals {
        #[command(subcommand)]
        action: Option<account::TerminalsAction>,
    },
    /// Show or change my own card.
    #[command(subcommand)]
    Card(card::CardCommand),
    /// Groups: create, invite, join, approve, leave, share…
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Phones' and desktops' address books (CardDAV): app passwords and the books they list.
    #[command(subcommand)]
    Carddav(carddav::CarddavCommand),
    /// Bring the local address book (a vdir folder) up to date with every group.
    Sync(book::SyncArgs),
    /// Stay connected and apply each change to the local address book as it happens.
    Watch(book::WatchArgs),
    /// List or search the contacts of the local address book (offline).
    Contacts(book::ContactsArgs),
    /// Write the local address book as one multi-contact .vcf file (offline).
    Export(book::ExportArgs),
}

/// Where the address book is, for commands that read or write it.
#[derive(Debug, Clone, Args)]
pub(crate) struct BookArg {
    /// Address book folder [default: the folder of the last `sync --to`, else
    /// $XDG_DATA_HOME/roster/contacts].
    #[arg(long = "to", value_name = "DIR", env = "ROSTER_BOOK")]
    dir: Option<PathBuf>,
}

/// What every command gets: where state lives and how to print.
#[derive(Debug)]
pub(crate) struct Context {
    paths: Paths,
    out: output::Out,
}

impl Context {
    /// The stored credentials, or the error that says to log in.
    fn credentials(&self) -> Result<Credentials, Error> {
        Credentials::load(&self.paths)?.ok_or(Error::NotLoggedIn)
    }

    /// A client logged in as this terminal, with its credentials.
    fn client(&self) -> Result<(Client, Credentials), Error> {
        let credentials = self.credentials()?;
        let client = Client::new(&credentials.server, Some(credentials.token.clone()))?;
        Ok((client, credentials))
    }

    /// The book folder: the flag, else the remembered one, else the default.
    fn book_dir(&self, arg: &BookArg) -> Result<PathBuf, Error> {
        if let Some(dir) = &arg.dir {
            return Ok(dir.clone());
        }
        match Credentials::load(&self.paths)?.and_then(|c| c.book) {
            Some(dir) => Ok(dir),
            None => Paths::default_book(),
        }
    }
}

/// Runs one client command.
pub(crate) async fn run(command: Command, json: bool) -> anyhow::Result<()> {
    let cx = Context {
        paths: Paths::from_env()?,
        out: output::Out::new(json),
    };
    match command {
        Command::Register(args) => account::register(&cx, args).await?,
        Command::Login(args) => account::login(&cx, args).await?,
        Command::Logout => account::logout(&cx).await?,
        Command::Password(args) => account::change_password(&cx, args).await?,
        Command::Terminals { action } => account::terminals(&cx, action).await?,
        Command::Card(command) => card::run(&cx, command).await?,
        Command::Carddav(command) => carddav::run(&cx, command).await?,
        Command::Group(command) => group::run(&cx, command).await?,
        Command::Sync(args) => book::sync(&cx, args).await?,
        Command::Watch(args) => book::watch(&cx, args).await?,
        Command::Contacts(args) => book::contacts(&cx, args).await?,
        Command::Export(args) => book::export(&cx, args).await?,
    }
    Ok(())
}

/// Parses a UUID argument, or says which argument was wrong.
fn parse_id(text: &str, what: &str) -> Result<Uuid, Error> {
    text.parse()
        .map_err(|_| Error::Usage(format!("`{text}` is not a {what} id")))
}
