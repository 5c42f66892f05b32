//! `card show | set | import | export`: my own card.

use super::Context;
use super::output::{DIM, STRONG, styled};
use clap::{Args, Subcommand};
use roster_client::Error;
use roster_proto::api::{CardInput, CardView, Email, EmailKind, MyCard, PhoneInput, PhoneKind};
use roster_proto::vcard::{self, Extras, VcardVersion};
use std::path::PathBuf;

/// `roster card …`
#[derive(Debug, Subcommand)]
pub(crate) enum CardCommand {
    /// Show my card.
    Show,
    /// Change my card: the fields given replace those on the card, the others stay.
    Set(SetArgs),
    /// Replace my card with the one in a .vcf file.
    Import {
        /// A file holding one vCard (3.0 or 4.0).
        file: PathBuf,
    },
    /// Print my card as a vCard 4.0.
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Fields of `card set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Formatted name, e.g. "Anna Schmidt".
    #[arg(long)]
    name: Option<String>,
    /// A phone number, optionally typed: `+49 30 1234567` or `work:+49 30 1234567`
    /// (mobile, work, home, other). Repeat for several; replaces all phones.
    #[arg(long)]
    phone: Vec<String>,
    /// An e-mail address, optionally typed like phones (home, work, other). Repeat for
    /// several; replaces all addresses.
    #[arg(long)]
    email: Vec<String>,
    /// Organisation.
    #[arg(long)]
    org: Option<String>,
    /// Job title.
    #[arg(long)]
    title: Option<String>,
    /// Birthday, YYYY-MM-DD or --MM-DD.
    #[arg(long)]
    birthday: Option<String>,
    /// A note.
    #[arg(long)]
    note: Option<String>,
}

/// Runs a card command.
pub(crate) async fn run(cx: &Context, command: CardCommand) -> anyhow::Result<()> {
    let (client, credentials) = cx.client()?;
    match command {
        CardCommand::Show => {
            let card = client.my_card().await?.ok_or_else(no_card)?;
            cx.out.show(&card, || print_card(&card.card))
        }
        CardCommand::Set(args) => {
            let current = client.my_card().await?;
            let mut input = current.as_ref().map(|c| input_of(&c.card)).unwrap_or_default();
            apply(&mut input, args)?;
            let saved = client.set_card(&input, current.map(|c| c.revision)).await?;
            confirm(cx, &saved)
        }
        CardCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display())))?;
            let parsed = vcard::parse_one(&text).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
            let saved = client.set_card(&parsed.card, None).await?;
            confirm(cx, &saved)
        }
        CardCommand::Export { output } => {
            let card = client.my_card().await?.ok_or_else(no_card)?;
            let text = vcard::write(
                &credentials.account_id.to_string(),
                &card.card,
                VcardVersion::V4,
                &Extras::default(),
            );
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}

fn no_card() -> Error {
    Error::NotFound("you have no card yet: set one with `roster card set --name NAME --phone NUMBER`".into())
}

fn confirm(cx: &Context, saved: &MyCard) -> anyhow::Result<()> {
    cx.out.show(saved, || {
        anstream::println!("Card saved (revision {})", saved.revision);
        print_card(&saved.card);
    })
}

/// Prints a card's fields, one per line.
pub(crate) fn print_card(card: &CardView) {
    anstream::println!(
        "{}",
        styled(STRONG, card.formatted_name.as_deref().unwrap_or("(no name)"))
    );
    for phone in &card.phones {
        anstream::println!("  phone  {}  {}", phone.number, styled(DIM, kind_name(phone.kind)));
    }
    for email in &card.emails {
        anstream::println!("  email  {}", email.address);
    }
    let lines = [
        ("org", &card.organization),
        ("title", &card.title),
        ("birthday", &card.birthday),
        ("note", &card.note),
    ];
    for (label, value) in lines {
        if let Some(value) = value {
            anstream::println!("  {label:<6} {value}");
        }
    }
}

fn kind_name(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Mobile => "mobile",
        PhoneKind::Work => "work",
        PhoneKind::Home => "home",
        PhoneKind::Other => "other",
    }
}

/// The input that would store `card` unchanged.
fn input_of(card: &CardView) -> CardInput {
    CardInput {
        formatted_name: card.formatted_name.clone().unwrap_or_default(),
        name: card.name.clone(),
        phones: card
            .phones
            .iter()
            .map(|p| PhoneInput {
                number: p.number.clone(),
                kind: Some(p.kind),
            })
            .collect(),
        emails: card.emails.clone(),
        organization: card.organization.clone(),
        title: card.title.clone(),
        address: card.address.clone(),
        birthday: card.birthday.clone(),
        note: card.note.clone(),
        photo: card
            .photo
            .as_ref()
            .map(|p| format!("data:{};base64,{}", p.media_type, p.data)),
    }
}

/// Splits `type:value`; a value without a known type prefix is returned whole.
fn typed<'a>(text: &'a str, kinds: &[&str]) -> (Option<&'a str>, &'a str) {
    match text.split_once(':') {
        Some((kind, value)) if kinds.contains(&kind.trim().to_lowercase().as_str()) => {
            (Some(kind.trim()), value.trim())
        }
        _ => (None, text.trim()),
    }
}

fn apply(input: &mut CardInput, args: SetArgs) -> Result<(), Error> {
    if let Some(name) = args.name {
        input.formatted_name = name;
    }
    if !args.phone.is_empty() {
        input.phones = args
            .phone
            .iter()
            .map(|p| {
                let (kind, number) = typed(p, &["mobile", "work", "home", "other"]);
                let kind = kind.map(|k| match k.to_lowercase().as_str() {
                    "work" => PhoneKind::Work,
                    "home" => PhoneKind::Home,
                    "other" => PhoneKind::Other,
                    _ => PhoneKind::Mobile,
                });
                PhoneInput {
                    number: number.to_string(),
                    kind,
                }
            })
            .collect();
    }
    if !args.email.is_empty() {
        input.emails = args
            .email
            .iter()
            .map(|e| {
                let (kind, address) = typed(e, &["home", "work", "other"]);
                let kind = match kind.map(str::to_lowercase).as_deref() {
                    Some("home") => EmailKind::Home,
                    Some("work") => EmailKind::Work,
                    _ => EmailKind::Other,
                };
                Email {
                    address: address.to_string(),
                    kind,
                }
            })
            .collect();
    }
    let optional = [
        (args.org, &mut input.organization),
        (args.title, &mut input.title),
        (args.birthday, &mut input.birthday),
        (args.note, &mut input.note),
    ];
    for (value, field) in optional {
        if let Some(value) = value {
            // An empty value clears the field.
            *field = Some(value).filter(|v| !v.is_empty());
        }
    }
    if input.formatted_name.trim().is_empty() {
        return Err(Error::Usage("a card needs a name: pass --name".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_keep_unknown_prefixes_whole() {
        assert_eq!(typed("work:+49 30 1", &["work"]), (Some("work"), "+49 30 1"));
        assert_eq!(typed("+49 30 1", &["work"]), (None, "+49 30 1"));
        assert_eq!(typed("mailto:a@b", &["work"]), (None, "mailto:a@b"));
    }
}
