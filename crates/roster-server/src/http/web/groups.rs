//! My groups, a group's directory, what a group sees of my card, waiting for approval, leaving,
//! and the stream ticket that lets `roster.js` keep an open page current.

use super::auth::Empty;
use super::error::{WebError, WebResult};
use super::session::{CsrfForm, Page, Signed, url_encode};
use super::{render, see_other};
use crate::domain::directory::encode_cursor;
use crate::domain::group::GroupWithMembership;
use crate::domain::ids::GroupId;
use crate::domain::phone::{E164, Region};
use crate::domain::share_policy::ShareFields;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use roster_proto::api::{CardField, CardView, MembershipState, Photo, Role};
use serde::Deserialize;

/// Members on one directory page.
pub(super) const DIRECTORY_PAGE: u32 = 50;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list))
        .route("/groups/{id}", get(directory))
        .route("/groups/{id}/waiting", get(waiting))
        .route("/groups/{id}/share", get(share_page).post(save_share))
        .route("/groups/{id}/leave", post(leave))
        .route("/web/ticket", post(ticket))
}

/// Every field a group can be shown, in the order of the form.
const FIELDS: [(CardField, &str); 8] = [
    (CardField::Name, "name"),
    (CardField::Phones, "phones"),
    (CardField::Emails, "emails"),
    (CardField::Organization, "organization"),
    (CardField::Address, "address"),
    (CardField::Birthday, "birthday"),
    (CardField::Note, "note"),
    (CardField::Photo, "photo"),
];

/// One checkbox of the share form.
#[derive(Debug, Clone)]
pub(super) struct FieldChoice {
    /// Form value and id suffix (`phones`).
    pub(super) key: &'static str,
    /// Whether the group sees it.
    pub(super) checked: bool,
    /// Whether my card has this field at all.
    pub(super) filled: bool,
}

/// A share form: the choices and my card, each field of the preview marked with its key so
/// that the script can show exactly what the checkboxes give.
#[derive(Debug, Clone)]
pub(super) struct ShareChoice {
    /// The checkboxes.
    pub(super) fields: Vec<FieldChoice>,
    /// My whole card (fields not chosen are rendered hidden).
    pub(super) card: Option<Entry>,
}

impl ShareChoice {
    /// Whether the group sees a field.
    pub(super) fn shows(&self, key: &str) -> bool {
        self.fields.iter().any(|f| f.key == key && f.checked)
    }

    /// Whether the group sees nothing of the card at all.
    pub(super) fn shows_nothing(&self) -> bool {
        !self.fields.iter().any(|f| f.checked && f.filled)
    }
}

/// The share form for my card and a chosen set of fields.
pub(super) async fn share_choice(state: &AppState, caller: &Caller, chosen: ShareFields) -> WebResult<ShareChoice> {
    let card = state.roster.card(caller).await?;
    let full = card.as_ref().and_then(|c| c.card.view(ShareFields::ALL));
    let fields = FIELDS
        .iter()
        .map(|(field, key)| FieldChoice {
            key,
            checked: chosen.contains(*field),
            // The domain's rule for "the card has this field", as the audience uses it.
            filled: card
                .as_ref()
                .is_some_and(|c| c.card.view(ShareFields::of(&[*field])).is_some()),
        })
        .collect();
    Ok(ShareChoice {
        fields,
        card: full.map(|view| Entry::of(String::new(), &view)),
    })
}

/// The fields a share form chose (`field=phones` pairs).
pub(super) fn chosen_fields(pairs: &[(String, String)]) -> ShareFields {
    let chosen: Vec<CardField> = pairs
        .iter()
        .filter(|(k, _)| k == "field")
        .filter_map(|(_, v)| FIELDS.iter().find(|(_, key)| key == v).map(|(f, _)| *f))
        .collect();
    ShareFields::of(&chosen)
}

/// A stored (E.164) number as people read it, in international notation.
pub(super) fn shown_number(e164: &str) -> String {
    E164::parse(e164, Region::default()).map_or_else(|_| e164.to_string(), |n| n.international())
}

/// A photo as an `<img src>`: a `data:` URI (the CSP allows `data:` images only).
pub(super) fn photo_uri(photo: &Photo) -> String {
    format!("data:{};base64,{}", photo.media_type, photo.data)
}

/// A card as a page shows it: plain strings, phones in international notation.
#[derive(Debug, Clone, Default)]
pub(super) struct Entry {
    /// The account id (empty for my own card).
    pub(super) id: String,
    /// Name, if visible.
    pub(super) name: Option<String>,
    /// Phone numbers with `tel:` links.
    pub(super) phones: Vec<(String, String)>,
    /// E-mail addresses.
    pub(super) emails: Vec<String>,
    /// Organisation and title.
    pub(super) organization: Option<String>,
    /// One-line address.
    pub(super) address: Option<String>,
    /// Birthday.
    pub(super) birthday: Option<String>,
    /// Note.
    pub(super) note: Option<String>,
    /// Photo as a `data:` URI.
    pub(super) photo: Option<String>,
}

impl Entry {
    /// An entry from a visible card.
    pub(super) fn of(id: String, view: &CardView) -> Entry {
        let organization = [view.organization.as_deref(), view.title.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
        let address = view.address.as_ref().map(|a| {
            [&a.street, &a.postal_code, &a.locality, &a.region, &a.country]
                .into_iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        });
        Entry {
            id,
            name: view.formatted_name.clone(),
            phones: view
                .phones
                .iter()
                .map(|p| (shown_number(&p.number), format!("tel:{}", p.number)))
                .collect(),
            emails: view.emails.iter().map(|e| e.address.clone()).collect(),
            organization: Some(organization).filter(|o| !o.is_empty()),
            address: address.filter(|a| !a.is_empty()),
            birthday: view.birthday.clone(),
            note: view.note.clone(),
            photo: view.photo.as_ref().map(photo_uri),
        }
    }
}

#[derive(Template)]
#[template(path = "web/groups.html")]
struct GroupsPage {
    page: Page,
    groups: Vec<GroupWithMembership>,
}

impl GroupsPage {
    fn pending(&self, g: &GroupWithMembership) -> bool {
        g.membership.state == MembershipState::Pending
    }
}

async fn list(State(state): State<AppState>, Signed { page, caller }: Signed) -> WebResult<Response> {
    let groups = state.roster.my_groups(&caller).await?;
    render(&GroupsPage { page, groups })
}

#[derive(Template)]
#[template(path = "web/directory.html")]
struct DirectoryPage {
    page: Page,
    group: GroupWithMembership,
    entries: Vec<Entry>,
    q: String,
    next: Option<String>,
    version: i64,
    admin: bool,
    owner: bool,
}

#[derive(Debug, Deserialize)]
struct DirectoryQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

fn group_id(id: &str) -> WebResult<GroupId> {
    id.parse::<GroupId>()
        .map_err(|_| WebError::Domain(crate::domain::Error::NotFound("group")))
}

async fn directory(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
    Query(query): Query<DirectoryQuery>,
) -> WebResult<Response> {
    let id = group_id(&id)?;
    let group = state.roster.group(&caller, id).await?;
    if group.membership.state == MembershipState::Pending {
        return Ok(see_other(&format!("/groups/{id}/waiting")));
    }
    let q = query.q.unwrap_or_default();
    let search = Some(q.trim()).filter(|q| !q.is_empty());
    let listing = state
        .roster
        .directory(&caller, id, query.after.as_deref(), Some(DIRECTORY_PAGE), search)
        .await?;
    let next = listing.next.map(|after| {
        format!(
            "/groups/{id}?after={}{}",
            encode_cursor(after),
            search.map(|q| format!("&q={}", url_encode(q))).unwrap_or_default()
        )
    });
    render(&DirectoryPage {
        entries: listing
            .entries
            .iter()
            .map(|(account, view)| Entry::of(account.to_string(), view))
            .collect(),
        version: listing.version,
        admin: group.membership.is_admin(),
        owner: group.membership.role == Role::Owner,
        group,
        q,
        next,
        page,
    })
}

#[derive(Template)]
#[template(path = "web/waiting.html")]
struct WaitingPage {
    page: Page,
    group: GroupWithMembership,
}

/// Waiting for an admin's approval; moves on to the directory once approved (by itself where
/// the script runs, on "check again" elsewhere).
async fn waiting(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = group_id(&id)?;
    let group = state.roster.group(&caller, id).await?;
    if group.membership.is_active() {
        return Ok(see_other(&format!("/groups/{id}")));
    }
    render(&WaitingPage { page, group })
}

#[derive(Template)]
#[template(path = "web/share.html")]
struct SharePage {
    page: Page,
    group: GroupWithMembership,
    choice: ShareChoice,
    saved: bool,
}

#[derive(Debug, Deserialize)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn share_page(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
    Query(query): Query<SavedQuery>,
) -> WebResult<Response> {
    let id = group_id(&id)?;
    let group = state.roster.group(&caller, id).await?;
    let policy = state.roster.share_policy(&caller, id).await?;
    let choice = share_choice(&state, &caller, policy).await?;
    render(&SharePage {
        page,
        group,
        choice,
        saved: query.saved.is_some(),
    })
}

async fn save_share(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: CsrfForm<Empty>,
) -> WebResult<Response> {
    let caller = form.caller()?;
    let CsrfForm { page, pairs, .. } = form;
    let id = group_id(&id)?;
    let fields = chosen_fields(&pairs);
    if pairs.iter().any(|(k, _)| k == "preview") {
        let group = state.roster.group(&caller, id).await?;
        let choice = share_choice(&state, &caller, fields).await?;
        return render(&SharePage {
            page,
            group,
            choice,
            saved: false,
        });
    }
    state.roster.set_share_policy(&caller, id, &fields.fields()).await?;
    Ok(see_other(&format!("/groups/{id}/share?saved=1")))
}

async fn leave(State(state): State<AppState>, Path(id): Path<String>, form: CsrfForm<Empty>) -> WebResult<Response> {
    let caller = form.caller()?;
    let id = group_id(&id)?;
    // Leaving is confirmed with a tick on the form; without it nothing happens.
    if !form.pairs.iter().any(|(k, v)| k == "confirm" && v == "yes") {
        return Ok(see_other(&format!("/groups/{id}")));
    }
    state.roster.leave(&caller, id).await?;
    Ok(see_other("/groups"))
}

/// POST /web/ticket — a single-use stream ticket for the page's script; the form token
/// comes in `X-CSRF-Token` (the script reads it from the page).
async fn ticket(
    State(state): State<AppState>,
    headers: HeaderMap,
    Signed { page, caller }: Signed,
) -> WebResult<Response> {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    page.check_csrf(&state, &headers, token).await?;
    let ticket = state.roster.stream_ticket(&caller).await?;
    Ok(Json(serde_json::json!({ "ticket": ticket })).into_response())
}
