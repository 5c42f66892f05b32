//! Signing in, signing up, signing out, and the language switch.

use super::error::{WebError, WebResult};
use super::i18n::{LANG_COOKIE, Lang};
use super::session::{CsrfForm, Page, SESSION_COOKIE, is_secure, safe_next, set_cookie};
use super::{render, render_status, see_other};
use crate::domain::Error;
use crate::domain::account::Registration;
use crate::http::AppState;
use crate::http::client::ClientIp;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use roster_proto::api::{FieldError, LoginRequest, RegisterRequest, TerminalKind};
use serde::Deserialize;

/// How long a browser stays signed in without signing in again (the session is revocable at
/// any time under "My devices").
const SESSION_DAYS: u64 = 90;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/signup", get(signup_page).post(signup))
        .route("/logout", post(logout))
        .route("/lang", get(switch_language))
}

/// Errors of a form, by field name.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// A form's errors in the reader's language: the domain explains in English; other
    /// languages get the catalog's sentence for that kind of field.
    pub(super) fn localized(errors: Vec<FieldError>, lang: Lang) -> Self {
        if lang == Lang::En {
            return FieldErrors(errors);
        }
        let errors = errors
            .into_iter()
            .map(|e| {
                let kind = field_kind(&e.field);
                FieldError {
                    message: lang.t(&format!("field-error-{kind}")),
                    field: e.field,
                }
            })
            .collect();
        FieldErrors(errors)
    }

    /// The first error of a field.
    pub(super) fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// Whether a field has an error.
    pub(super) fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
}

/// The kind of a form field, for its error sentence.
fn field_kind(field: &str) -> &'static str {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    match base {
        "phones" if field.contains('[') => "phone",
        "phones" => "phones",
        "emails" => "email",
        "birthday" => "birthday",
        "photo" => "photo",
        "formatted_name" | "display_name" | "name" => "name",
        "login" => "login",
        "password" | "new_password" | "current_password" => "password",
        "invite" => "invite",
        _ => "text",
    }
}

/// The sign-up form's values and errors (also shown on invite pages).
#[derive(Debug, Clone, Default)]
pub(super) struct SignupForm {
    /// Login typed so far.
    pub(super) login: String,
    /// Display name typed so far.
    pub(super) display_name: String,
    /// The invite code the form came from.
    pub(super) invite: String,
    /// Where to go after signing up.
    pub(super) next: String,
    /// What was wrong.
    pub(super) errors: FieldErrors,
    /// A message for the whole form.
    pub(super) message: Option<String>,
}

#[derive(Template)]
#[template(path = "web/login.html")]
struct LoginPage {
    page: Page,
    login: String,
    next: String,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "web/signup.html")]
struct SignupPage {
    page: Page,
    signup: SignupForm,
    closed: bool,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    invite: Option<String>,
}

async fn home(page: Page) -> Response {
    see_other(if page.signed_in() { "/groups" } else { "/login" })
}

async fn login_page(page: Page, Query(query): Query<NextQuery>) -> WebResult<Response> {
    if page.signed_in() {
        return Ok(see_other(
            &safe_next(query.next.as_deref()).unwrap_or_else(|| "/groups".into()),
        ));
    }
    render(&LoginPage {
        page,
        login: String::new(),
        next: safe_next(query.next.as_deref()).unwrap_or_default(),
        message: None,
    })
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// A short name for the browser and system of a User-Agent, for the device list.
pub(super) fn browser_name(headers: &HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map_or("Browser", |(_, name)| name);
    let system = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS X", "Mac"),
        ("Windows", "Windows"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}

/// Signs a browser in: a `web` terminal, its credential in the session cookie.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    login: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
    next: &str,
) -> Result<Response, Error> {
    let request = LoginRequest {
        login: login.to_string(),
        password: password.to_string(),
        terminal_name: Some(browser_name(headers)),
    };
    let (token, _, _) = state.roster.login(&request, TerminalKind::Web, client).await?;
    let mut response = see_other(next);
    if let Some(cookie) = set_cookie(SESSION_COOKIE, &token, Some(SESSION_DAYS * 86_400), is_secure(state)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    CsrfForm { page, form, .. }: CsrfForm<LoginForm>,
) -> WebResult<Response> {
    let next = safe_next(form.next.as_deref()).unwrap_or_else(|| "/groups".into());
    match start_session(&state, &headers, &form.login, &form.password, client, &next).await {
        Ok(response) => Ok(response),
        Err(e @ (Error::Unauthorized | Error::RateLimited { .. })) => {
            let (status, key) = match e {
                Error::Unauthorized => (StatusCode::UNAUTHORIZED, "login-failed"),
                _ => (StatusCode::TOO_MANY_REQUESTS, "error-rate-limited"),
            };
            let message = Some(page.t(key));
            render_status(
                status,
                &LoginPage {
                    page,
                    login: form.login,
                    next,
                    message,
                },
            )
        }
        Err(e) => Err(WebError::Domain(e)),
    }
}

async fn signup_page(State(state): State<AppState>, page: Page, Query(query): Query<NextQuery>) -> WebResult<Response> {
    render(&SignupPage {
        closed: state.roster.settings().registration == Registration::Closed,
        signup: SignupForm {
            invite: query.invite.unwrap_or_default(),
            next: safe_next(query.next.as_deref()).unwrap_or_default(),
            ..SignupForm::default()
        },
        page,
    })
}

#[derive(Debug, Deserialize)]
struct SignupFields {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    invite: String,
    #[serde(default)]
    next: Option<String>,
}

/// Creates an account and signs the browser in. On an invite page the account joins only
/// after the card and the share choice (unless the server creates accounts only together
/// with an invite: then it joins at once, with the default share policy).
async fn signup(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    CsrfForm { page, form, .. }: CsrfForm<SignupFields>,
) -> WebResult<Response> {
    let registration = state.roster.settings().registration;
    let invite = Some(form.invite.trim().to_string()).filter(|c| !c.is_empty());
    let request = RegisterRequest {
        login: form.login.clone(),
        password: form.password.clone(),
        display_name: Some(form.display_name.clone()),
        invite: invite.clone().filter(|_| registration == Registration::InviteOnly),
    };
    let next = safe_next(form.next.as_deref()).unwrap_or_else(|| "/me/card?next=/groups".into());
    let failed = |page: Page, errors: Vec<FieldError>, message: Option<String>| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SignupPage {
                closed: false,
                signup: SignupForm {
                    login: form.login.clone(),
                    display_name: form.display_name.clone(),
                    invite: form.invite.clone(),
                    next: next.clone(),
                    errors: FieldErrors::localized(errors, page.lang),
                    message,
                },
                page,
            },
        )
    };
    match state.roster.register(&request, client).await {
        Ok(_) => {}
        Err(Error::Invalid(errors)) => return failed(page, errors, None),
        Err(Error::Conflict(why)) => {
            let errors = vec![FieldError {
                field: "login".into(),
                message: why,
            }];
            return failed(page, errors, None);
        }
        Err(Error::RateLimited { .. }) => {
            let message = Some(page.t("error-rate-limited"));
            return failed(page, Vec::new(), message);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(start_session(&state, &headers, &form.login, &form.password, client, &next).await?)
}

async fn logout(State(state): State<AppState>, CsrfForm { page, .. }: CsrfForm<Empty>) -> WebResult<Response> {
    if let Some(caller) = &page.caller {
        state.roster.revoke_terminal(caller, caller.terminal.id).await?;
    }
    let mut response = see_other("/login");
    if let Some(cookie) = set_cookie(SESSION_COOKIE, "", Some(0), is_secure(&state)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// A form with no fields but its token.
#[derive(Debug, Deserialize)]
pub(super) struct Empty {}

#[derive(Debug, Deserialize)]
struct LangQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    next: Option<String>,
}

/// Remembers a choice of language (a preference, not a change of data: a plain link).
async fn switch_language(State(state): State<AppState>, Query(query): Query<LangQuery>) -> Response {
    let next = safe_next(query.next.as_deref()).unwrap_or_else(|| "/".into());
    let mut response = see_other(&next);
    if let Some(lang) = Lang::from_tag(&query.to)
        && let Some(cookie) = set_cookie(LANG_COOKIE, lang.tag(), Some(365 * 86_400), is_secure(&state))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
