//! The caller's own card. `ETag` carries the card's revision; `If-Match` guards updates.

use crate::domain::Error;
use crate::domain::model::StoredCard;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::error::{ApiResult, Json};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use roster_proto::api::{CardInput, MyCard, Problem};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me/card", get(get_card).put(put_card))
}

fn with_etag(stored: &StoredCard) -> Response {
    let body = MyCard {
        card: stored
            .card
            .view(crate::domain::share_policy::ShareFields::ALL)
            .unwrap_or_default(),
        revision: stored.revision,
        updated_at: super::rfc3339(stored.updated_at),
    };
    let mut response = Json(body).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", stored.revision)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// GET /api/v1/me/card — the caller's card.
#[utoipa::path(get, path = "/api/v1/me/card", tag = "cards", security(("bearer" = [])),
    responses((status = 200, body = MyCard, headers(("ETag" = String))), (status = 401, body = Problem),
              (status = 404, description = "no card yet", body = Problem)))]
pub(super) async fn get_card(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Response> {
    let stored = state.roster.card(&caller).await?.ok_or(Error::NotFound("card"))?;
    Ok(with_etag(&stored))
}

/// PUT /api/v1/me/card — replace the caller's card; every group that sees a changed field
/// gets a change.
#[utoipa::path(put, path = "/api/v1/me/card", tag = "cards", security(("bearer" = [])), request_body = CardInput,
    params(("If-Match" = Option<String>, Header, description = "the ETag of the card this update replaces")),
    responses((status = 200, body = MyCard), (status = 401, body = Problem), (status = 412, body = Problem),
              (status = 422, description = "invalid fields, each listed", body = Problem)))]
pub(super) async fn put_card(
    State(state): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Json(input): Json<CardInput>,
) -> ApiResult<Response> {
    let expected = match headers.get(header::IF_MATCH).map(|v| v.to_str().unwrap_or_default()) {
        None => None,
        Some(value) => Some(
            value
                .trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse::<i64>()
                .map_err(|_| Error::Stale("If-Match does not name a revision of this card".into()))?,
        ),
    };
    let stored = state.roster.set_card(&caller, &input, expected).await?;
    Ok(with_etag(&stored))
}
