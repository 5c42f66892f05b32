//! Cards as vCards: [`write`] renders a [`CardView`] as vCard 3.0 or 4.0, [`parse_one`] and
//! [`parse_all`] read vCards (either version) into [`CardInput`]s for the server to validate.
//!
//! Parsing, folding and escaping are `calcard`'s; this module only maps fields, choosing the
//! forms address books accept: 3.0 photos as `ENCODING=b`, 4.0 photos as unescaped `data:`
//! URIs, unquoted TYPE lists, year-less birthdays as `--MMDD` (4.0) or Apple's
//! `X-APPLE-OMIT-YEAR` (3.0).

use crate::api::{Address, CardInput, CardView, Email, EmailKind, PhoneInput, PhoneKind, StructuredName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use calcard::common::{Data, PartialDateTime};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardProperty, VCardType, VCardValue, VCardVersion,
};
use calcard::{Entry, Parser};

/// The vCard version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VcardVersion {
    /// vCard 3.0 (RFC 2426): the CardDAV default and all Apple clients take.
    V3,
    /// vCard 4.0 (RFC 6350).
    V4,
}

/// What a vCard carries besides the card itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `CATEGORIES`, e.g. the names of the groups shared with the contact.
    pub categories: Vec<String>,
    /// `REV`, as a UTC timestamp `YYYYMMDDTHHMMSSZ`.
    pub revision: Option<String>,
}

/// A vCard read back: its UID, if any, and the card fields it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCard {
    /// The `UID` property.
    pub uid: Option<String>,
    /// The fields, unvalidated.
    pub card: CardInput,
    /// The `CATEGORIES` values.
    pub categories: Vec<String>,
}

/// Why a text is not a usable vCard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VcardError {
    /// Nothing that parses as a vCard.
    #[error("no vCard found")]
    Empty,
    /// More than one vCard where one was expected.
    #[error("expected one vCard, found {0}")]
    TooMany(usize),
    /// A component that is not a vCard, or one cut off.
    #[error("not a vCard: {0}")]
    Malformed(String),
}

const PRODID: &str = "-//Roster//Roster//EN";

fn entry(property: VCardProperty) -> VCardEntry {
    VCardEntry::new(property)
}

fn text(property: VCardProperty, value: &str) -> VCardEntry {
    entry(property).with_value(value.to_string())
}

fn typ(kind: VCardType) -> VCardParameter {
    VCardParameter::typ(kind)
}

fn components(property: VCardProperty, parts: &[&str]) -> VCardEntry {
    entry(property).with_values(parts.iter().map(|p| VCardValue::Text((*p).to_string())).collect())
}

/// Renders one contact. `uid` must be stable for the contact (clients key cards by it).
pub fn write(uid: &str, card: &CardView, version: VcardVersion, extras: &Extras) -> String {
    let v4 = version == VcardVersion::V4;
    let mut entries = vec![text(VCardProperty::Prodid, PRODID), text(VCardProperty::Uid, uid)];

    // FN is mandatory: without a visible name, the first number stands in for it.
    let formatted = card
        .formatted_name
        .clone()
        .or_else(|| card.phones.first().map(|p| p.number.clone()))
        .or_else(|| card.emails.first().map(|e| e.address.clone()))
        .unwrap_or_else(|| "Unknown".into());
    entries.push(text(VCardProperty::Fn, &formatted));
    // N is mandatory in 3.0; Apple sorts and shows by it.
    let n = match &card.name {
        Some(n) => [n.family.as_str(), &n.given, &n.additional, &n.prefix, &n.suffix].map(str::to_string),
        None => [
            String::new(),
            card.formatted_name.clone().unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
        ],
    };
    entries.push(components(VCardProperty::N, &n.each_ref().map(String::as_str)));

    for phone in &card.phones {
        let mut tel = text(VCardProperty::Tel, &phone.number);
        let kinds: &[VCardType] = match phone.kind {
            PhoneKind::Mobile => &[VCardType::Cell, VCardType::Voice],
            PhoneKind::Work => &[VCardType::Work, VCardType::Voice],
            PhoneKind::Home => &[VCardType::Home, VCardType::Voice],
            PhoneKind::Other => &[VCardType::Voice],
        };
        for kind in kinds {
            tel.add_param(typ(kind.clone()));
        }
        entries.push(tel);
    }
    for email in &card.emails {
        let mut line = text(VCardProperty::Email, &email.address);
        if !v4 {
            line.add_param(VCardParameter::typ("INTERNET".to_string()));
        }
        match email.kind {
            EmailKind::Home => line.add_param(typ(VCardType::Home)),
            EmailKind::Work => line.add_param(typ(VCardType::Work)),
            EmailKind::Other => {}
        }
        entries.push(line);
    }
    if let Some(org) = &card.organization {
        entries.push(components(VCardProperty::Org, &[org]));
    }
    if let Some(title) = &card.title {
        entries.push(text(VCardProperty::Title, title));
    }
    if let Some(a) = &card.address {
        entries.push(components(
            VCardProperty::Adr,
            &["", "", &a.street, &a.locality, &a.region, &a.postal_code, &a.country],
        ));
    }
    if let Some(birthday) = &card.birthday {
        entries.push(birthday_entry(birthday, v4));
    }
    if let Some(note) = &card.note {
        entries.push(text(VCardProperty::Note, note));
    }
    // Image bytes are never UTF-8 text (JPEG and PNG open with bytes no UTF-8 text can), and
    // calcard reads UTF-8 bytes after `ENCODING=b` back as a text value, not a binary: such a
    // "photo" is no image and could not come back as itself, so it is not written.
    if let Some(photo) = &card.photo
        && let Ok(bytes) = STANDARD.decode(&photo.data)
        && std::str::from_utf8(&bytes).is_err()
    {
        if v4 {
            // A URI value: written as is, so the comma after `base64` stays unescaped.
            entries.push(text(
                VCardProperty::Photo,
                &format!("data:{};base64,{}", photo.media_type, photo.data),
            ));
        } else {
            entries.push(entry(VCardProperty::Photo).with_value(VCardValue::Binary(Data {
                content_type: Some(photo.media_type.clone()),
                data: bytes,
            })));
        }
    }
    if !extras.categories.is_empty() {
        entries.push(
            entry(VCardProperty::Categories)
                .with_values(extras.categories.iter().cloned().map(VCardValue::Text).collect()),
        );
    }
    if let Some(rev) = &extras.revision {
        entries.push(text(VCardProperty::Rev, rev));
    }
    let mut out = String::new();
    let version = if v4 { VCardVersion::V4_0 } else { VCardVersion::V3_0 };
    // Writing into a String cannot fail.
    let _ = VCard { entries }.write_to(&mut out, version);
    out
}

/// `YYYY-MM-DD` or `--MM-DD` in the form each version's clients read.
fn birthday_entry(birthday: &str, v4: bool) -> VCardEntry {
    let year_less = birthday.strip_prefix("--");
    match (year_less, v4) {
        (Some(md), true) => text(VCardProperty::Bday, &format!("--{}", md.replace('-', ""))),
        (Some(md), false) => text(VCardProperty::Bday, &format!("1604-{md}")).with_param(VCardParameter::new(
            VCardParameterName::Other("X-APPLE-OMIT-YEAR".into()),
            "1604".to_string(),
        )),
        (None, true) => text(VCardProperty::Bday, &birthday.replace('-', "")),
        (None, false) => text(VCardProperty::Bday, birthday),
    }
}

/// Reads exactly one vCard.
pub fn parse_one(input: &str) -> Result<ParsedCard, VcardError> {
    let mut all = parse_all(input)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(VcardError::TooMany(n)),
    }
}

/// Reads every vCard of a (possibly multi-contact) `.vcf` text.
pub fn parse_all(input: &str) -> Result<Vec<ParsedCard>, VcardError> {
    let mut parser = Parser::new(input);
    let mut cards = Vec::new();
    loop {
        match parser.entry() {
            Entry::VCard(vcard) => cards.push(read(&vcard)),
            // Stray lines between cards are tolerated, as address books write them.
            Entry::InvalidLine(_) => {}
            Entry::Eof => break,
            Entry::ICalendar(_) => return Err(VcardError::Malformed("an iCalendar object".into())),
            Entry::UnterminatedComponent(name) => {
                return Err(VcardError::Malformed(format!("{name} without END")));
            }
            Entry::UnexpectedComponentEnd { .. } => return Err(VcardError::Malformed("END without BEGIN".into())),
            Entry::TooManyComponents => return Err(VcardError::Malformed("too many components".into())),
            _ => return Err(VcardError::Malformed("an unsupported component".into())),
        }
    }
    if cards.is_empty() {
        return Err(VcardError::Empty);
    }
    Ok(cards)
}

fn value_text(value: &VCardValue) -> String {
    match value {
        VCardValue::Component(parts) => parts.join(","),
        other => other.as_text().unwrap_or_default().to_string(),
    }
}

fn first_text(card: &VCard, property: VCardProperty) -> Option<String> {
    card.property(&property)
        .and_then(|e| e.values.first())
        .map(value_text)
        .filter(|t| !t.trim().is_empty())
}

fn part(entry: &VCardEntry, index: usize) -> String {
    entry.values.get(index).map(value_text).unwrap_or_default()
}

fn types(entry: &VCardEntry) -> Vec<String> {
    entry
        .parameters(&VCardParameterName::Type)
        .filter_map(|v| v.as_text())
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect()
}

fn read(card: &VCard) -> ParsedCard {
    let name = card.property(&VCardProperty::N).map(|n| StructuredName {
        family: part(n, 0),
        given: part(n, 1),
        additional: part(n, 2),
        prefix: part(n, 3),
        suffix: part(n, 4),
    });
    let phones = card
        .properties(&VCardProperty::Tel)
        .filter_map(|tel| {
            let number = tel.values.first().map(value_text)?;
            let number = number.strip_prefix("tel:").unwrap_or(&number).to_string();
            let kinds = types(tel);
            let has = |t: &str| kinds.iter().any(|k| k == t);
            let kind = if has("cell") || has("iphone") || has("mobile") {
                PhoneKind::Mobile
            } else if has("work") {
                PhoneKind::Work
            } else if has("home") {
                PhoneKind::Home
            } else {
                PhoneKind::Other
            };
            Some(PhoneInput {
                number,
                kind: Some(kind),
            })
        })
        .collect();
    let emails = card
        .properties(&VCardProperty::Email)
        .filter_map(|email| {
            let address = email.values.first().map(value_text)?;
            let kinds = types(email);
            let kind = if kinds.iter().any(|k| k == "work") {
                EmailKind::Work
            } else if kinds.iter().any(|k| k == "home") {
                EmailKind::Home
            } else {
                EmailKind::Other
            };
            Some(Email { address, kind })
        })
        .collect();
    let address = card.property(&VCardProperty::Adr).map(|a| Address {
        street: part(a, 2),
        locality: part(a, 3),
        region: part(a, 4),
        postal_code: part(a, 5),
        country: part(a, 6),
    });
    let categories = card
        .properties(&VCardProperty::Categories)
        .flat_map(|c| c.values.iter().map(value_text))
        .filter(|c| !c.is_empty())
        .collect();
    ParsedCard {
        uid: card.uid().map(str::to_string),
        card: CardInput {
            formatted_name: first_text(card, VCardProperty::Fn).unwrap_or_default(),
            name: name.filter(|n| *n != StructuredName::default()),
            phones,
            emails,
            organization: card
                .property(&VCardProperty::Org)
                .map(|o| part(o, 0))
                .filter(|o| !o.is_empty()),
            title: first_text(card, VCardProperty::Title),
            address: address.filter(|a| *a != Address::default()),
            birthday: card.property(&VCardProperty::Bday).and_then(read_birthday),
            note: first_text(card, VCardProperty::Note),
            photo: card.property(&VCardProperty::Photo).and_then(read_photo),
        },
        categories,
    }
}

fn read_birthday(entry: &VCardEntry) -> Option<String> {
    let omit_year = entry
        .parameters(&VCardParameterName::Other("X-APPLE-OMIT-YEAR".into()))
        .next()
        .is_some();
    let (year, month, day) = match entry.values.first()? {
        VCardValue::PartialDateTime(PartialDateTime { year, month, day, .. }) => (*year, (*month)?, (*day)?),
        other => {
            let digits: String = value_text(other).chars().filter(char::is_ascii_digit).collect();
            match digits.len() {
                8 => (
                    digits[..4].parse().ok(),
                    digits[4..6].parse().ok()?,
                    digits[6..8].parse().ok()?,
                ),
                4 => (None, digits[..2].parse().ok()?, digits[2..].parse().ok()?),
                _ => return None,
            }
        }
    };
    Some(match year.filter(|_| !omit_year) {
        Some(year) => format!("{year:04}-{month:02}-{day:02}"),
        None => format!("--{month:02}-{day:02}"),
    })
}

fn read_photo(entry: &VCardEntry) -> Option<String> {
    match entry.values.first()? {
        VCardValue::Binary(data) => Some(STANDARD.encode(&data.data)),
        // `data:` URIs go to the server as they are; it reads the type from the bytes.
        other => Some(value_text(other)).filter(|uri| uri.starts_with("data:")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Phone, Photo};
    use proptest::prelude::*;

    fn anna() -> CardView {
        CardView {
            formatted_name: Some("Anna Schmidt".into()),
            name: Some(StructuredName {
                family: "Schmidt".into(),
                given: "Anna".into(),
                ..StructuredName::default()
            }),
            phones: vec![
                Phone {
                    number: "+49301234567".into(),
                    kind: PhoneKind::Mobile,
                },
                Phone {
                    number: "+49309999999".into(),
                    kind: PhoneKind::Work,
                },
            ],
            emails: vec![Email {
                address: "anna@example.org".into(),
                kind: EmailKind::Work,
            }],
            organization: Some("ACME; Inc, Berlin".into()),
            title: Some("Engineer".into()),
            address: Some(Address {
                street: "Hauptstr. 1".into(),
                locality: "Berlin".into(),
                postal_code: "10115".into(),
                country: "Germany".into(),
                ..Address::default()
            }),
            birthday: Some("--02-29".into()),
            note: Some("Line one\nline two, with comma; and semicolon".into()),
            photo: Some(Photo {
                media_type: "image/jpeg".into(),
                data: STANDARD.encode([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 4, 5]),
            }),
        }
    }

    fn round_trip(card: &CardView, version: VcardVersion) -> ParsedCard {
        let text = write("uid-1", card, version, &Extras::default());
        parse_one(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn version_3_is_what_apple_reads() {
        let text = write("uid-1", &anna(), VcardVersion::V3, &Extras::default());
        assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:3.0\r\n"), "{text}");
        assert!(text.contains("TEL;TYPE=CELL,VOICE:+49301234567\r\n"), "{text}");
        assert!(text.contains("PHOTO;ENCODING=b;TYPE=JPEG:"), "{text}");
        assert!(text.contains("BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29"), "{text}");
        assert!(text.contains("UID:uid-1\r\n"));
        assert!(text.lines().all(|l| l.len() <= 75), "folded at 75 octets: {text}");
    }

    #[test]
    fn version_4_photos_are_plain_data_uris() {
        let text = write("uid-1", &anna(), VcardVersion::V4, &Extras::default());
        assert!(text.contains("VERSION:4.0\r\n"));
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("PHOTO:data:image/jpeg;base64,/9j/"), "{unfolded}");
        assert!(!unfolded.contains("base64\\,"), "{unfolded}");
        assert!(unfolded.contains("BDAY:--0229"), "{unfolded}");
    }

    #[test]
    fn both_versions_round_trip_every_field() {
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let card = anna();
            let parsed = round_trip(&card, version);
            assert_eq!(parsed.uid.as_deref(), Some("uid-1"));
            let input = parsed.card;
            assert_eq!(input.formatted_name, "Anna Schmidt");
            assert_eq!(input.name, card.name);
            assert_eq!(
                input
                    .phones
                    .iter()
                    .map(|p| (p.number.as_str(), p.kind))
                    .collect::<Vec<_>>(),
                vec![
                    ("+49301234567", Some(PhoneKind::Mobile)),
                    ("+49309999999", Some(PhoneKind::Work))
                ]
            );
            assert_eq!(input.emails, card.emails);
            assert_eq!(input.organization, card.organization);
            assert_eq!(input.title, card.title);
            assert_eq!(input.address, card.address);
            assert_eq!(input.birthday, card.birthday);
            assert_eq!(input.note, card.note);
            let photo = input.photo.unwrap();
            let data = photo.rsplit(',').next().unwrap();
            assert_eq!(data, card.photo.as_ref().unwrap().data, "{version:?}");
        }
    }

    #[test]
    fn a_card_without_a_visible_name_is_named_by_its_number() {
        let card = CardView {
            phones: anna().phones,
            ..CardView::default()
        };
        let parsed = round_trip(&card, VcardVersion::V3);
        assert_eq!(parsed.card.formatted_name, "+49301234567");
    }

    #[test]
    fn categories_and_revision_are_written() {
        let extras = Extras {
            categories: vec!["Class 3b".into(), "Chess, club".into()],
            revision: Some("20261124T120000Z".into()),
        };
        let text = write("u", &anna(), VcardVersion::V4, &extras);
        assert!(text.contains("REV:20261124T120000Z"));
        let parsed = parse_one(&text).unwrap();
        assert_eq!(
            parsed.categories,
            vec!["Class 3b".to_string(), "Chess, club".to_string()]
        );
    }

    #[test]
    fn foreign_vcards_are_read_liberally() {
        let apple = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n\
            item1.TEL;type=IPHONE;type=CELL;type=VOICE;type=pref:+1 (202) 456-1111\r\n\
            item1.X-ABLabel:iPhone\r\nEMAIL;type=INTERNET;type=HOME:john@example.com\r\n\
            BDAY:1980-07-04\r\nEND:VCARD\r\n";
        let parsed = parse_one(apple).unwrap();
        assert_eq!(parsed.card.formatted_name, "John Doe");
        assert_eq!(parsed.card.phones[0].number, "+1 (202) 456-1111");
        assert_eq!(parsed.card.phones[0].kind, Some(PhoneKind::Mobile));
        assert_eq!(parsed.card.emails[0].kind, EmailKind::Home);
        assert_eq!(parsed.card.birthday.as_deref(), Some("1980-07-04"));
        let v4 = "BEGIN:VCARD\nVERSION:4.0\nFN:Jo\nTEL;VALUE=uri;TYPE=work:tel:+49-30-1234567\nEND:VCARD\n";
        let parsed = parse_one(v4).unwrap();
        assert_eq!(parsed.card.phones[0].number, "+49-30-1234567");
        assert_eq!(parsed.card.phones[0].kind, Some(PhoneKind::Work));
    }

    #[test]
    fn several_cards_and_bad_input() {
        let two = format!(
            "{}{}",
            write("a", &anna(), VcardVersion::V4, &Extras::default()),
            write("b", &anna(), VcardVersion::V3, &Extras::default())
        );
        assert_eq!(parse_all(&two).unwrap().len(), 2);
        assert_eq!(parse_one(&two), Err(VcardError::TooMany(2)));
        assert_eq!(parse_all(""), Err(VcardError::Empty));
        // calcard is liberal: a card cut off before END is read as far as it goes.
        assert_eq!(
            parse_one("BEGIN:VCARD\nVERSION:4.0\nFN:x\n")
                .unwrap()
                .card
                .formatted_name,
            "x"
        );
        assert!(parse_all("no vcard here\n").is_err());
        assert!(parse_all("BEGIN:VCALENDAR\nEND:VCALENDAR\n").is_err());
    }

    // Found by the fuzzer: bytes that are UTF-8 text went out as a 3.0 `ENCODING=b` photo,
    // came back as a text value (calcard's reading), and the card changed on the next trip.
    #[test]
    fn a_photo_that_is_text_is_not_written_so_every_round_trip_is_stable() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:uid-2\r\nFN:Ben\r\n\
            PHOTO:data:data:image/jpeg:image/jpeOLIT-YEAR=1604:1--2406209\r\nEND:VCARD\r\n";
        let parsed = parse_one(text).unwrap();
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let mut view = CardView {
                formatted_name: Some("Ben".into()),
                ..CardView::default()
            };
            view.photo = Some(Photo {
                media_type: "image/jpeg".into(),
                data: parsed.card.photo.clone().unwrap_or_default(),
            });
            let first = round_trip(&view, version);
            assert_eq!(first.card.photo, None, "{version:?}");
            let written = write("uid-2", &view, version, &Extras::default());
            assert!(!written.contains("PHOTO"), "{version:?}: {written}");
        }
        // A real image (JPEG's first bytes) still goes both ways.
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let photo = round_trip(&anna(), version).card.photo.unwrap();
            assert!(photo.ends_with(&anna().photo.unwrap().data), "{version:?}: {photo}");
        }
    }

    proptest! {
        // Whatever text a card holds, writing and reading it gives it back.
        #[test]
        fn text_fields_survive_escaping_and_folding(
            name in "[^\\x00-\\x1f\\x7f]{1,120}",
            note in "[^\\x00-\\x08\\x0b-\\x1f\\x7f]{0,300}",
            org in "[a-zA-Z ,;:\\\\äöü李]{0,60}",
            v4 in any::<bool>(),
        ) {
            let name = name.trim().to_string();
            prop_assume!(!name.is_empty());
            let card = CardView {
                formatted_name: Some(name.clone()),
                phones: vec![Phone { number: "+49301234567".into(), kind: PhoneKind::Home }],
                note: Some(note.trim().to_string()).filter(|n| !n.is_empty()),
                organization: Some(org.trim().to_string()).filter(|o| !o.is_empty() && !o.contains(';')),
                ..CardView::default()
            };
            let version = if v4 { VcardVersion::V4 } else { VcardVersion::V3 };
            let parsed = round_trip(&card, version);
            prop_assert_eq!(parsed.card.formatted_name.trim(), name.as_str());
            prop_assert_eq!(parsed.card.note.as_deref().map(str::trim), card.note.as_deref());
            prop_assert_eq!(parsed.card.organization.as_deref(), card.organization.as_deref());
            prop_assert_eq!(parsed.card.phones[0].kind, Some(PhoneKind::Home));
        }
    }
}
