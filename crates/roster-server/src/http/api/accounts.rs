//! Accounts, sessions (logins) and terminals.

use super::{account_view, terminal_view};
use crate::domain::ids::TerminalId;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::client::ClientIp;
use crate::http::error::{ApiResult, Json, Path};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use roster_proto::api::{
    AccountView, AudienceMember, ChangePasswordRequest, DeleteAccountRequest, GroupAudienceView, LoginRequest,
    LoginResponse, PasswordChanged, Problem, RegisterRequest, TerminalKind, TerminalView, UpdateAccountRequest,
};
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(register))
        .route("/api/v1/sessions", post(login))
        .route("/api/v1/sessions/current", delete(logout))
        .route("/api/v1/me", get(me).patch(update_me).delete(delete_me))
        .route("/api/v1/me/audience", get(my_audience))
        .route("/api/v1/me/password", put(change_password))
        .route("/api/v1/terminals", get(list_terminals))
        .route("/api/v1/terminals/{id}", delete(revoke_terminal))
}

/// POST /api/v1/accounts — register an account (with `invite`, also accept that invite; the
/// server's registration mode may demand one, or refuse every registration).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, body = AccountView), (status = 403, description = "registration is closed", body = Problem),
              (status = 404, description = "no such invite", body = Problem),
              (status = 409, description = "login taken, or the invite is used up or expired", body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem),
              (status = 503, description = "password checks saturated or storage full; see Retry-After", body = Problem)))]
pub(super) async fn register(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(request): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let account = state.roster.register(&request, client).await?;
    Ok((StatusCode::CREATED, Json(account_view(&account))))
}

/// POST /api/v1/sessions — log in; creates a terminal and returns its token once.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = LoginRequest,
    responses((status = 201, body = LoginResponse), (status = 401, body = Problem), (status = 429, body = Problem),
              (status = 503, description = "password checks saturated; see Retry-After", body = Problem)))]
pub(super) async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Json(request): Json<LoginRequest>,
) -> ApiResult<(StatusCode, Json<LoginResponse>)> {
    let (token, terminal, account) = state.roster.login(&request, TerminalKind::Session, client).await?;
    Ok((
        StatusCode::CREATED,
        Json(LoginResponse {
            token,
            terminal: terminal_view(&terminal, true, false),
            account: account_view(&account),
        }),
    ))
}

/// DELETE /api/v1/sessions/current — log out: revokes the calling terminal.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub(super) async fn logout(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<StatusCode> {
    state.roster.revoke_terminal(&caller, caller.terminal.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/me — the caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = Problem)))]
pub(super) async fn me(Auth(caller): Auth) -> Json<AccountView> {
    Json(account_view(&caller.account))
}

/// PATCH /api/v1/me — change the caller's account (its display name); absent fields stay.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    request_body = UpdateAccountRequest,
    responses((status = 200, body = AccountView), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
pub(super) async fn update_me(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<UpdateAccountRequest>,
) -> ApiResult<Json<AccountView>> {
    let account = match request.display_name.as_deref() {
        Some(name) => state.roster.set_display_name(&caller, name).await?,
        None => caller.account,
    };
    Ok(Json(account_view(&account)))
}

/// GET /api/v1/me/audience — who can see the caller's card: for each group where the caller is
/// active, the fields it receives and the members who receive them.
#[utoipa::path(get, path = "/api/v1/me/audience", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<GroupAudienceView>), (status = 401, body = Problem),
              (status = 429, body = Problem)))]
pub(super) async fn my_audience(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<GroupAudienceView>>> {
    let audiences = state.roster.audience(&caller).await?;
    Ok(Json(
        audiences
            .into_iter()
            .map(|a| GroupAudienceView {
                group_id: a.group.id.0,
                group_name: a.group.name,
                share: a.share.fields(),
                fields: a.fields.fields(),
                members: a
                    .receivers
                    .into_iter()
                    .map(|r| AudienceMember {
                        account_id: r.account_id.0,
                        display_name: r.display_name,
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// DELETE /api/v1/me — delete the caller's account (password required; limited per account).
#[utoipa::path(delete, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, description = "owns a group with other members", body = Problem),
              (status = 429, body = Problem)))]
pub(super) async fn delete_me(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<DeleteAccountRequest>,
) -> ApiResult<StatusCode> {
    state.roster.delete_account(&caller, &request.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// PUT /api/v1/me/password — change the main password (the current one required; limited per
/// account). Every other terminal is revoked; app passwords too unless `keep_app_passwords`.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "accounts", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 200, body = PasswordChanged), (status = 401, body = Problem),
              (status = 403, description = "the current password is wrong", body = Problem),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(super) async fn change_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<ChangePasswordRequest>,
) -> ApiResult<Json<PasswordChanged>> {
    let revoked = state.roster.change_password(&caller, &request).await?;
    Ok(Json(PasswordChanged {
        revoked_terminals: revoked.into_iter().map(|t| t.0).collect(),
    }))
}

/// GET /api/v1/terminals — the caller's terminals.
#[utoipa::path(get, path = "/api/v1/terminals", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<TerminalView>), (status = 401, body = Problem)))]
pub(super) async fn list_terminals(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<TerminalView>>> {
    let terminals = state.roster.terminals(&caller).await?;
    Ok(Json(
        terminals
            .iter()
            .map(|t| terminal_view(t, t.id == caller.terminal.id, state.roster.is_connected(t.id)))
            .collect(),
    ))
}

/// DELETE /api/v1/terminals/{id} — revoke one of the caller's terminals.
#[utoipa::path(delete, path = "/api/v1/terminals/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "terminal id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub(super) async fn revoke_terminal(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.roster.revoke_terminal(&caller, TerminalId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
