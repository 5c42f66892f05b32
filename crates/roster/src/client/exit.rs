//! Exit codes of the client commands: one per kind of failure a script may want to tell apart.

use roster_client::Error;

/// The exit-code table, shown at the end of `roster --help` (and in the README).
pub(crate) const HELP: &str = "\
Exit codes:
  0   success
  1   other failure (local file, cache, server error)
  2   wrong usage (flags, arguments, a local file or name)
  3   server unreachable
  4   wrong login name or password
  5   not logged in, or this terminal's token was revoked
  6   not found (group, member, invite, card)
  7   invite expired or used up
  8   input rejected by the server (each field listed)
  9   refused (not allowed, or conflicts with the current state)
  10  too many attempts (rate limited)";

/// The exit code for an error of a client command.
pub(crate) fn code(error: &anyhow::Error) -> u8 {
    let Some(error) = error.downcast_ref::<Error>() else {
        return 1;
    };
    match error {
        Error::Usage(_) => 2,
        Error::Unreachable { .. } => 3,
        Error::WrongPassword => 4,
        Error::NotLoggedIn | Error::TokenRejected => 5,
        Error::NotFound(_) => 6,
        Error::InviteUnusable => 7,
        Error::Invalid(_) => 8,
        Error::Refused(_) => 9,
        Error::RateLimited(_) => 10,
        Error::Server(_) | Error::Io { .. } | Error::Cache { .. } => 1,
    }
}
