//! Authentication of API requests: `Authorization: Bearer <terminal token>`.

use super::AppState;
use super::error::ApiError;
use crate::domain::Error;
use crate::domain::account::Caller;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Error::Unauthorized)?;
        let caller = state.roster.authenticate(token).await?;
        Ok(Auth(caller))
    }
}
