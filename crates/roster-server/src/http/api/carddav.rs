//! What CardDAV clients need from the JSON API: app passwords (terminals whose credential a
//! device's address book uses over HTTP Basic) and the choice of listed books.

use super::terminal_view;
use crate::domain::ids::TerminalId;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, Json};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use roster_proto::api::{
    AppPasswordRequest, AppPasswordResponse, DirectorySettings, Problem, TerminalBooks, TerminalView,
};
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/app-passwords", post(create_app_password))
        .route("/api/v1/terminals/{id}/books", put(put_terminal_books))
        .route(
            "/api/v1/me/directory-settings",
            get(get_directory_settings).put(put_directory_settings),
        )
}

/// POST /api/v1/app-passwords — create an app password for a CardDAV client; shown once.
/// It is a terminal: listed and revoked with the others under `/api/v1/terminals`.
#[utoipa::path(post, path = "/api/v1/app-passwords", tag = "carddav", security(("bearer" = [])),
    request_body = AppPasswordRequest,
    responses((status = 201, body = AppPasswordResponse), (status = 401, body = Problem),
              (status = 422, body = Problem)))]
pub(super) async fn create_app_password(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<AppPasswordRequest>,
) -> ApiResult<(StatusCode, Json<AppPasswordResponse>)> {
    let (password, terminal) = state
        .roster
        .create_app_password(&caller, request.name.as_deref(), request.group_books)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AppPasswordResponse {
            password,
            terminal: terminal_view(&terminal, false, false),
        }),
    ))
}

/// PUT /api/v1/terminals/{id}/books — choose, for one app password's device, whether the
/// per-group books are listed (`null`: follow the account's directory setting).
#[utoipa::path(put, path = "/api/v1/terminals/{id}/books", tag = "carddav", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "terminal id of an app password")),
    request_body = TerminalBooks,
    responses((status = 200, body = TerminalView), (status = 401, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn put_terminal_books(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Json(books): Json<TerminalBooks>,
) -> ApiResult<Json<TerminalView>> {
    let terminal = state
        .roster
        .set_terminal_group_books(&caller, TerminalId(id), books.group_books)
        .await?;
    let connected = state.roster.is_connected(terminal.id);
    Ok(Json(terminal_view(
        &terminal,
        terminal.id == caller.terminal.id,
        connected,
    )))
}

/// GET /api/v1/me/directory-settings — how the caller's address books are offered.
#[utoipa::path(get, path = "/api/v1/me/directory-settings", tag = "carddav", security(("bearer" = [])),
    responses((status = 200, body = DirectorySettings), (status = 401, body = Problem)))]
pub(super) async fn get_directory_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<DirectorySettings>> {
    Ok(Json(state.roster.directory_settings(&caller).await?))
}

/// PUT /api/v1/me/directory-settings — choose whether one book per group is listed.
#[utoipa::path(put, path = "/api/v1/me/directory-settings", tag = "carddav", security(("bearer" = [])),
    request_body = DirectorySettings,
    responses((status = 200, body = DirectorySettings), (status = 401, body = Problem)))]
pub(super) async fn put_directory_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(settings): Json<DirectorySettings>,
) -> ApiResult<Json<DirectorySettings>> {
    Ok(Json(state.roster.set_directory_settings(&caller, &settings).await?))
}
