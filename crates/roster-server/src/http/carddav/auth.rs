//! Who is asking: the Basic credentials of a request, checked by the domain (app passwords,
//! or the main password where the operator allows it), and which client program sends them.

use super::error::DavError;
use crate::domain::Error;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use crate::http::client::ClientIp;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The Basic credentials of a request; `None` when there are none (a challenge, not a failure).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

/// The caller a request's Basic credentials name; `Unauthorized` (a challenge) otherwise.
pub(super) async fn authenticate(state: &AppState, headers: &HeaderMap, client: ClientIp) -> Result<Caller, DavError> {
    let (login, password) = basic_credentials(headers).ok_or(Error::Unauthorized)?;
    Ok(state.roster.authenticate_basic(&login, &password, client.0).await?)
}

/// The request's User-Agent, if readable.
pub(super) fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

/// Whether a User-Agent is one of Apple's address-book daemons, which show a person once per
/// book (duplicate caller-ID matches) and, on macOS, sync only the first book listed.
pub(super) fn is_apple(agent: &str) -> bool {
    ["dataaccessd", "accountsd", "AddressBook", "iOS/", "macOS/", "Mac OS X/"]
        .iter()
        .any(|mark| agent.contains(mark))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("anna:pa:ss"))).unwrap(),
        );
        assert_eq!(basic_credentials(&headers), Some(("anna".into(), "pa:ss".into())));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
