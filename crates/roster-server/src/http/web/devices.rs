//! My devices and adding one: the list of terminals (revoke, address-book choice) and the setup
//! pages that give a phone or computer a fresh app password — as an Apple profile download, a
//! DAVx5 link and QR code, or an address and password to copy — plus the command-line line.
//!
//! Credentials are created by the domain ([`crate::domain::Roster::create_app_password`]); the
//! forms in [`super::setup`] are pure. A new password is shown once and never stored in a page
//! that could be cached (the web layer sends `Cache-Control: no-store`).

use super::auth::Empty;
use super::error::{WebError, WebResult};
use super::session::{CsrfForm, Page, SESSION_COOKIE, Signed, is_secure, set_cookie};
use super::setup::{DavAccount, Platform, davx5_link, login_command, mobileconfig, qr_png_data_uri};
use super::{render, see_other, static_file};
use crate::domain::Error;
use crate::domain::ids::TerminalId;
use crate::domain::model::Terminal;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use roster_proto::api::TerminalKind;
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list))
        .route("/devices/new", get(new_device))
        .route("/devices/apple", post(setup_apple))
        .route("/devices/android", post(setup_android))
        .route("/devices/desktop", post(setup_desktop))
        .route("/devices/cli", post(setup_cli))
        .route("/devices/{id}/revoke", post(revoke))
        .route("/devices/{id}/books", post(set_books))
        .route("/static/copy.js", get(copy_script))
}

/// One row of the device list.
#[derive(Debug, Clone)]
struct DeviceRow {
    id: TerminalId,
    name: String,
    kind_key: &'static str,
    seen: Option<(String, String)>,
    connected: bool,
    current: bool,
    client: Option<String>,
    /// For app passwords: `account`, `on` or `off`.
    books: Option<&'static str>,
}

impl DeviceRow {
    fn of(terminal: &Terminal, current: bool, connected: bool) -> DeviceRow {
        let kind_key = match terminal.kind {
            TerminalKind::Session => "devices-kind-session",
            TerminalKind::AppPassword => "devices-kind-app-password",
            TerminalKind::Web => "devices-kind-web",
        };
        let books = (terminal.kind == TerminalKind::AppPassword).then_some(match terminal.group_books {
            None => "account",
            Some(true) => "on",
            Some(false) => "off",
        });
        DeviceRow {
            id: terminal.id,
            name: terminal.name.clone(),
            kind_key,
            seen: terminal.last_seen_at.map(|t| (machine_time(t), human_time(t))),
            connected,
            current,
            client: terminal.client.clone(),
            books,
        }
    }
}

/// A time for `<time datetime>`.
fn machine_time(t: OffsetDateTime) -> String {
    crate::http::api::rfc3339(t)
}

/// A time as the list shows it, to the minute, in UTC (the same in every language).
fn human_time(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default()
}

/// The address-book choices of an app password, as (form value, message key).
const BOOK_CHOICES: [(&str, &str); 3] = [
    ("account", "devices-books-account"),
    ("on", "devices-books-on"),
    ("off", "devices-books-off"),
];

#[derive(Template)]
#[template(path = "web/devices.html")]
struct DevicesPage {
    page: Page,
    devices: Vec<DeviceRow>,
    notice: Option<&'static str>,
    choices: [(&'static str, &'static str); 3],
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// GET /devices — the caller's terminals and app passwords.
async fn list(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Query(query): Query<DoneQuery>,
) -> WebResult<Response> {
    let devices = state
        .roster
        .terminals(&caller)
        .await?
        .iter()
        .map(|t| DeviceRow::of(t, t.id == caller.terminal.id, state.roster.is_connected(t.id)))
        .collect();
    let notice = match query.done.as_deref() {
        Some("revoked") => Some("devices-revoked"),
        Some("books") => Some("devices-books-saved"),
        _ => None,
    };
    render(&DevicesPage {
        page,
        devices,
        notice,
        choices: BOOK_CHOICES,
    })
}

fn terminal_id(id: &str) -> WebResult<TerminalId> {
    id.parse::<uuid::Uuid>()
        .map(TerminalId)
        .map_err(|_| WebError::Domain(Error::NotFound("terminal")))
}

/// POST /devices/{id}/revoke — revokes a device; revoking this browser signs it out.
async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: CsrfForm<Empty>,
) -> WebResult<Response> {
    let caller = request.caller()?;
    let id = terminal_id(&id)?;
    state.roster.revoke_terminal(&caller, id).await?;
    if id == caller.terminal.id {
        return Ok(signed_out(&state));
    }
    Ok(see_other("/devices?done=revoked"))
}

/// A redirect to the sign-in page that drops the session cookie.
pub(super) fn signed_out(state: &AppState) -> Response {
    let mut response = see_other("/login");
    if let Some(cookie) = set_cookie(SESSION_COOKIE, "", Some(0), is_secure(state)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
struct BooksForm {
    books: String,
}

/// POST /devices/{id}/books — whether an app password's device lists one book per group.
async fn set_books(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: CsrfForm<BooksForm>,
) -> WebResult<Response> {
    let caller = request.caller()?;
    let choice = match request.form.books.as_str() {
        "account" => None,
        "on" => Some(true),
        "off" => Some(false),
        _ => return Err(WebError::BadRequest),
    };
    state
        .roster
        .set_terminal_group_books(&caller, terminal_id(&id)?, choice)
        .await?;
    Ok(see_other("/devices?done=books"))
}

#[derive(Template)]
#[template(path = "web/devices_new.html")]
struct NewDevicePage {
    page: Page,
    /// The ways to set up a device (`apple`, `android`, `desktop`, `cli`: each the path of its
    /// form and the middle of its messages' keys), the one that suits this device first.
    ways: [&'static str; 4],
    cli_line: String,
}

impl NewDevicePage {
    /// The message `part` (`title`, `text`, `submit`) of one way.
    fn message(&self, way: &str, part: &str) -> String {
        self.page.t(&format!("devices-setup-{way}-{part}"))
    }

    /// The name a new device of this way is offered.
    fn default_name(&self, way: &str) -> String {
        self.page.t(&format!("devices-setup-name-{way}"))
    }
}

/// GET /devices/new — the four ways, the one that suits this device first.
async fn new_device(
    State(state): State<AppState>,
    headers: HeaderMap,
    Signed { page, caller }: Signed,
) -> WebResult<Response> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ways = match Platform::detect(agent) {
        Platform::Apple => ["apple", "android", "desktop", "cli"],
        Platform::Android => ["android", "apple", "desktop", "cli"],
        Platform::Desktop => ["desktop", "cli", "apple", "android"],
    };
    render(&NewDevicePage {
        cli_line: login_command(&state.roster.settings().public_url, &caller.account.login, None),
        page,
        ways,
    })
}

#[derive(Debug, Deserialize)]
struct NewDeviceForm {
    #[serde(default)]
    name: Option<String>,
}

/// A fresh app password for the caller's new device, and how to reach the server with it.
async fn new_credentials(state: &AppState, caller: &Caller, name: Option<&str>) -> WebResult<(Terminal, DavAccount)> {
    let (password, terminal) = state.roster.create_app_password(caller, name, None).await?;
    let account = DavAccount::new(&state.roster.settings().public_url, &caller.account.login, &password)
        .map_err(|e| Error::Internal(e.into()))?;
    Ok((terminal, account))
}

/// POST /devices/apple — the configuration profile itself, with a password made for it.
async fn setup_apple(State(state): State<AppState>, request: CsrfForm<NewDeviceForm>) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    let (terminal, account) = new_credentials(&state, &caller, form.name.as_deref()).await?;
    let profile = mobileconfig(&account, terminal.id.0, &page.t("devices-profile-description"));
    let mut response = profile.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "application/x-apple-aspen-config"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"roster.mobileconfig\"",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "web/devices_credentials.html")]
struct CredentialsPage {
    page: Page,
    name: String,
    url: String,
    user: String,
    password: String,
    /// The DAVx5 link and its QR code (Android only).
    davx5: Option<(String, String)>,
}

/// POST /devices/android — a password, the DAVx5 link and its QR code.
async fn setup_android(State(state): State<AppState>, form: CsrfForm<NewDeviceForm>) -> WebResult<Response> {
    credentials_page(&state, form, true).await
}

/// POST /devices/desktop — a password with the server address and user name to copy.
async fn setup_desktop(State(state): State<AppState>, form: CsrfForm<NewDeviceForm>) -> WebResult<Response> {
    credentials_page(&state, form, false).await
}

/// The page that shows a new device's password once, with the DAVx5 link and QR code when
/// `davx5` is asked for.
async fn credentials_page(state: &AppState, request: CsrfForm<NewDeviceForm>, davx5: bool) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    let (terminal, account) = new_credentials(state, &caller, form.name.as_deref()).await?;
    let davx5 = if davx5 {
        let link = davx5_link(&account);
        let qr = qr_png_data_uri(&link).map_err(|e| Error::Internal(e.into()))?;
        Some((link, qr))
    } else {
        None
    };
    render(&CredentialsPage {
        page,
        name: terminal.name,
        url: account.principal_url(),
        user: account.login.clone(),
        password: account.password.clone(),
        davx5,
    })
}

#[derive(Template)]
#[template(path = "web/devices_cli.html")]
struct CliPage {
    page: Page,
    cli_line: String,
}

/// POST /devices/cli — the `roster login` line with the chosen name. It creates nothing: the
/// command line signs in with the account's password and becomes a device then.
async fn setup_cli(State(state): State<AppState>, request: CsrfForm<NewDeviceForm>) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    render(&CliPage {
        cli_line: login_command(
            &state.roster.settings().public_url,
            &caller.account.login,
            form.name.as_deref(),
        ),
        page,
    })
}

/// GET /static/copy.js — the copy buttons of the setup pages.
async fn copy_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../../static/copy.js"),
    )
}
