//! The one place where errors become HTTP answers: RFC 9457 problem documents.
//!
//! Server faults are logged with their detail and answered without it. The extractors here
//! wrap axum's so that malformed JSON, queries and paths are problem documents too.

use crate::domain::Error;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use roster_proto::api::{FieldError, Problem, problem_type};
use serde::de::DeserializeOwned;

/// An error on its way to becoming a problem document.
#[derive(Debug)]
pub enum ApiError {
    /// A domain error.
    Domain(Error),
    /// The request itself was malformed (status and what was wrong).
    Request(StatusCode, String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Domain(e)
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A problem document response with the given status and detail.
pub fn problem(status: StatusCode, detail: Option<String>, errors: Vec<FieldError>) -> Response {
    typed_problem("about:blank", status, detail, errors)
}

/// A problem document of a named problem type.
fn typed_problem(kind: &str, status: StatusCode, detail: Option<String>, errors: Vec<FieldError>) -> Response {
    let body = Problem {
        kind: kind.into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Request(status, detail) => problem(status, Some(detail), Vec::new()),
            ApiError::Domain(error) => match error {
                Error::NotFound(what) => problem(StatusCode::NOT_FOUND, Some(format!("{what} not found")), Vec::new()),
                Error::Unauthorized => {
                    let mut response = problem(
                        StatusCode::UNAUTHORIZED,
                        Some("missing, wrong or revoked credentials".into()),
                        Vec::new(),
                    );
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"roster\""),
                    );
                    response
                }
                Error::Forbidden(why) => problem(StatusCode::FORBIDDEN, Some(why), Vec::new()),
                Error::Conflict(why) => problem(StatusCode::CONFLICT, Some(why), Vec::new()),
                Error::InviteUnusable => typed_problem(
                    problem_type::INVITE_UNUSABLE,
                    StatusCode::CONFLICT,
                    Some(Error::InviteUnusable.to_string()),
                    Vec::new(),
                ),
                Error::Stale(why) => problem(StatusCode::PRECONDITION_FAILED, Some(why), Vec::new()),
                Error::Invalid(errors) => problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("some fields are invalid".into()),
                    errors,
                ),
                Error::RateLimited { retry_after } => {
                    let seconds = retry_after.as_secs().max(1);
                    retry_later(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!("too many attempts; retry in {seconds} s"),
                        seconds,
                    )
                }
                Error::Unavailable { reason, retry_after } => {
                    let seconds = retry_after.as_secs().max(1);
                    retry_later(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("{reason}; retry in {seconds} s"),
                        seconds,
                    )
                }
                Error::Internal(detail) => {
                    tracing::error!(error = ?detail, "internal error");
                    problem(StatusCode::INTERNAL_SERVER_ERROR, None, Vec::new())
                }
            },
        }
    }
}

/// A problem document with a `Retry-After` header.
fn retry_later(status: StatusCode, detail: String, seconds: u64) -> Response {
    let mut response = problem(status, Some(detail), Vec::new());
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A JSON body whose rejection is a problem document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "expected a body with Content-Type: application/json".to_string(),
        JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is too large".to_string()
        }
        _ => rejection.body_text(),
    };
    ApiError::Request(status, detail)
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string whose rejection is a problem document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| ApiError::Request(StatusCode::BAD_REQUEST, r.body_text()))
    }
}

/// Path parameters; ones that do not parse name nothing that exists, hence 404.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_: PathRejection| ApiError::Domain(Error::NotFound("resource")))
    }
}
