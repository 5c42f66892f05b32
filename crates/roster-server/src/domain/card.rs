//! Cards: an account's own contact information, validated once when it arrives.

use super::error::{Error, FieldErrors, Result};
use super::model::StoredCard;
use super::phone::{E164, Region};
use super::ports::Event;
use super::ports::{Refusal, StoreError};
use super::push::DontNotify;
use super::share_policy::ShareFields;
use super::terminal::Caller;
use super::{Roster, now};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roster_proto::api::{Address, CardField, CardInput, CardView, Email, Phone, PhoneKind, Photo, StructuredName};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Most phone numbers or e-mail addresses on one card.
pub const MAX_ENTRIES: usize = 20;
const MAX_NAME: usize = 200;
const MAX_NOTE: usize = 2000;

/// A phone number of a card. Two are equal when number and type are: how it was typed is
/// not something other members see, so it changes nothing for them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardPhone {
    /// The number.
    pub number: E164,
    /// What it is for.
    #[serde(rename = "type")]
    pub kind: PhoneKind,
    /// The text the member typed and the region it was read in, kept so that the number can
    /// be read again when the phone metadata improves (absent on cards stored before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed: Option<TypedPhone>,
}

impl PartialEq for CardPhone {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number && self.kind == other.kind
    }
}

impl Eq for CardPhone {}

impl std::hash::Hash for CardPhone {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number.hash(state);
        self.kind.hash(state);
    }
}

/// A phone number as its owner typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedPhone {
    /// The text, trimmed.
    pub text: String,
    /// The default region it was read in (`DE`).
    pub region: String,
}

impl TypedPhone {
    /// What [`E164::parse`] reads in this text today: `None` when the region is unknown.
    pub fn read(&self) -> Option<Result<E164, String>> {
        let region: Region = self.region.parse().ok()?;
        Some(E164::parse(&self.text, region))
    }
}

/// A validated card. Built only by [`Card::parse`] (or read back from storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// Formatted name, never empty.
    pub formatted_name: String,
    /// Structured name.
    pub name: Option<StructuredName>,
    /// At least one phone.
    pub phones: Vec<CardPhone>,
    /// E-mail addresses.
    pub emails: Vec<Email>,
    /// Organisation.
    pub organization: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Postal address.
    pub address: Option<Address>,
    /// `YYYY-MM-DD` or `--MM-DD`.
    pub birthday: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// Photo (JPEG or PNG).
    pub photo: Option<Photo>,
}

/// Limits that the card parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct CardRules {
    /// Region for phone numbers written without a country code.
    pub region: Region,
    /// Largest photo, in bytes after base64 decoding.
    pub photo_max_bytes: usize,
}

impl Card {
    /// Validates a whole card; every bad field is reported, nothing is kept on error.
    pub fn parse(input: &CardInput, rules: &CardRules) -> Result<Card> {
        let mut errors = FieldErrors::default();
        let formatted_name = errors.check("formatted_name", required_text(&input.formatted_name, MAX_NAME));
        let name = input.name.as_ref().and_then(|n| {
            let part = |errors: &mut FieldErrors, field: &str, value: &str| {
                errors
                    .check(format!("name.{field}"), optional_text(value, MAX_NAME, false))
                    .flatten()
                    .unwrap_or_default()
            };
            let parsed = StructuredName {
                family: part(&mut errors, "family", &n.family),
                given: part(&mut errors, "given", &n.given),
                additional: part(&mut errors, "additional", &n.additional),
                prefix: part(&mut errors, "prefix", &n.prefix),
                suffix: part(&mut errors, "suffix", &n.suffix),
            };
            (parsed != StructuredName::default()).then_some(parsed)
        });
        // A name that is only the formatted name as given name says nothing more, and it is what
        // a vCard carries for a card without one (N is mandatory in 3.0): kept, a card would
        // change on its way through a CardDAV client that saves it back unchanged.
        let name = name.filter(|n| {
            *n != StructuredName {
                given: formatted_name.clone().unwrap_or_default(),
                ..StructuredName::default()
            }
        });

        let mut phones: Vec<CardPhone> = Vec::new();
        if input.phones.is_empty() {
            errors.add("phones", "at least one phone number is required");
        } else if input.phones.len() > MAX_ENTRIES {
            errors.add("phones", format!("at most {MAX_ENTRIES} phone numbers"));
        }
        for (i, phone) in input.phones.iter().enumerate().take(MAX_ENTRIES) {
            let field = format!("phones[{i}].number");
            if let Some(number) = errors.check(field.clone(), E164::parse(&phone.number, rules.region)) {
                if let Some(first) = phones.iter().position(|p| p.number == number) {
                    errors.add(field, format!("the same number as phones[{first}]"));
                } else {
                    phones.push(CardPhone {
                        number,
                        kind: phone.kind.unwrap_or_default(),
                        typed: Some(TypedPhone {
                            text: phone.number.trim().to_string(),
                            region: rules.region.to_string(),
                        }),
                    });
                }
            }
        }

        let mut emails: Vec<Email> = Vec::new();
        if input.emails.len() > MAX_ENTRIES {
            errors.add("emails", format!("at most {MAX_ENTRIES} e-mail addresses"));
        }
        for (i, email) in input.emails.iter().enumerate().take(MAX_ENTRIES) {
            let field = format!("emails[{i}].address");
            if let Some(address) = errors.check(field.clone(), parse_email(&email.address)) {
                if emails.iter().any(|e| e.address.eq_ignore_ascii_case(&address)) {
                    errors.add(field, "listed twice");
                } else {
                    emails.push(Email {
                        address,
                        kind: email.kind,
                    });
                }
            }
        }

        let mut text = |field: &str, value: &Option<String>, max: usize, multiline: bool| {
            value
                .as_deref()
                .and_then(|v| errors.check(field, optional_text(v, max, multiline)).flatten())
        };
        let organization = text("organization", &input.organization, MAX_NAME, false);
        let title = text("title", &input.title, MAX_NAME, false);
        let note = text("note", &input.note, MAX_NOTE, true);
        let address = input.address.as_ref().and_then(|a| {
            let mut part = |field: &str, value: &str| {
                text(&format!("address.{field}"), &Some(value.to_string()), MAX_NAME, false).unwrap_or_default()
            };
            let parsed = Address {
                street: part("street", &a.street),
                locality: part("locality", &a.locality),
                region: part("region", &a.region),
                postal_code: part("postal_code", &a.postal_code),
                country: part("country", &a.country),
            };
            (parsed != Address::default()).then_some(parsed)
        });
        let birthday = input
            .birthday
            .as_deref()
            .filter(|b| !b.trim().is_empty())
            .and_then(|b| errors.check("birthday", parse_birthday(b)));
        let photo = input
            .photo
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| errors.check("photo", parse_photo(p, rules.photo_max_bytes)));

        errors.finish(|| Card {
            formatted_name: formatted_name.unwrap_or_default(),
            name,
            phones,
            emails,
            organization,
            title,
            address,
            birthday,
            note,
            photo,
        })
    }

    /// The card with only `fields` visible, or `None` when nothing would be visible.
    pub fn view(&self, fields: ShareFields) -> Option<CardView> {
        // Every door runs this once per card it shows: a field the viewer may not see (above
        // all a photo of up to hundreds of KiB) is never copied, only skipped.
        let shared = |field| fields.contains(field);
        let view = CardView {
            formatted_name: shared(CardField::Name).then(|| self.formatted_name.clone()),
            name: self.name.as_ref().filter(|_| shared(CardField::Name)).cloned(),
            phones: if shared(CardField::Phones) {
                self.phones
                    .iter()
                    .map(|p| Phone {
                        number: p.number.to_string(),
                        kind: p.kind,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            emails: if shared(CardField::Emails) {
                self.emails.clone()
            } else {
                Vec::new()
            },
            organization: self
                .organization
                .as_ref()
                .filter(|_| shared(CardField::Organization))
                .cloned(),
            title: self.title.as_ref().filter(|_| shared(CardField::Organization)).cloned(),
            address: self.address.as_ref().filter(|_| shared(CardField::Address)).cloned(),
            birthday: self.birthday.as_ref().filter(|_| shared(CardField::Birthday)).cloned(),
            note: self.note.as_ref().filter(|_| shared(CardField::Note)).cloned(),
            photo: self.photo.as_ref().filter(|_| shared(CardField::Photo)).cloned(),
        };
        (view != CardView::default()).then_some(view)
    }

    /// The fields that differ between two versions of a card (all fields when one is absent).
    pub fn changed_fields(old: Option<&Card>, new: Option<&Card>) -> ShareFields {
        let (Some(old), Some(new)) = (old, new) else {
            return if old.is_none() && new.is_none() {
                ShareFields::NONE
            } else {
                ShareFields::ALL
            };
        };
        let mut changed = ShareFields::NONE;
        let mut mark = |field, differs: bool| {
            if differs {
                changed.insert(field);
            }
        };
        mark(
            CardField::Name,
            old.formatted_name != new.formatted_name || old.name != new.name,
        );
        mark(CardField::Phones, old.phones != new.phones);
        mark(CardField::Emails, old.emails != new.emails);
        mark(
            CardField::Organization,
            old.organization != new.organization || old.title != new.title,
        );
        mark(CardField::Address, old.address != new.address);
        mark(CardField::Birthday, old.birthday != new.birthday);
        mark(CardField::Note, old.note != new.note);
        mark(CardField::Photo, old.photo != new.photo);
        changed
    }

    /// Lower-case name text that a directory search matches against.
    pub fn search_name(&self) -> String {
        let mut text = self.formatted_name.to_lowercase();
        if let Some(n) = &self.name {
            for part in [&n.given, &n.family, &n.additional] {
                if !part.is_empty() {
                    text.push(' ');
                    text.push_str(&part.to_lowercase());
                }
            }
        }
        text
    }
}

impl Roster {
    /// The caller's card, if set.
    pub async fn card(&self, caller: &Caller) -> Result<Option<StoredCard>> {
        self.store.card(caller.account.id).await
    }

    /// Validates and stores the caller's card; `expected` is the revision the caller edited
    /// (from `If-Match`). Each group that may see a changed field gets one change.
    pub async fn set_card(&self, caller: &Caller, input: &CardInput, expected: Option<i64>) -> Result<StoredCard> {
        self.set_card_quietly(caller, input, expected, &DontNotify::Nobody)
            .await
    }

    /// [`Roster::set_card`] for a writer that names push registrations not to notify of the
    /// change (they belong to the writer, which knows already).
    pub async fn set_card_quietly(
        &self,
        caller: &Caller,
        input: &CardInput,
        expected: Option<i64>,
        quiet: &DontNotify,
    ) -> Result<StoredCard> {
        let card = if input.photo.is_some() {
            // Decoding and re-encoding a photo is CPU work: keep it off the async threads.
            let (input, rules) = (input.clone(), self.settings.card_rules);
            tokio::task::spawn_blocking(move || Card::parse(&input, &rules))
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("card validation failed: {e}")))??
        } else {
            Card::parse(input, &self.settings.card_rules)?
        };
        self.store_card(caller, card, expected, quiet).await
    }

    /// Stores an already validated card (used by every door that writes cards).
    pub async fn store_card(
        &self,
        caller: &Caller,
        card: Card,
        expected: Option<i64>,
        quiet: &DontNotify,
    ) -> Result<StoredCard> {
        // Each write may reach every member of every group: limited per account.
        self.limits.card_write(caller.account.id)?;
        // Without If-Match, a concurrent writer only means reading again and retrying.
        for _ in 0..5 {
            let current = self.store.card(caller.account.id).await?;
            let revision = current.as_ref().map_or(0, |c| c.revision);
            if expected.is_some_and(|e| e != revision) {
                return Err(Error::Stale("the card has changed since it was read".into()));
            }
            let changed = Card::changed_fields(current.as_ref().map(|c| &c.card), Some(&card));
            if let Some(current) = current.filter(|_| changed.is_empty()) {
                return Ok(current);
            }
            let at = now();
            match self
                .store
                .set_card(caller.account.id, &card, revision, changed, at)
                .await
            {
                Ok((revision, changes)) => {
                    // Before the announcement, so the dispatcher cannot see it first.
                    if let Err(e) = self.quiet_push(caller, quiet, revision).await {
                        tracing::warn!(error = %e, "could not honour Push-Dont-Notify");
                    }
                    self.publish(&changes);
                    self.bus.publish(Event::CardChanged {
                        account: caller.account.id,
                        revision,
                    });
                    return Ok(StoredCard {
                        card,
                        revision,
                        updated_at: at,
                    });
                }
                Err(StoreError::Refused(Refusal::CardChanged)) if expected.is_none() => continue,
                Err(StoreError::Refused(why @ Refusal::CardChanged)) => return Err(Error::Stale(why.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(
            "the card is being changed by another terminal; try again".into(),
        ))
    }
}

/// Characters that are never accepted in card text: controls and the bidirectional overrides
/// that can make a name display as something else.
fn forbidden_char(c: char, multiline: bool) -> bool {
    (c.is_control() && !(multiline && (c == '\n' || c == '\t')))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
}

/// NFC-normalised, trimmed text; empty becomes `None`.
fn optional_text(value: &str, max: usize, multiline: bool) -> Result<Option<String>, String> {
    let text: String = value.nfc().collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(c) = text.chars().find(|c| forbidden_char(*c, multiline)) {
        return Err(format!("contains the forbidden character U+{:04X}", c as u32));
    }
    if text.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    Ok(Some(text.to_string()))
}

fn required_text(value: &str, max: usize) -> Result<String, String> {
    optional_text(value, max, false)?.ok_or_else(|| "is required".to_string())
}

fn parse_email(value: &str) -> Result<String, String> {
    let address = value.trim();
    if address.len() > 254 || !email_address::EmailAddress::is_valid(address) || !address.contains('@') {
        return Err(format!("`{address}` is not an e-mail address"));
    }
    Ok(address.to_string())
}

/// `YYYY-MM-DD` (a real date, year 1800 or later and not in the future) or `--MM-DD`.
fn parse_birthday(value: &str) -> Result<String, String> {
    let value = value.trim();
    let bad = || format!("`{value}` is not a date as YYYY-MM-DD or --MM-DD");
    let (year, rest) = match value.strip_prefix("--") {
        Some(rest) => (2000, rest), // a leap year, so that --02-29 is accepted
        None => {
            let (y, rest) = value.split_once('-').ok_or_else(bad)?;
            if y.len() != 4 {
                return Err(bad());
            }
            (y.parse::<i32>().map_err(|_| bad())?, rest)
        }
    };
    let (m, d) = rest.split_once('-').ok_or_else(bad)?;
    if m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let month = m
        .parse::<u8>()
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = d.parse::<u8>().map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    if !value.starts_with("--") && (year < 1800 || date > time::OffsetDateTime::now_utc().date()) {
        return Err(format!("`{value}` is not a plausible birthday"));
    }
    Ok(value.to_string())
}

/// Base64 (or a `data:` URI) of a JPEG or PNG; the type is read from the bytes.
fn parse_photo(value: &str, max_bytes: usize) -> Result<Photo, String> {
    let value = value.trim();
    let payload = match value.strip_prefix("data:") {
        Some(uri) => uri
            .split_once(";base64,")
            .map(|(_, data)| data)
            .ok_or("a data: URI photo must be base64")?,
        None => value,
    };
    // Base64 is 4/3 of the bytes: refuse oversize input before decoding it.
    if payload.len() > max_bytes.saturating_mul(4) / 3 + 4 {
        return Err(format!("the photo is larger than {} KiB", max_bytes / 1024));
    }
    let compact: String = payload.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "the photo is not valid base64".to_string())?;
    if bytes.len() > max_bytes {
        return Err(format!("the photo is larger than {} KiB", max_bytes / 1024));
    }
    let format = if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        image::ImageFormat::Jpeg
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image::ImageFormat::Png
    } else {
        return Err("the photo must be a JPEG or PNG image".into());
    };
    let stored = super::photo::clean(&bytes, format)?;
    Ok(Photo {
        media_type: "image/jpeg".into(),
        data: STANDARD.encode(&stored),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::Error;
    use roster_proto::api::PhoneInput;

    fn rules() -> CardRules {
        CardRules {
            region: "DE".parse().unwrap(),
            photo_max_bytes: 1024,
        }
    }

    fn input(phone: &str) -> CardInput {
        CardInput {
            formatted_name: "Anna Schmidt".into(),
            phones: vec![PhoneInput {
                number: phone.into(),
                kind: None,
            }],
            ..CardInput::default()
        }
    }

    fn fields_of(err: Error) -> Vec<String> {
        match err {
            Error::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_card_is_normalised() {
        let card = Card::parse(&input("030 1234567"), &rules()).unwrap();
        assert_eq!(card.phones[0].number.as_str(), "+49301234567");
        assert_eq!(card.phones[0].kind, PhoneKind::Mobile);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut bad = input("12");
        bad.formatted_name = "  ".into();
        bad.emails = vec![Email {
            address: "not-an-address".into(),
            kind: Default::default(),
        }];
        bad.birthday = Some("2001-02-30".into());
        bad.photo = Some("aGVsbG8=".into());
        bad.note = Some("evil\u{202e}txt".into());
        let fields = fields_of(Card::parse(&bad, &rules()).unwrap_err());
        assert_eq!(
            fields,
            vec![
                "formatted_name",
                "phones[0].number",
                "emails[0].address",
                "note",
                "birthday",
                "photo"
            ]
        );
    }

    #[test]
    fn duplicate_phones_and_missing_phones_are_rejected() {
        let mut twice = input("030 1234567");
        twice.phones.push(PhoneInput {
            number: "+49 30 1234567".into(),
            kind: None,
        });
        assert_eq!(
            fields_of(Card::parse(&twice, &rules()).unwrap_err()),
            vec!["phones[1].number"]
        );
        let mut none = input("030 1234567");
        none.phones.clear();
        assert_eq!(fields_of(Card::parse(&none, &rules()).unwrap_err()), vec!["phones"]);
    }

    #[test]
    fn unicode_names_are_nfc_normalised() {
        let mut decomposed = input("030 1234567");
        decomposed.formatted_name = "Zoe\u{0308} Ørsted 李".into();
        let card = Card::parse(&decomposed, &rules()).unwrap();
        assert_eq!(card.formatted_name, "Zoë Ørsted 李");
    }

    #[test]
    fn a_name_that_is_only_the_formatted_name_is_no_name() {
        let mut only_given = input("030 1234567");
        only_given.name = Some(StructuredName {
            given: " Anna Schmidt".into(),
            ..StructuredName::default()
        });
        assert_eq!(Card::parse(&only_given, &rules()).unwrap().name, None);
        only_given.name = Some(StructuredName {
            given: "Anna".into(),
            ..StructuredName::default()
        });
        assert!(Card::parse(&only_given, &rules()).unwrap().name.is_some());
    }

    // Found by the `vcard` fuzz target: a vCard without N was stored without a name, written
    // back with FN standing in as N's given name, and that read back as a different card.
    #[test]
    fn a_card_without_a_name_survives_its_own_vcard() {
        use roster_proto::vcard::{Extras, VcardVersion, parse_one, write};
        let put = "BEGIN:VCARD\nVERSION:4.0\nFN:Jo\nTEL;VALUE=uri;TYPE=work:tel:+49-30-1234567\nEND:VCARD\n";
        let card = Card::parse(&parse_one(put).unwrap().card, &rules()).unwrap();
        for version in [VcardVersion::V3, VcardVersion::V4] {
            let text = write("u", &card.view(ShareFields::ALL).unwrap(), version, &Extras::default());
            let again = Card::parse(&parse_one(&text).unwrap().card, &rules()).unwrap();
            assert_eq!(again, card, "{text}");
        }
    }

    #[test]
    fn photos_are_typed_by_their_bytes_and_capped() {
        // A real JPEG: photos are decoded and re-encoded (see `photo`).
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(8, 8))
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
            .unwrap();
        let jpeg = STANDARD.encode(&bytes);
        let mut with_photo = input("030 1234567");
        with_photo.photo = Some(format!("data:image/png;base64,{jpeg}"));
        let card = Card::parse(&with_photo, &rules()).unwrap();
        assert_eq!(card.photo.map(|p| p.media_type), Some("image/jpeg".to_string()));
        with_photo.photo = Some(STANDARD.encode(vec![0xffu8; 2048]));
        assert_eq!(
            fields_of(Card::parse(&with_photo, &rules()).unwrap_err()),
            vec!["photo"]
        );
    }

    #[test]
    fn birthdays_with_and_without_year() {
        assert!(parse_birthday("1990-02-28").is_ok());
        assert!(parse_birthday("--02-29").is_ok());
        assert!(parse_birthday("1990-2-28").is_err());
        assert!(parse_birthday("3000-01-01").is_err());
    }

    #[test]
    fn view_hides_what_is_not_shared() {
        let mut full = input("030 1234567");
        full.emails = vec![Email {
            address: "anna@example.org".into(),
            kind: Default::default(),
        }];
        let card = Card::parse(&full, &rules()).unwrap();
        let view = card.view(ShareFields::default_policy()).unwrap();
        assert!(view.emails.is_empty());
        assert_eq!(view.phones.len(), 1);
        assert!(card.view(ShareFields::NONE).is_none());
        let phones_only = card.view(ShareFields::of(&[CardField::Phones])).unwrap();
        assert_eq!(phones_only.formatted_name, None);
    }

    #[test]
    fn view_shows_the_photo_only_to_a_viewer_it_is_shared_with() {
        let mut card = Card::parse(&input("030 1234567"), &rules()).unwrap();
        let photo = Photo {
            media_type: "image/jpeg".into(),
            data: "A".repeat(4096),
        };
        card.photo = Some(photo.clone());
        let without = card.view(ShareFields::default_policy()).unwrap();
        assert_eq!(without.photo, None);
        assert_eq!(without.phones.len(), 1);
        let with = card.view(ShareFields::ALL).unwrap();
        assert_eq!(with.photo, Some(photo.clone()));
        // A photo alone is something to see.
        let photo_only = card.view(ShareFields::of(&[CardField::Photo])).unwrap();
        assert_eq!(
            photo_only,
            CardView {
                photo: Some(photo),
                ..CardView::default()
            }
        );
    }

    #[test]
    fn changed_fields_names_only_what_changed() {
        let a = Card::parse(&input("030 1234567"), &rules()).unwrap();
        let mut b = a.clone();
        b.note = Some("hi".into());
        assert_eq!(
            Card::changed_fields(Some(&a), Some(&b)),
            ShareFields::of(&[CardField::Note])
        );
        assert_eq!(Card::changed_fields(None, Some(&a)), ShareFields::ALL);
        assert_eq!(Card::changed_fields(Some(&a), Some(&a)), ShareFields::NONE);
    }
}
