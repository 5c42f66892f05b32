//! A member's directory of a group, whole (paged, searchable) or as changes since a cursor.

use crate::domain::directory::encode_cursor;
use crate::domain::ids::GroupId;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, Json, Path, Query};
use crate::http::wire::delta_to_wire;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use roster_proto::api::{ChangesPage, DirectoryEntry, DirectoryPage, Problem};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups/{id}/directory", get(get_directory))
        .route("/api/v1/groups/{id}/changes", get(get_changes))
}

/// Directory query parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct DirectoryQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
    /// Search: a phone prefix (`+49 30`, `030`) or part of a name.
    q: Option<String>,
}

/// GET /api/v1/groups/{id}/directory — the cards of the other active members, as their share
/// policies allow.
#[utoipa::path(get, path = "/api/v1/groups/{id}/directory", tag = "directory", security(("bearer" = [])),
    params(("id" = Uuid, Path), DirectoryQuery),
    responses((status = 200, body = DirectoryPage), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem)))]
pub(super) async fn get_directory(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Query(query): Query<DirectoryQuery>,
) -> ApiResult<Json<DirectoryPage>> {
    let page = state
        .roster
        .directory(
            &caller,
            GroupId(id),
            query.cursor.as_deref(),
            query.limit,
            query.q.as_deref(),
        )
        .await?;
    Ok(Json(DirectoryPage {
        entries: page
            .entries
            .into_iter()
            .map(|(account, card)| DirectoryEntry {
                account_id: account.0,
                card,
            })
            .collect(),
        next_cursor: page.next.map(encode_cursor),
        version: page.version,
    }))
}

/// Changes query parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct ChangesQuery {
    /// The cursor from the previous answer (0 for everything).
    #[serde(default)]
    since: i64,
}

/// GET /api/v1/groups/{id}/changes — each member changed since `since`, once, as now visible.
#[utoipa::path(get, path = "/api/v1/groups/{id}/changes", tag = "directory", security(("bearer" = [])),
    params(("id" = Uuid, Path), ChangesQuery),
    responses((status = 200, body = ChangesPage), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 429, body = Problem)))]
pub(super) async fn get_changes(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<Uuid>,
    Query(query): Query<ChangesQuery>,
) -> ApiResult<Json<ChangesPage>> {
    let changes = state.roster.changes(&caller, GroupId(id), query.since).await?;
    Ok(Json(ChangesPage {
        group_id: id,
        resync: changes.resync,
        changes: changes.deltas.into_iter().map(delta_to_wire).collect(),
        cursor: changes.cursor,
        more: changes.more,
    }))
}
