//! `sync`, `contacts`, `export`: the local address book.

use super::output::{DIM, STRONG, styled};
use super::{BookArg, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use roster_client::book::contact_vcard;
use roster_client::{Book, Contact, Credentials, Error, SyncObserver, WatchEvent};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Syncs below this many changes finish too fast for a bar to help.
const BAR_FROM: u64 = 200;

/// `roster sync`
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    book: BookArg,
}

/// `roster contacts`
#[derive(Debug, Args)]
pub(crate) struct ContactsArgs {
    #[command(flatten)]
    book: BookArg,
    #[command(subcommand)]
    search: Option<ContactsSearch>,
}

/// `roster contacts search TEXT`
#[derive(Debug, Subcommand)]
pub(crate) enum ContactsSearch {
    /// Contacts whose name, e-mail or phone contains TEXT (phones compare digits only).
    Search {
        /// What to look for.
        text: String,
    },
}

/// `roster export`
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    book: BookArg,
    /// The .vcf file to write (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    vcf: PathBuf,
    /// Only the contacts of this group (name as shown by `roster contacts`).
    #[arg(long)]
    group: Option<String>,
}

/// A progress bar on stderr, made only for large syncs; indicatif draws nothing when stderr
/// is not a terminal.
struct Bar {
    wanted: bool,
    bar: OnceLock<ProgressBar>,
}

impl SyncObserver for Bar {
    fn planned(&self, changes: u64) {
        if self.wanted && changes >= BAR_FROM {
            let bar = ProgressBar::new(changes);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} changes {eta}") {
                bar.set_style(style);
            }
            let _ = self.bar.set(bar);
        }
    }

    fn advanced(&self, versions: u64) {
        if let Some(bar) = self.bar.get() {
            bar.inc(versions);
        }
    }
}

/// Remembers the book folder (absolute, so that it means the same from any folder) for later
/// commands, when it was given with `--to`.
fn remember(cx: &Context, arg: &BookArg, dir: &Path, credentials: &mut Credentials) -> anyhow::Result<()> {
    if arg.dir.is_none() {
        return Ok(());
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if credentials.book.as_ref() != Some(&dir) {
        credentials.book = Some(dir);
        credentials.save(&cx.paths)?;
    }
    Ok(())
}

/// `roster sync [--to DIR]`
pub(crate) async fn sync(cx: &Context, args: SyncArgs) -> anyhow::Result<()> {
    let (client, mut credentials) = cx.client()?;
    let dir = cx.book_dir(&args.book)?;
    let book = Book::open(&dir, &credentials.server, credentials.account_id).await?;
    let bar = Bar {
        wanted: !cx.out.json(),
        bar: OnceLock::new(),
    };
    let result = roster_client::sync(&client, &book, &bar).await;
    if let Some(bar) = bar.bar.get() {
        bar.finish_and_clear();
    }
    book.close().await;
    let summary = result?;
    remember(cx, &args.book, &dir, &mut credentials)?;
    let value = serde_json::json!({"summary": summary, "line": summary.line(), "book": dir});
    cx.out.show(&value, || {
        anstream::println!("{}  {}", summary.line(), styled(DIM, dir.display()));
        if summary.kept_user_files > 0 {
            anstream::eprintln!(
                "{} contacts not written: files Roster did not write have their names",
                summary.kept_user_files
            );
        }
    })
}

/// `roster contacts [search TEXT]`
pub(crate) async fn contacts(cx: &Context, args: ContactsArgs) -> anyhow::Result<()> {
    let dir = cx.book_dir(&args.book)?;
    let book = Book::open_existing(&dir).await?;
    let mut contacts = book.contacts().await?;
    book.close().await;
    if let Some(ContactsSearch::Search { text }) = &args.search {
        contacts.retain(|c| matches(c, text));
    }
    cx.out.show(&contacts, || {
        for c in &contacts {
            let phones: Vec<&str> = c.card.phones.iter().map(|p| p.number.as_str()).collect();
            let emails: Vec<&str> = c.card.emails.iter().map(|e| e.address.as_str()).collect();
            anstream::println!(
                "{}  {}  {}  {}",
                styled(STRONG, c.card.formatted_name.as_deref().unwrap_or("(no name)")),
                phones.join(", "),
                emails.join(", "),
                styled(DIM, format!("[{}]", c.groups.join(", ")))
            );
        }
    })
}

/// Whether a contact matches a search: name and e-mail by substring, phones by digits.
fn matches(contact: &Contact, text: &str) -> bool {
    let needle = text.trim().to_lowercase();
    let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
    let looks_like_phone = !digits.is_empty() && needle.chars().all(|c| c.is_ascii_digit() || " +-()/.".contains(c));
    let card = &contact.card;
    let name = card.formatted_name.as_deref().unwrap_or_default().to_lowercase();
    name.contains(&needle)
        || card.emails.iter().any(|e| e.address.to_lowercase().contains(&needle))
        || (looks_like_phone
            && card.phones.iter().any(|p| {
                let number: String = p.number.chars().filter(char::is_ascii_digit).collect();
                // A national number (030…) matches the E.164 form without its leading zero.
                number.contains(&digits) || number.contains(digits.trim_start_matches('0'))
            }))
}

/// `roster export --vcf FILE [--group G]`
pub(crate) async fn export(cx: &Context, args: ExportArgs) -> anyhow::Result<()> {
    let dir = cx.book_dir(&args.book)?;
    let book = Book::open_existing(&dir).await?;
    let mut contacts = book.contacts().await?;
    let groups = book.group_names().await?;
    book.close().await;
    if let Some(group) = &args.group {
        if !groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
            return Err(Error::NotFound(format!("the address book has no group `{group}`")).into());
        }
        contacts.retain(|c| c.groups.iter().any(|g| g.eq_ignore_ascii_case(group)));
    }
    let text: String = contacts.iter().map(contact_vcard).collect();
    if args.vcf.as_os_str() == "-" {
        print!("{text}");
    } else {
        std::fs::write(&args.vcf, text)
            .map_err(|e| Error::Usage(format!("cannot write {}: {e}", args.vcf.display())))?;
        let value = serde_json::json!({"contacts": contacts.len(), "file": args.vcf});
        cx.out.show(&value, || {
            anstream::println!("{} contacts written to {}", contacts.len(), args.vcf.display());
        })?;
    }
    Ok(())
}

/// `roster watch`
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    book: BookArg,
}

/// `roster watch [--to DIR]`: one line per change until Ctrl-C or a revoked token.
pub(crate) async fn watch(cx: &Context, args: WatchArgs) -> anyhow::Result<()> {
    let (client, mut credentials) = cx.client()?;
    let dir = cx.book_dir(&args.book)?;
    let book = Book::open(&dir, &credentials.server, credentials.account_id).await?;
    remember(cx, &args.book, &dir, &mut credentials)?;
    let json = cx.out.json();
    let mut report = |event: WatchEvent| print_event(&event, json);
    let result = tokio::select! {
        result = roster_client::watch(&client, &credentials.token, &book, &mut report) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    book.close().await;
    Ok(result?)
}

fn print_event(event: &WatchEvent, json: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(event) {
            anstream::println!("{line}");
        }
        return;
    }
    match event {
        WatchEvent::Connected => anstream::eprintln!("{}", styled(DIM, "connected; watching for changes")),
        WatchEvent::Contact { group, name, change } => {
            let sign = match *change {
                "added" => "+",
                "removed" => "-",
                _ => "~",
            };
            anstream::println!("{sign} {}  {}", styled(STRONG, name), styled(DIM, format!("[{group}]")));
        }
        WatchEvent::Joined { group } => anstream::println!("joined {}", styled(STRONG, group)),
        WatchEvent::Left { group, removed } => {
            anstream::println!("left {} (-{removed})", styled(STRONG, group));
        }
        WatchEvent::Disconnected {
            reason,
            retry_in_seconds,
        } => anstream::eprintln!("{reason}; retrying in {retry_in_seconds} s"),
    }
}
