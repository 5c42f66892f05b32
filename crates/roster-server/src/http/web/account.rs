//! Account settings: the display name, a new password, deleting the account. Each grave change
//! asks for the password again (the domain checks it); a refusal is shown next to its form.

use super::auth::FieldErrors;
use super::devices::signed_out;
use super::error::{WebError, WebResult};
use super::i18n::Lang;
use super::session::{CsrfForm, Page, Signed};
use super::{render, render_status, see_other};
use crate::domain::Error;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use roster_proto::api::ChangePasswordRequest;
use serde::Deserialize;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/name", post(save_name))
        .route("/account/password", post(change_password))
        .route("/account/delete", post(delete))
}

/// Which form a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Name,
    Password,
    Delete,
}

#[derive(Template)]
#[template(path = "web/account.html")]
struct AccountPage {
    page: Page,
    login: String,
    display_name: String,
    notice: Option<&'static str>,
    /// A refusal and the form it concerns, with its lines of detail.
    error: Option<(Form, Vec<String>)>,
}

impl AccountPage {
    fn error_of(&self, form: Form) -> Option<&[String]> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == form)
            .map(|(_, lines)| lines.as_slice())
    }
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// GET /account
async fn show(Signed { page, caller }: Signed, Query(query): Query<DoneQuery>) -> WebResult<Response> {
    let notice = match query.done.as_deref() {
        Some("name") => Some("devices-account-name-saved"),
        Some("password") => Some("devices-account-password-changed"),
        _ => None,
    };
    render(&AccountPage {
        login: caller.account.login.clone(),
        display_name: caller.account.display_name.clone(),
        page,
        notice,
        error: None,
    })
}

/// The account page again with a refusal at `form`, or the general error page for failures
/// that no field explains.
fn refused(page: Page, caller: &Caller, form: Form, display_name: &str, error: Error) -> WebResult<Response> {
    let lines = match &error {
        Error::Invalid(fields) => FieldErrors::localized(fields.clone(), page.lang)
            .0
            .into_iter()
            .map(|f| f.message)
            .collect(),
        Error::Forbidden(_) if form != Form::Name => vec![page.t("devices-account-wrong-password")],
        // The domain's words name the group; other languages get the catalog's sentence.
        Error::Conflict(why) if page.lang == Lang::En => vec![why.clone()],
        Error::Conflict(_) => vec![page.t("devices-account-delete-owner")],
        _ => return Err(WebError::Domain(error)),
    };
    let status = WebError::Domain(error).status();
    render_status(
        status,
        &AccountPage {
            login: caller.account.login.clone(),
            display_name: display_name.to_string(),
            page,
            notice: None,
            error: Some((form, lines)),
        },
    )
}

#[derive(Debug, Deserialize)]
struct NameForm {
    display_name: String,
}

/// POST /account/name
async fn save_name(State(state): State<AppState>, request: CsrfForm<NameForm>) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    match state.roster.set_display_name(&caller, &form.display_name).await {
        Ok(_) => Ok(see_other("/account?done=name")),
        Err(e) => refused(page, &caller, Form::Name, &form.display_name, e),
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    #[serde(default)]
    keep_app_passwords: Option<String>,
}

/// POST /account/password — this browser stays signed in, every other session is signed out.
async fn change_password(State(state): State<AppState>, request: CsrfForm<PasswordForm>) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    let request = ChangePasswordRequest {
        current_password: form.current_password,
        new_password: form.new_password,
        keep_app_passwords: form.keep_app_passwords.is_some(),
    };
    match state.roster.change_password(&caller, &request).await {
        Ok(_) => Ok(see_other("/account?done=password")),
        Err(e) => {
            let name = caller.account.display_name.clone();
            refused(page, &caller, Form::Password, &name, e)
        }
    }
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    password: String,
}

/// POST /account/delete — deletes the account after its password; the browser is signed out.
async fn delete(State(state): State<AppState>, request: CsrfForm<DeleteForm>) -> WebResult<Response> {
    let caller = request.caller()?;
    let CsrfForm { page, form, .. } = request;
    match state.roster.delete_account(&caller, &form.password).await {
        Ok(()) => Ok(signed_out(&state)),
        Err(e) => {
            let name = caller.account.display_name.clone();
            refused(page, &caller, Form::Delete, &name, e)
        }
    }
}
