//! vCard text, as a CardDAV client PUTs it or `roster import` reads it, through
//! `roster_proto::vcard`. Beyond "never panics", it checks:
//!
//! 1. `parse_one` and `parse_all` agree on every input.
//! 2. Every card read writes back as a vCard 3.0 and 4.0 that reads as exactly one card with the
//!    same UID and categories (but for white space, which calcard trims and collapses), and one
//!    round trip normalises (two for a card without FN, which gets one on the first): the next
//!    one changes nothing.
//! 3. Every card the server accepts (`Card::parse`) comes back from its own vCard, in either
//!    version, as the very same validated card. This is the promise a CardDAV client relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::{rules, view_of};
use roster_proto::vcard::{self, Extras, ParsedCard, VcardError, VcardVersion};
use roster_server::domain::card::Card;
use roster_server::domain::share_policy::ShareFields;

fn write_and_read(uid: &str, card: &roster_proto::api::CardView, version: VcardVersion, extras: &Extras) -> ParsedCard {
    let text = vcard::write(uid, card, version, extras);
    match vcard::parse_one(&text) {
        Ok(parsed) => parsed,
        Err(e) => panic!("our own {version:?} vCard does not read back ({e}):\n{text}"),
    }
}

/// The items of a list value as calcard reads them back: trimmed, and a run of white space
/// after a fold or an escape read as one character (plain text values keep theirs).
fn words(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|i| !i.is_empty())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let all = vcard::parse_all(text);
    match (vcard::parse_one(text), &all) {
        (Ok(one), Ok(all)) => assert_eq!(all, &[one]),
        (Err(VcardError::TooMany(n)), Ok(all)) => assert_eq!(n, all.len()),
        (Err(one), Err(all)) => assert_eq!(&one, all),
        (one, all) => panic!("parse_one {one:?} but parse_all {all:?}"),
    }
    let rules = rules();
    for parsed in all.unwrap_or_default() {
        let uid = parsed.uid.clone().unwrap_or_else(|| "fuzz".into());
        let extras = Extras {
            categories: parsed.categories.clone(),
            revision: None,
        };
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let mut first = write_and_read(&uid, &view_of(&parsed.card), version, &extras);
            if parsed.card.formatted_name.is_empty() {
                // The first write names the card by its number or address, and that name
                // stands in for N only from the next write on: one more trip to normalise.
                first = write_and_read(&uid, &view_of(&first.card), version, &extras);
            }
            assert_eq!(first.uid.as_deref().map(str::trim), Some(uid.trim()), "{version:?} UID");
            assert_eq!(
                words(&first.categories),
                words(&parsed.categories),
                "{version:?} categories"
            );
            let second = write_and_read(&uid, &view_of(&first.card), version, &extras);
            assert_eq!(second, first, "{version:?}: a second round trip changed the card");
        }
        if let Ok(card) = Card::parse(&parsed.card, &rules) {
            let view = card.view(ShareFields::ALL).unwrap_or_default();
            for version in [VcardVersion::V3, VcardVersion::V4] {
                let back = write_and_read(&uid, &view, version, &Extras::default());
                match Card::parse(&back.card, &rules) {
                    Ok(again) => assert_eq!(again, card, "{version:?}: the stored card changed"),
                    Err(e) => panic!("{version:?}: the stored card {card:?} is refused when read back: {e:?}"),
                }
            }
        }
    }
});
