//! Groups, their members, roles, ownership and the caller's share policy per group.

use super::{group_view, member_view};
use crate::domain::ids::{AccountId, GroupId};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, Json, Path};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use roster_proto::api::{
    CreateGroupRequest, GroupView, MemberView, Problem, SharePolicy, TransferRequest, UpdateGroupRequest,
    UpdateMemberRequest,
};
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups", get(list_groups).post(create_group))
        .route(
            "/api/v1/groups/{id}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route("/api/v1/groups/{id}/members", get(list_members))
        .route(
            "/api/v1/groups/{id}/members/{account_id}",
            axum::routing::patch(update_member).delete(remove_member),
        )
        .route("/api/v1/groups/{id}/members/{account_id}/approve", post(approve_member))
        .route("/api/v1/groups/{id}/members/{account_id}/deny", post(deny_member))
        .route("/api/v1/groups/{id}/membership", delete(leave_group))
        .route("/api/v1/groups/{id}/transfer", post(transfer_group))
        .route(
            "/api/v1/groups/{id}/share-policy",
            get(get_share_policy).put(put_share_policy),
        )
}

/// GET /api/v1/groups — groups where the caller is active or pending.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", security(("bearer" = [])),
    responses((status = 200, body = Vec<GroupView>), (status = 401, body = Problem)))]
pub(super) async fn list_groups(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = state.roster.my_groups(&caller).await?;
    Ok(Json(groups.iter().map(group_view).collect()))
}

/// POST /api/v1/groups — create a group owned by the caller.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", security(("bearer" = [])),
    request_body = CreateGroupRequest,
    responses((status = 201, body = GroupView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let group = state.roster.create_group(&caller, &request).await?;
    Ok((StatusCode::CREATED, Json(group_view(&group))))
}

/// GET /api/v1/groups/{id} — one group (active or pending members).
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GroupView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn get_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<GroupView>> {
    let group = state.roster.group(&caller, GroupId(id)).await?;
    Ok(Json(group_view(&group)))
}

/// PATCH /api/v1/groups/{id} — change name, description, join policy or limit (admins).
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateGroupRequest,
    responses((status = 200, body = GroupView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Json(request): Json<UpdateGroupRequest>,
) -> ApiResult<Json<GroupView>> {
    let group = state.roster.update_group(&caller, GroupId(id), &request).await?;
    Ok(Json(group_view(&group)))
}

/// DELETE /api/v1/groups/{id} — delete the group (owner).
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn delete_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.roster.delete_group(&caller, GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/groups/{id}/members — active members; admins also see pending requests.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = Problem)))]
pub(super) async fn list_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<MemberView>>> {
    let members = state.roster.members(&caller, GroupId(id)).await?;
    Ok(Json(members.iter().map(member_view).collect()))
}

/// PATCH /api/v1/groups/{id}/members/{account_id} — make a member admin or member (owner).
#[utoipa::path(patch, path = "/api/v1/groups/{id}/members/{account_id}", tag = "groups",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    request_body = UpdateMemberRequest,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub(super) async fn update_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, account)): Path<(Uuid, Uuid)>,
    Json(request): Json<UpdateMemberRequest>,
) -> ApiResult<StatusCode> {
    state
        .roster
        .set_role(&caller, GroupId(id), AccountId(account), request.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /api/v1/groups/{id}/members/{account_id} — remove a member (admins).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{account_id}", tag = "groups",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, account)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state
        .roster
        .remove_member(&caller, GroupId(id), AccountId(account))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/groups/{id}/members/{account_id}/approve — accept a join request (admins).
#[utoipa::path(post, path = "/api/v1/groups/{id}/members/{account_id}/approve", tag = "groups",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, description = "group full", body = Problem)))]
pub(super) async fn approve_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, account)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.roster.approve(&caller, GroupId(id), AccountId(account)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/groups/{id}/members/{account_id}/deny — refuse a join request (admins).
#[utoipa::path(post, path = "/api/v1/groups/{id}/members/{account_id}/deny", tag = "groups",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn deny_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, account)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.roster.deny(&caller, GroupId(id), AccountId(account)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// DELETE /api/v1/groups/{id}/membership — leave the group (or withdraw a request).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/membership", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem),
              (status = 409, description = "the owner must transfer first", body = Problem)))]
pub(super) async fn leave_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.roster.leave(&caller, GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/groups/{id}/transfer — hand ownership to another active member (owner).
#[utoipa::path(post, path = "/api/v1/groups/{id}/transfer", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TransferRequest,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn transfer_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Json(request): Json<TransferRequest>,
) -> ApiResult<StatusCode> {
    state
        .roster
        .transfer_ownership(&caller, GroupId(id), AccountId(request.account_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/groups/{id}/share-policy — which of the caller's fields the group sees.
#[utoipa::path(get, path = "/api/v1/groups/{id}/share-policy", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SharePolicy), (status = 404, body = Problem)))]
pub(super) async fn get_share_policy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SharePolicy>> {
    let share = state.roster.share_policy(&caller, GroupId(id)).await?;
    Ok(Json(SharePolicy { fields: share.fields() }))
}

/// PUT /api/v1/groups/{id}/share-policy — set which of the caller's fields the group sees.
#[utoipa::path(put, path = "/api/v1/groups/{id}/share-policy", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SharePolicy,
    responses((status = 200, body = SharePolicy), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn put_share_policy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Json(policy): Json<SharePolicy>,
) -> ApiResult<Json<SharePolicy>> {
    let share = state
        .roster
        .set_share_policy(&caller, GroupId(id), &policy.fields)
        .await?;
    Ok(Json(SharePolicy { fields: share.fields() }))
}
