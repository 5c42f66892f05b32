//! Invite links: create, list, revoke, and accept.

use super::invite_view;
use crate::domain::ids::{GroupId, InviteId};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, Json, Path};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use roster_proto::api::{CreateInviteRequest, InviteView, JoinResponse, Problem};
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups/{id}/invites", post(create_invite).get(list_invites))
        .route("/api/v1/groups/{id}/invites/{invite_id}", delete(revoke_invite))
        .route("/api/v1/invites/{code}/accept", post(accept_invite))
}

/// POST /api/v1/groups/{id}/invites — create an invite link; its code is shown only here.
#[utoipa::path(post, path = "/api/v1/groups/{id}/invites", tag = "invites", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CreateInviteRequest,
    responses((status = 201, body = InviteView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(super) async fn create_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Json(request): Json<CreateInviteRequest>,
) -> ApiResult<(StatusCode, Json<InviteView>)> {
    let created = state.roster.create_invite(&caller, GroupId(id), &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(invite_view(&created.invite, Some(created.code), Some(created.url))),
    ))
}

/// GET /api/v1/groups/{id}/invites — the group's open invites (admins).
#[utoipa::path(get, path = "/api/v1/groups/{id}/invites", tag = "invites", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<InviteView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn list_invites(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<InviteView>>> {
    let invites = state.roster.invites(&caller, GroupId(id)).await?;
    Ok(Json(invites.iter().map(|i| invite_view(i, None, None)).collect()))
}

/// DELETE /api/v1/groups/{id}/invites/{invite_id} — revoke an invite (admins).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/invites/{invite_id}", tag = "invites",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("invite_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn revoke_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, invite)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state
        .roster
        .revoke_invite(&caller, GroupId(id), InviteId(invite))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/invites/{code}/accept — join with an invite (pending in approval groups).
#[utoipa::path(post, path = "/api/v1/invites/{code}/accept", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path, description = "the invite code")),
    responses((status = 200, body = JoinResponse), (status = 404, body = Problem),
              (status = 409, description = "already a member, invite used up or expired, group full", body = Problem)))]
pub(super) async fn accept_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(code): Path<String>,
) -> ApiResult<Json<JoinResponse>> {
    let (group, membership_state) = state.roster.accept_invite(&caller, &code).await?;
    Ok(Json(JoinResponse {
        group_id: group.id.0,
        group_name: group.name,
        state: membership_state,
    }))
}
