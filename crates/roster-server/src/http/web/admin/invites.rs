//! A group's invites: create one (its link and QR code are shown once, since only the code's
//! hash is kept), list the open ones with their uses, revoke.

use super::forms::InviteForm;
use super::{Done, GroupNav, Limits, Marks, form_fields, moment, path_id};
use crate::domain::Error;
use crate::domain::group::CreatedInvite;
use crate::domain::ids::{GroupId, InviteId};
use crate::domain::model::Invite;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use crate::http::web::auth::Empty;
use crate::http::web::error::WebResult;
use crate::http::web::session::{CsrfForm, Page, Signed};
use crate::http::web::setup::qr_png_data_uri;
use crate::http::web::{render, render_status, see_other};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use fluent_templates::fluent_bundle::FluentValue;
use time::OffsetDateTime;

/// The routes of a group's invites.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups/{id}/invites", get(list_invites).post(create_invite))
        .route("/groups/{id}/invites/{invite_id}/revoke", post(revoke_invite))
}

/// `/groups/{id}/invites`.
#[derive(Template)]
#[template(path = "web/admin/invites.html")]
struct InvitesPage {
    page: Page,
    heading: String,
    group: GroupNav,
    form: InviteForm,
    marks: Marks,
    max_days: u64,
    expires_hint: String,
    /// Whether an invite was just created (its row carries the link).
    created: bool,
    invites: Vec<InviteRow>,
}

/// One `.invite` row.
struct InviteRow {
    id: InviteId,
    /// The link and its QR code: only for the invite just created.
    link: Option<InviteLink>,
    /// Valid until …, expired, or used up.
    state: String,
    /// `.invite-uses`.
    uses: String,
    /// When it was made.
    created: String,
}

/// A shareable invite link with its QR code.
struct InviteLink {
    url: String,
    qr: String,
}

impl InviteRow {
    fn new(page: &Page, invite: &Invite, link: Option<InviteLink>, now: OffsetDateTime) -> Self {
        let used_up = invite.max_uses.is_some_and(|max| invite.uses >= max);
        let state = if used_up {
            page.t("admin-invite-used-up")
        } else if invite.expires_at <= now {
            page.t("admin-invite-expired")
        } else {
            page.t1("admin-invite-expires", "date", moment(invite.expires_at))
        };
        let uses = match invite.max_uses {
            Some(max) => page.lang.t_args(
                "admin-invite-uses-limited",
                &[
                    ("uses", FluentValue::from(invite.uses)),
                    ("max", FluentValue::from(max)),
                ],
            ),
            None => page.t1("admin-invite-uses", "uses", invite.uses),
        };
        InviteRow {
            id: invite.id,
            link,
            state,
            uses,
            created: page.t1("admin-invite-created-at", "date", moment(invite.created_at)),
        }
    }
}

/// Everything the invites page shows; `created` is the invite just made, if any.
async fn invites_page(
    state: &AppState,
    page: Page,
    caller: &Caller,
    id: GroupId,
    form: InviteForm,
    marks: Marks,
    created: Option<CreatedInvite>,
) -> WebResult<InvitesPage> {
    let found = state.roster.admin_group(caller, id).await?;
    let invites = state.roster.invites(caller, id).await?;
    let limits = Limits::of(state);
    let now = OffsetDateTime::now_utc();
    let mut link = match &created {
        Some(created) => Some(InviteLink {
            qr: qr_png_data_uri(&created.url).map_err(|e| Error::Internal(e.into()))?,
            url: created.url.clone(),
        }),
        None => None,
    };
    let created_id = created.as_ref().map(|c| c.invite.id);
    // Newest first, so that the invite just made, the one the admin came for, leads.
    let rows = invites
        .iter()
        .rev()
        .map(|invite| {
            let own_link = link.take_if(|_| Some(invite.id) == created_id);
            InviteRow::new(&page, invite, own_link, now)
        })
        .collect();
    Ok(InvitesPage {
        heading: page.t1("admin-invites-title", "group", found.group.name.clone()),
        expires_hint: page.t1("admin-invite-expires-hint", "max", limits.max_invite_days),
        max_days: limits.max_invite_days,
        group: GroupNav::of(&found.group),
        created: created.is_some(),
        form,
        marks,
        invites: rows,
        page,
    })
}

/// The invite form as it first appears: the server's default lifetime, no use limit.
fn fresh_form(limits: Limits) -> InviteForm {
    InviteForm {
        expires_days: limits.default_invite_days.to_string(),
        max_uses: String::new(),
    }
}

/// GET /groups/{id}/invites — the open invites and the form for a new one (admins).
async fn list_invites(State(state): State<AppState>, Signed { page, caller }: Signed, Path(id): Path<String>) -> Done {
    let id = path_id(&id, "group")?;
    let form = fresh_form(Limits::of(&state));
    render(&invites_page(&state, page, &caller, id, form, Marks::default(), None).await?)
}

/// POST /groups/{id}/invites — create an invite and show its link and QR code, once.
async fn create_invite(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<InviteForm>,
) -> Done {
    let id = path_id(&id, "group")?;
    let limits = Limits::of(&state);
    let fields = match form.request() {
        Ok(request) => match state.roster.create_invite(&caller, id, &request).await {
            Ok(created) => {
                let form = fresh_form(limits);
                let view = invites_page(&state, page, &caller, id, form, Marks::default(), Some(created)).await?;
                return render(&view);
            }
            Err(error) => form_fields(error)?,
        },
        Err(fields) => fields,
    };
    let marks = Marks::new(&page, &fields, limits);
    let view = invites_page(&state, page, &caller, id, form, marks, None).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// POST /groups/{id}/invites/{invite_id}/revoke — the link stops working at once (admins).
async fn revoke_invite(
    State(state): State<AppState>,
    Signed { caller, .. }: Signed,
    Path((id, invite)): Path<(String, String)>,
    _: CsrfForm<Empty>,
) -> Done {
    let id: GroupId = path_id(&id, "group")?;
    let invite: InviteId = path_id(&invite, "invite")?;
    state.roster.revoke_invite(&caller, id, invite).await?;
    Ok(see_other(&format!("/groups/{id}/invites")))
}
