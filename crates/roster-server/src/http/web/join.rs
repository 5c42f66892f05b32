//! The invite link: `/join/CODE` shows the group and lets a person sign up or sign in, then
//! walks them through their card and what the group sees, to joining (or waiting).

use super::auth::SignupForm;
use super::error::{WebError, WebResult};
use super::groups::{ShareChoice, share_choice};
use super::session::{CsrfForm, Page, Signed};
use super::{render, render_status, see_other};
use crate::domain::Error;
use crate::domain::account::Registration;
use crate::domain::group::InvitePreview;
use crate::domain::share_policy::ShareFields;
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use roster_proto::api::{JoinPolicy, MembershipState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/join/{code}", get(invite_page))
        .route("/join/{code}/card", get(card_step))
        .route("/join/{code}/share", get(share_step).post(join))
}

#[derive(Template)]
#[template(path = "web/invite.html")]
struct InvitePage {
    page: Page,
    code: String,
    preview: InvitePreview,
    needs_approval: bool,
    /// Already an active member (signed in).
    member: bool,
    /// The server takes no new accounts: signing in only.
    registration_closed: bool,
    signup: SignupForm,
}

#[derive(Template)]
#[template(path = "web/invite_unusable.html")]
struct UnusablePage {
    page: Page,
    /// The group's name, when the code is known.
    group: Option<String>,
}

#[derive(Template)]
#[template(path = "web/join_share.html")]
struct SharePage {
    page: Page,
    code: String,
    preview: InvitePreview,
    needs_approval: bool,
    choice: ShareChoice,
}

/// The invite, or the page that says plainly why it cannot be used.
async fn usable_invite(state: &AppState, page: &Page, code: &str) -> WebResult<Result<InvitePreview, Response>> {
    match state.roster.invite_preview(code).await {
        Ok(preview) if preview.usable => Ok(Ok(preview)),
        Ok(preview) => Ok(Err(render_status(
            StatusCode::GONE,
            &UnusablePage {
                page: page.clone(),
                group: Some(preview.group.name),
            },
        )?)),
        Err(Error::NotFound(_)) => Ok(Err(render_status(
            StatusCode::NOT_FOUND,
            &UnusablePage {
                page: page.clone(),
                group: None,
            },
        )?)),
        Err(e) => Err(e.into()),
    }
}

async fn invite_page(State(state): State<AppState>, page: Page, Path(code): Path<String>) -> WebResult<Response> {
    let preview = match usable_invite(&state, &page, &code).await? {
        Ok(preview) => preview,
        Err(unusable) => return Ok(unusable),
    };
    let member = match &page.caller {
        Some(caller) => state
            .roster
            .group(caller, preview.group.id)
            .await
            .is_ok_and(|g| g.membership.is_active()),
        None => false,
    };
    render(&InvitePage {
        needs_approval: preview.group.join_policy == JoinPolicy::Approval,
        signup: SignupForm {
            invite: code.clone(),
            next: format!("/join/{code}/card"),
            ..SignupForm::default()
        },
        member,
        registration_closed: state.roster.settings().registration == Registration::Closed,
        code,
        preview,
        page,
    })
}

/// Step 1 after signing in: the card, then on to the share step.
async fn card_step(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(code): Path<String>,
) -> WebResult<Response> {
    if let Err(unusable) = usable_invite(&state, &page, &code).await? {
        return Ok(unusable);
    }
    super::card::card_page(&state, page, &caller, Some(format!("/join/{code}/share")), false).await
}

/// Step 2: what the group sees, with a preview; then join.
async fn share_step(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(code): Path<String>,
) -> WebResult<Response> {
    let preview = match usable_invite(&state, &page, &code).await? {
        Ok(preview) => preview,
        Err(unusable) => return Ok(unusable),
    };
    let choice = share_choice(&state, &caller, ShareFields::default_policy()).await?;
    render(&SharePage {
        needs_approval: preview.group.join_policy == JoinPolicy::Approval,
        code,
        preview,
        choice,
        page,
    })
}

/// Joins with the chosen fields (or files the request), then the group or the waiting page.
async fn join(
    State(state): State<AppState>,
    Path(code): Path<String>,
    form: CsrfForm<super::auth::Empty>,
) -> WebResult<Response> {
    let caller = form.caller()?;
    let CsrfForm { page, pairs, .. } = form;
    let fields = super::groups::chosen_fields(&pairs);
    if pairs.iter().any(|(k, _)| k == "preview") {
        // Without JavaScript, "Preview" posts the choice and shows it.
        let preview = match usable_invite(&state, &page, &code).await? {
            Ok(preview) => preview,
            Err(unusable) => return Ok(unusable),
        };
        let choice = share_choice(&state, &caller, fields).await?;
        return render(&SharePage {
            needs_approval: preview.group.join_policy == JoinPolicy::Approval,
            code,
            preview,
            choice,
            page,
        });
    }
    let (group, joined) = match state.roster.accept_invite_sharing(&caller, &code, fields).await {
        Ok((group, state)) => (group.id, state),
        Err(Error::Conflict(why)) => {
            // Already in the group (e.g. the account was created together with the invite):
            // the choice still applies.
            let preview = state.roster.invite_preview(&code).await?;
            let membership = state
                .roster
                .group(&caller, preview.group.id)
                .await
                .map_err(|_| WebError::Domain(Error::Conflict(why)))?;
            state
                .roster
                .set_share_policy(&caller, preview.group.id, &fields.fields())
                .await?;
            (preview.group.id, membership.membership.state)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(match joined {
        MembershipState::Pending => see_other(&format!("/groups/{group}/waiting")),
        _ => see_other(&format!("/groups/{group}")),
    })
}
