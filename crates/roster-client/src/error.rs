//! The client's one error type. Each variant is a kind of failure a person can act on, so the
//! command line maps variants to exit codes without looking at messages.

/// What went wrong on the terminal side.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection to the server (refused, DNS, timeout, TLS).
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// Why, in one line.
        reason: String,
    },
    /// The login name or password was not accepted.
    #[error("wrong login name or password")]
    WrongPassword,
    /// The server rejected this terminal's token: revoked, logged out or deleted.
    #[error("the server no longer accepts this terminal (revoked or logged out): run `roster login`")]
    TokenRejected,
    /// No credentials are stored.
    #[error("not logged in: run `roster login --server URL LOGIN` first")]
    NotLoggedIn,
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The invite link has expired or has been used up.
    #[error("this invite has expired or has been used up: ask for a new link")]
    InviteUnusable,
    /// The server rejected the input; one entry per field.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this now (forbidden, or conflicting with the current state).
    #[error("{0}")]
    Refused(String),
    /// Too many attempts.
    #[error("{0}")]
    RateLimited(String),
    /// The server failed or answered something this client does not understand.
    #[error("{0}")]
    Server(String),
    /// Local input (a flag, a file, a name) is wrong.
    #[error("{0}")]
    Usage(String),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The local cache could not be read or written.
    #[error("local cache {path}: {source}")]
    Cache {
        /// The cache file.
        path: String,
        /// The underlying error.
        source: Box<sqlx::Error>,
    },
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
