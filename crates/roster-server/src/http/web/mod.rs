//! The web door: server-rendered pages for people who never open a terminal, from an invite
//! link to the group in their phone's address book.
//!
//! Pages call the same domain services as the JSON API. Templates are askama files in
//! `templates/web/`, every string comes from the Fluent catalogs in `locales/`, and the one
//! script (`static/roster.js`) only improves pages that already work without it. The layer
//! here gives every page its security headers and the pre-session cookie, and turns failures
//! into pages in the reader's language.

mod account;
mod admin;
mod audience;
mod auth;
mod card;
mod devices;
pub mod error;
mod groups;
pub mod i18n;
mod join;
pub mod session;
pub mod setup;

use super::AppState;
use crate::domain::Error;
use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use error::{Failure, WebError, WebResult};
use i18n::{LANG_COOKIE, Lang};
use session::{CSRF_COOKIE, Page, cookie, set_cookie, url_encode};

/// The pages' Content-Security-Policy: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages and their static files.
pub(super) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(admin::router())
        .merge(auth::router())
        .merge(join::router())
        .merge(card::router())
        .merge(groups::router())
        .merge(devices::router())
        .merge(account::router())
        .merge(audience::router())
        .route("/static/roster.css", get(stylesheet))
        .route("/static/roster.js", get(script))
        .layer(axum::middleware::from_fn_with_state(state, web_layer))
}

/// A rendered page.
pub fn render(template: &impl Template) -> WebResult<Response> {
    render_status(StatusCode::OK, template)
}

/// A rendered page with a status other than 200.
pub fn render_status(status: StatusCode, template: &impl Template) -> WebResult<Response> {
    let html = template
        .render()
        .map_err(|e| Error::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// A redirect after a form (303: the next request is a GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage {
    page: Page,
    title: String,
    message: String,
    detail: Vec<String>,
}

/// Headers, the pre-session cookie, and failures rendered as pages.
async fn web_layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let secure = session::is_secure(&state);
    let lang = Lang::of_request(request.headers(), cookie(request.headers(), LANG_COOKIE));
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    // The first page a browser sees gives it the cookie that form tokens are bound to; the
    // request itself is treated as if it had sent it, so its forms work at once.
    let mut new_browser = None;
    if cookie(request.headers(), CSRF_COOKIE).is_none() {
        let mut bytes = [0u8; 24];
        rand::fill(&mut bytes);
        let value = URL_SAFE_NO_PAD.encode(bytes);
        if let Ok(header) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={value}")) {
            request.headers_mut().append(header::COOKIE, header);
        }
        new_browser = Some(value);
    }
    let mut response = next.run(request).await;
    if let Some(Failure(failure)) = response.extensions_mut().remove::<Failure>() {
        response = failure_page(&failure, lang, &path);
    }
    let headers = response.headers_mut();
    if let Some(value) = new_browser.and_then(|v| set_cookie(CSRF_COOKIE, &v, None, secure)) {
        headers.append(header::SET_COOKIE, value);
    }
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        // Pages show people's cards and one-time passwords: never kept by a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The page that reports a failure; a missing or ended session goes to the sign-in page.
fn failure_page(failure: &WebError, lang: Lang, path: &str) -> Response {
    if matches!(failure, WebError::Domain(Error::Unauthorized)) {
        let mut response = see_other(&format!("/login?next={}", url_encode(path)));
        // A revoked or unknown session cookie is dropped at once.
        if let Some(value) = set_cookie(session::SESSION_COOKIE, "", Some(0), false) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        return response;
    }
    let (title, message, detail) = match failure {
        WebError::Csrf => ("error-csrf-title", "error-csrf", Vec::new()),
        WebError::BadRequest => ("error-bad-request-title", "error-bad-request", Vec::new()),
        WebError::Domain(e) => match e {
            Error::NotFound(_) => ("error-not-found-title", "error-not-found", Vec::new()),
            Error::Forbidden(why) | Error::Conflict(why) | Error::Stale(why) => {
                ("error-refused-title", "error-refused", vec![why.clone()])
            }
            Error::InviteUnusable => ("invite-unusable-title", "invite-unusable", Vec::new()),
            Error::Invalid(errors) => (
                "error-invalid-title",
                "error-invalid",
                errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect(),
            ),
            Error::RateLimited { .. } => ("error-busy-title", "error-rate-limited", Vec::new()),
            Error::Unavailable { .. } => ("error-busy-title", "error-unavailable", Vec::new()),
            Error::Unauthorized | Error::Internal(_) => ("error-internal-title", "error-internal", Vec::new()),
        },
    };
    let page = Page {
        lang,
        csrf: String::new(),
        caller: None,
        path: path.to_string(),
    };
    let body = ErrorPage {
        title: page.t(title),
        message: page.t(message),
        detail,
        page,
    };
    let status = failure.status();
    let mut response = render_status(status, &body).unwrap_or_else(|_| status.into_response());
    if let WebError::Domain(Error::RateLimited { retry_after } | Error::Unavailable { retry_after, .. }) = failure
        && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../../../static/roster.css"))
}

async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../../static/roster.js"),
    )
}
