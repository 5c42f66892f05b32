//! What a CardDAV request gets when it gets no multistatus: the domain's errors and refused
//! bodies mapped to HTTP statuses and `DAV:error` preconditions, with the Basic challenge and
//! `Retry-After` where they apply. The one `IntoResponse` for errors of this door.

use super::xml::{self, DAV, XmlError};
use crate::domain::Error;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The realm of every Basic challenge: clients store passwords per origin and realm.
const REALM: &str = "Basic realm=\"Roster\", charset=\"UTF-8\"";

/// An answer that is not a multistatus: a status with an optional DAV error body.
#[derive(Debug)]
pub(super) struct DavError {
    status: StatusCode,
    body: Option<String>,
    challenge: bool,
    retry_after: Option<u64>,
}

impl DavError {
    /// A bare status.
    pub(super) fn status(status: StatusCode) -> Self {
        DavError {
            status,
            body: None,
            challenge: false,
            retry_after: None,
        }
    }

    /// A precondition failure with its `DAV:error` body.
    pub(super) fn condition(status: StatusCode, ns: &str, condition: &str, inner: &str) -> Self {
        DavError {
            body: Some(xml::error(ns, condition, inner)),
            ..DavError::status(status)
        }
    }

    /// 403 for a write the caller's privileges do not allow (DAVx5 then drops the upload).
    pub(super) fn need_privileges(href: &str, privilege: &str) -> Self {
        let inner = format!(
            "<D:resource><D:href>{}</D:href><D:privilege><D:{privilege}/></D:privilege></D:resource>",
            xml::escape_text(href)
        );
        DavError::condition(StatusCode::FORBIDDEN, DAV, "need-privileges", &inner)
    }

    /// A precondition failure whose `DAV:error` body also says why, in words.
    pub(super) fn described(status: StatusCode, ns: &str, condition: &str, why: &str) -> Self {
        DavError {
            body: Some(xml::error_described(ns, condition, why)),
            ..DavError::status(status)
        }
    }
}

impl From<Error> for DavError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(_) => DavError::status(StatusCode::NOT_FOUND),
            Error::Unauthorized => DavError {
                challenge: true,
                ..DavError::status(StatusCode::UNAUTHORIZED)
            },
            Error::Forbidden(_) => DavError::status(StatusCode::FORBIDDEN),
            Error::Conflict(_) | Error::InviteUnusable => DavError::status(StatusCode::CONFLICT),
            Error::Stale(_) => DavError::status(StatusCode::PRECONDITION_FAILED),
            Error::Invalid(_) => DavError::status(StatusCode::BAD_REQUEST),
            Error::RateLimited { retry_after } => DavError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..DavError::status(StatusCode::TOO_MANY_REQUESTS)
            },
            Error::Unavailable { retry_after, .. } => DavError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..DavError::status(StatusCode::SERVICE_UNAVAILABLE)
            },
            Error::Internal(detail) => {
                tracing::error!(error = ?detail, "internal error in CardDAV");
                DavError::status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl From<XmlError> for DavError {
    fn from(error: XmlError) -> Self {
        DavError {
            body: Some(format!("{error}\n")),
            ..DavError::status(StatusCode::BAD_REQUEST)
        }
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let is_xml = self.body.as_deref().is_some_and(|b| b.starts_with("<?xml"));
        let mut response = match self.body {
            Some(body) => (self.status, body).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if is_xml {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
        }
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Rejected fields as one line of a DAV error's description.
pub(super) fn described_fields(fields: &[roster_proto::api::FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a method's handler answers: a response, or an error to be written as one.
pub(super) type DavResult = Result<Response, DavError>;
