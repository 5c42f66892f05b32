//! Authentication of API requests: `Authorization: Bearer <terminal token>`.

use super::AppState;
use super::error::ApiError;
use crate::domain::Error;
use crate::domain::terminal::Caller;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};

/// The token of an `Authorization: Bearer …` header, if there is one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(Error::Unauthorized)?;
        let caller = state.roster.authenticate(token).await?;
        Ok(Auth(caller))
    }
}
