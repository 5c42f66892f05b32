//! The domain's one error type: every door maps it once, at its edge.

use roster_proto::api::FieldError;
use std::time::Duration;

/// What can go wrong in a domain operation, by kind.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No valid credential was presented.
    #[error("authentication required")]
    Unauthorized,
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The invite exists but has expired, been revoked or been used up: ask for a new one.
    #[error("the invite has expired or been used up")]
    InviteUnusable,
    /// A precondition of the request (such as `If-Match`) no longer holds.
    #[error("{0}")]
    Stale(String),
    /// The input was rejected, field by field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Too many attempts; try again later.
    #[error("too many requests")]
    RateLimited {
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The server cannot do this now (saturated, or its storage is full or read-only); the
    /// reason is shown, and a retry after the delay may succeed.
    #[error("{reason}")]
    Unavailable {
        /// Why, in words for the caller.
        reason: &'static str,
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// A failure of the server itself; its detail is logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The domain's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

/// Collects field errors while a request is parsed, so that all of them are reported at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Records one invalid field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Keeps the value of `result`, or records its error under `field`.
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded, else every recorded error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}
