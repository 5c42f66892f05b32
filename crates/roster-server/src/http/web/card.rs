//! "My card": the whole card in one form (multipart, for the photo), validated exactly as the
//! API validates it; every bad field is marked next to the field and nothing is half-saved.
//!
//! Phone numbers come with a country picker: a number typed without a country code is read in
//! the picked region (the server's region by default) before the card is validated.

use super::auth::FieldErrors;
use super::error::{WebError, WebResult};
use super::groups::{photo_uri, shown_number};
use super::session::{Page, Signed, safe_next};
use super::{render, render_status, see_other};
use crate::domain::card::Card;
use crate::domain::phone::{E164, Region, regions};
use crate::domain::share_policy::ShareFields;
use crate::domain::terminal::Caller;
use crate::domain::{Error, Result as DomainResult};
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roster_proto::api::{Address, CardInput, Email, EmailKind, FieldError, PhoneInput, PhoneKind};
use serde::Deserialize;

/// Most parts of one card form (fields and rows); more is not a card.
const MAX_PARTS: usize = 120;
/// Empty rows offered for one more phone or e-mail.
const SPARE_ROWS: usize = 1;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/me/card", get(show).post(save))
}

/// One phone row of the form.
#[derive(Debug, Clone, Default)]
pub(super) struct PhoneRow {
    /// As typed or as stored (international notation).
    pub(super) number: String,
    /// The picked region.
    pub(super) region: String,
    /// `mobile`, `work`, `home` or `other`.
    pub(super) kind: String,
}

/// One e-mail row of the form.
#[derive(Debug, Clone, Default)]
pub(super) struct EmailRow {
    /// The address.
    pub(super) address: String,
    /// `home`, `work` or `other`.
    pub(super) kind: String,
}

/// The form's values.
#[derive(Debug, Clone, Default)]
pub(super) struct CardForm {
    formatted_name: String,
    phones: Vec<PhoneRow>,
    emails: Vec<EmailRow>,
    organization: String,
    title: String,
    street: String,
    locality: String,
    region: String,
    postal_code: String,
    country: String,
    birthday: String,
    note: String,
    /// The current photo as a `data:` URI.
    photo: Option<String>,
}

#[derive(Template)]
#[template(path = "web/card.html")]
struct CardPage {
    page: Page,
    form: CardForm,
    errors: FieldErrors,
    next: String,
    saved: bool,
    regions: Vec<(String, u16)>,
    /// Whether this is a step of joining a group.
    joining: bool,
}

impl CardPage {
    fn phone_error(&self, index: &usize) -> Option<&str> {
        self.errors.get(&format!("phones[{index}].number"))
    }

    fn email_error(&self, index: &usize) -> Option<&str> {
        self.errors.get(&format!("emails[{index}].address"))
    }

    fn address_error(&self) -> Option<&str> {
        self.errors
            .0
            .iter()
            .find(|e| e.field.starts_with("address"))
            .map(|e| e.message.as_str())
    }

    /// Errors of no single field shown in the form (e.g. "at least one phone number").
    fn general_errors(&self) -> Vec<String> {
        const SHOWN: [&str; 6] = ["formatted_name", "organization", "title", "birthday", "note", "photo"];
        self.errors
            .0
            .iter()
            .filter(|e| !SHOWN.contains(&e.field.as_str()))
            .filter(|e| !["phones[", "emails[", "address"].iter().any(|p| e.field.starts_with(p)))
            .map(|e| e.message.clone())
            .collect()
    }
}

const PHONE_KINDS: [&str; 4] = ["mobile", "work", "home", "other"];
const EMAIL_KINDS: [&str; 3] = ["home", "work", "other"];

fn phone_kind(kind: &str) -> PhoneKind {
    match kind {
        "work" => PhoneKind::Work,
        "home" => PhoneKind::Home,
        "other" => PhoneKind::Other,
        _ => PhoneKind::Mobile,
    }
}

fn phone_kind_name(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Mobile => "mobile",
        PhoneKind::Work => "work",
        PhoneKind::Home => "home",
        PhoneKind::Other => "other",
    }
}

fn email_kind(kind: &str) -> EmailKind {
    match kind {
        "home" => EmailKind::Home,
        "work" => EmailKind::Work,
        _ => EmailKind::Other,
    }
}

fn email_kind_name(kind: EmailKind) -> &'static str {
    match kind {
        EmailKind::Home => "home",
        EmailKind::Work => "work",
        EmailKind::Other => "other",
    }
}

impl CardForm {
    /// The form filled from a stored card.
    fn of(card: Option<&Card>, region: &str) -> CardForm {
        let view = card.and_then(|c| c.view(ShareFields::ALL)).unwrap_or_default();
        let address = view.address.clone().unwrap_or_default();
        CardForm {
            formatted_name: view.formatted_name.clone().unwrap_or_default(),
            phones: view
                .phones
                .iter()
                .map(|p| PhoneRow {
                    number: shown_number(&p.number),
                    region: region.to_string(),
                    kind: phone_kind_name(p.kind).into(),
                })
                .collect(),
            emails: view
                .emails
                .iter()
                .map(|e| EmailRow {
                    address: e.address.clone(),
                    kind: email_kind_name(e.kind).into(),
                })
                .collect(),
            organization: view.organization.clone().unwrap_or_default(),
            title: view.title.clone().unwrap_or_default(),
            street: address.street,
            locality: address.locality,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
            birthday: view.birthday.clone().unwrap_or_default(),
            note: view.note.clone().unwrap_or_default(),
            photo: view.photo.as_ref().map(photo_uri),
        }
    }

    /// Rows for the form: the filled ones and spare empty ones.
    fn with_spare_rows(mut self, region: &str) -> CardForm {
        self.phones.retain(|p| !p.number.trim().is_empty());
        self.emails.retain(|e| !e.address.trim().is_empty());
        for _ in 0..SPARE_ROWS {
            self.phones.push(PhoneRow {
                region: region.to_string(),
                kind: "mobile".into(),
                ..PhoneRow::default()
            });
            self.emails.push(EmailRow {
                kind: "other".into(),
                ..EmailRow::default()
            });
        }
        self
    }
}

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// The card page, for "My card" and for the card step of joining (`next` set).
pub(super) async fn card_page(
    state: &AppState,
    page: Page,
    caller: &Caller,
    next: Option<String>,
    saved: bool,
) -> WebResult<Response> {
    let region = state.roster.settings().card_rules.region.to_string();
    let stored = state.roster.card(caller).await?;
    let form = CardForm::of(stored.as_ref().map(|s| &s.card), &region).with_spare_rows(&region);
    render(&CardPage {
        page,
        form,
        errors: FieldErrors::default(),
        joining: next.as_deref().is_some_and(|n| n.starts_with("/join/")),
        next: next.unwrap_or_default(),
        saved,
        regions: regions(),
    })
}

#[derive(Debug, Deserialize)]
struct CardQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Query(query): Query<CardQuery>,
) -> WebResult<Response> {
    card_page(
        &state,
        page,
        &caller,
        safe_next(query.next.as_deref()),
        query.saved.is_some(),
    )
    .await
}

/// What the multipart form sent.
#[derive(Debug, Default)]
struct Submitted {
    csrf: String,
    next: String,
    form: CardForm,
    photo_upload: Option<Vec<u8>>,
    photo_remove: bool,
}

async fn read_form(mut multipart: Multipart, max_photo: usize) -> WebResult<Submitted> {
    let mut submitted = Submitted::default();
    let mut phones: std::collections::BTreeMap<usize, PhoneRow> = std::collections::BTreeMap::new();
    let mut emails: std::collections::BTreeMap<usize, EmailRow> = std::collections::BTreeMap::new();
    let mut parts = 0;
    while let Some(field) = multipart.next_field().await.map_err(|_| WebError::BadRequest)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(WebError::BadRequest);
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "photo" {
            let bytes = field.bytes().await.map_err(|_| WebError::BadRequest)?;
            if !bytes.is_empty() {
                // Refused by the card's rules with a clear message if too big; never read
                // further than a little over the limit.
                submitted.photo_upload = Some(bytes.iter().take(max_photo.saturating_add(1)).copied().collect());
            }
            continue;
        }
        let value = field.text().await.map_err(|_| WebError::BadRequest)?;
        let row = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| *i < 50)
        };
        let f = &mut submitted.form;
        match name.as_str() {
            "csrf" => submitted.csrf = value,
            "next" => submitted.next = value,
            "formatted_name" => f.formatted_name = value,
            "organization" => f.organization = value,
            "title" => f.title = value,
            "street" => f.street = value,
            "locality" => f.locality = value,
            "region" => f.region = value,
            "postal_code" => f.postal_code = value,
            "country" => f.country = value,
            "birthday" => f.birthday = value,
            "note" => f.note = value,
            "photo_remove" => submitted.photo_remove = true,
            _ => {
                if let Some(i) = row("phone_region_") {
                    phones.entry(i).or_default().region = value;
                } else if let Some(i) = row("phone_kind_") {
                    phones.entry(i).or_default().kind = value;
                } else if let Some(i) = row("phone_") {
                    phones.entry(i).or_default().number = value;
                } else if let Some(i) = row("email_kind_") {
                    emails.entry(i).or_default().kind = value;
                } else if let Some(i) = row("email_") {
                    emails.entry(i).or_default().address = value;
                }
            }
        }
    }
    submitted.form.phones = phones.into_values().filter(|p| !p.number.trim().is_empty()).collect();
    submitted.form.emails = emails.into_values().filter(|e| !e.address.trim().is_empty()).collect();
    Ok(submitted)
}

/// The card input of a form; phone numbers without a country code are read in their picked
/// region here, and the ones that cannot be read are reported by row.
fn card_input(form: &CardForm, photo: Option<String>, default_region: Region) -> (CardInput, Vec<FieldError>) {
    let mut errors = Vec::new();
    let phones = form
        .phones
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let region = row.region.parse::<Region>().unwrap_or(default_region);
            let number = match E164::parse(&row.number, region) {
                Ok(number) => number.as_str().to_string(),
                Err(message) => {
                    errors.push(FieldError {
                        field: format!("phones[{i}].number"),
                        message,
                    });
                    row.number.clone()
                }
            };
            PhoneInput {
                number,
                kind: Some(phone_kind(&row.kind)),
            }
        })
        .collect();
    let address = Address {
        street: form.street.trim().into(),
        locality: form.locality.trim().into(),
        region: form.region.trim().into(),
        postal_code: form.postal_code.trim().into(),
        country: form.country.trim().into(),
    };
    let input = CardInput {
        formatted_name: form.formatted_name.clone(),
        name: None,
        phones,
        emails: form
            .emails
            .iter()
            .map(|e| Email {
                address: e.address.trim().into(),
                kind: email_kind(&e.kind),
            })
            .collect(),
        organization: text(&form.organization),
        title: text(&form.title),
        address: (address != Address::default()).then_some(address),
        birthday: text(&form.birthday),
        note: text(&form.note),
        photo,
    };
    (input, errors)
}

/// Validates and stores the card: the region-aware phone errors and the card rules' errors
/// are reported together, and nothing is stored while any remains.
async fn store(state: &AppState, caller: &Caller, input: &CardInput, mut errors: Vec<FieldError>) -> DomainResult<()> {
    let rules = &state.roster.settings().card_rules;
    if let Err(Error::Invalid(more)) = Card::parse(input, rules) {
        for error in more {
            if !errors.iter().any(|e| e.field == error.field) {
                errors.push(error);
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    state.roster.set_card(caller, input, None).await.map(|_| ())
}

async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Signed { page, caller }: Signed,
    multipart: Result<Multipart, MultipartRejection>,
) -> WebResult<Response> {
    // A post that is not the card form carries no form token either.
    let multipart = multipart.map_err(|_| WebError::Csrf)?;
    let rules = &state.roster.settings().card_rules;
    let submitted = read_form(multipart, rules.photo_max_bytes).await?;
    page.check_csrf(&state, &headers, &submitted.csrf).await?;
    let region_code = rules.region.to_string();
    // The stored photo, kept when no new file comes and shown again if the card is refused.
    let stored_photo = state
        .roster
        .card(&caller)
        .await?
        .and_then(|c| c.card.photo)
        .map(|p| photo_uri(&p));
    let photo = match (&submitted.photo_upload, submitted.photo_remove) {
        (Some(bytes), _) => Some(STANDARD.encode(bytes)),
        (None, true) => None,
        (None, false) => stored_photo.clone(),
    };
    let (input, phone_errors) = card_input(&submitted.form, photo.clone(), rules.region);
    let next = safe_next(Some(&submitted.next));
    match store(&state, &caller, &input, phone_errors).await {
        Ok(()) => Ok(see_other(&next.unwrap_or_else(|| "/me/card?saved=1".into()))),
        Err(Error::Invalid(errors)) => {
            let mut form = submitted.form;
            // The photo shown is the one still stored (an upload is not kept on error).
            form.photo = stored_photo;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &CardPage {
                    errors: FieldErrors::localized(errors, page.lang),
                    page,
                    form: form.with_spare_rows(&region_code),
                    joining: next.as_deref().is_some_and(|n| n.starts_with("/join/")),
                    next: next.unwrap_or_default(),
                    saved: false,
                    regions: regions(),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Kinds for the selects.
impl CardPage {
    fn phone_kinds(&self) -> [&'static str; 4] {
        PHONE_KINDS
    }

    fn email_kinds(&self) -> [&'static str; 3] {
        EMAIL_KINDS
    }
}
