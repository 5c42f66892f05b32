//! What every page knows about its reader: language, signed-in caller, CSRF token; and the
//! extractors that demand a session or a valid form token.
//!
//! A web session is a terminal of kind `web` whose credential sits in an `HttpOnly` cookie.
//! Every state-changing form carries a token: the MAC, under the server's form key, of the
//! reader's pre-session cookie (set on the first page) and the session's terminal id, so a
//! token is worth nothing on another browser or after signing out.

use super::error::{WebError, WebResult};
use super::i18n::{LANG_COOKIE, Lang};
use crate::domain::Error;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fluent_templates::fluent_bundle::FluentValue;
use serde::de::DeserializeOwned;

/// The session cookie: a `web` terminal's credential.
pub const SESSION_COOKIE: &str = "roster_session";
/// The pre-session cookie that binds form tokens to one browser.
pub const CSRF_COOKIE: &str = "roster_csrf";
/// Largest form body read (the card form, with its photo, is multipart and read elsewhere).
const MAX_FORM: usize = 64 * 1024;

/// The value of a cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value with the attributes every Roster cookie has.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).ok()
}

/// Whether the pages are served over https (cookies then carry `Secure`).
pub fn is_secure(state: &AppState) -> bool {
    state.roster.settings().public_url.starts_with("https://")
}

/// Every page's context: reader's language, signed-in caller if any, the form token.
#[derive(Debug, Clone)]
pub struct Page {
    /// The reader's language.
    pub lang: Lang,
    /// The token every form of this page carries.
    pub csrf: String,
    /// The signed-in caller.
    pub caller: Option<Caller>,
    /// Path and query of this page, for links that come back here.
    pub path: String,
}

impl Page {
    /// A message of the catalog.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// A message with one argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl Into<FluentValue<'static>>) -> String {
        self.lang.t_args(key, &[(name, value.into())])
    }

    /// The signed-in account's display name.
    pub fn user_name(&self) -> &str {
        self.caller.as_ref().map_or("", |c| c.account.display_name.as_str())
    }

    /// Whether someone is signed in.
    pub fn signed_in(&self) -> bool {
        self.caller.is_some()
    }

    /// The link that switches this page to another language.
    pub fn lang_link(&self, lang: &Lang) -> String {
        format!("/lang?to={}&next={}", lang.tag(), url_encode(&self.path))
    }

    /// Every language, for the switch.
    pub fn languages(&self) -> [Lang; 2] {
        Lang::ALL
    }

    /// Checks a form token against this page's reader.
    pub async fn check_csrf(&self, state: &AppState, headers: &HeaderMap, token: &str) -> WebResult<()> {
        let binding = csrf_binding(headers, self.caller.as_ref()).ok_or(WebError::Csrf)?;
        let tag = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| WebError::Csrf)?;
        if !tag.is_empty() && state.roster.verify_form_mac(binding.as_bytes(), &tag).await? {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// What a form token is bound to: the pre-session cookie and the session's terminal.
fn csrf_binding(headers: &HeaderMap, caller: Option<&Caller>) -> Option<String> {
    let browser = cookie(headers, CSRF_COOKIE)?;
    let terminal = caller.map(|c| c.terminal.id.to_string()).unwrap_or_default();
    Some(format!("csrf\0{browser}\0{terminal}"))
}

/// Percent-encodes a query value.
pub fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A `next` target that stays on this site (a path, never `//host` or a scheme), and that can
/// go in a `Location` header.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    (local && !next.chars().any(char::is_control) && next.len() <= 2000).then(|| next.to_string())
}

impl FromRequestParts<AppState> for Page {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(page) = parts.extensions.get::<Page>() {
            return Ok(page.clone());
        }
        let lang = Lang::of_request(&parts.headers, cookie(&parts.headers, LANG_COOKIE));
        let caller = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => match state.roster.authenticate_web(token).await {
                Ok(caller) => Some(caller),
                Err(Error::Unauthorized) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let csrf = match csrf_binding(&parts.headers, caller.as_ref()) {
            Some(binding) => URL_SAFE_NO_PAD.encode(state.roster.form_mac(binding.as_bytes()).await?),
            None => String::new(),
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
        let page = Page {
            lang,
            csrf,
            caller,
            path,
        };
        parts.extensions.insert(page.clone());
        Ok(page)
    }
}

/// A page that needs a signed-in reader; without a session the reader is sent to sign in.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The page context.
    pub page: Page,
    /// The signed-in caller.
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let page = Page::from_request_parts(parts, state).await?;
        let caller = page.caller.clone().ok_or(WebError::Domain(Error::Unauthorized))?;
        Ok(Signed { page, caller })
    }
}

/// An urlencoded form whose `csrf` field was checked; without a valid one the request is
/// refused with 403 before the handler runs.
#[derive(Debug)]
pub struct CsrfForm<T> {
    /// The page context of the request.
    pub page: Page,
    /// The form's fields.
    pub form: T,
    /// Every pair of the form in order (repeated names, such as checkboxes).
    pub pairs: Vec<(String, String)>,
}

impl<T> CsrfForm<T> {
    /// The signed-in caller; a form that needs one sends a reader without a session to sign in.
    pub fn caller(&self) -> WebResult<Caller> {
        self.page.caller.clone().ok_or(WebError::Domain(Error::Unauthorized))
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let page = Page::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| WebError::BadRequest)?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
        let token = pairs.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str());
        page.check_csrf(state, &parts.headers, token).await?;
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::BadRequest)?;
        Ok(CsrfForm { page, form, pairs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_site() {
        assert_eq!(safe_next(Some("/groups?q=a")), Some("/groups?q=a".into()));
        for away in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
            "/a\r\nSet-Cookie: x=y",
            "/\u{1}",
        ] {
            assert_eq!(safe_next(Some(away)), None, "{away:?}");
        }
        assert_eq!(safe_next(None), None);
    }
}
