//! Failures of the pages. A handler returns [`WebError`]; the web layer turns it into a page in
//! the reader's language (or sends the reader to sign in), never a bare error.

use crate::domain::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum WebError {
    /// A domain error.
    Domain(Error),
    /// The form token was missing, wrong or from another browser.
    Csrf,
    /// The request could not be read.
    BadRequest,
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError::Domain(e)
    }
}

/// The result of a page handler.
pub type WebResult<T> = Result<T, WebError>;

/// The failure a handler left in its response, for the web layer to render.
#[derive(Debug, Clone)]
pub(super) struct Failure(pub Arc<WebError>);

impl WebError {
    /// The status of the page that reports it.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest => StatusCode::BAD_REQUEST,
            WebError::Domain(e) => match e {
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Unauthorized => StatusCode::UNAUTHORIZED,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::InviteUnusable => StatusCode::GONE,
                Error::Stale(_) => StatusCode::PRECONDITION_FAILED,
                Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::Domain(Error::Internal(detail)) = &self {
            tracing::error!(error = ?detail, "internal error on a page");
        }
        let mut response = self.status().into_response();
        response.extensions_mut().insert(Failure(Arc::new(self)));
        response
    }
}
