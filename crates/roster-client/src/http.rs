//! The JSON API client: one method per `/api/v1` call the terminal makes, each answering the
//! wire type of `roster-proto` or an [`Error`] whose variant says what went wrong.

use crate::error::{Error, Result};
use reqwest::{Method, RequestBuilder, StatusCode};
use roster_proto::api::{
    AccountView, AppPasswordRequest, AppPasswordResponse, CardInput, ChangePasswordRequest, ChangesPage,
    CreateGroupRequest, CreateInviteRequest, DirectoryPage, DirectorySettings, GroupView, InviteView, JoinResponse,
    LoginRequest, LoginResponse, MemberView, MyCard, PasswordChanged, Problem, RegisterRequest, SharePolicy,
    TerminalBooks, TerminalView, problem_type,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use uuid::Uuid;

/// Makes ring the process's rustls crypto provider: reqwest is built without one (see the
/// crate's Cargo.toml), and panics when asked for TLS with none installed. The terminal
/// side's only one; `roster_server::tls` is the server side's (the client never imports it).
pub fn install_crypto_provider() {
    // `Err` only says a provider is already installed, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A connection to one Roster server, anonymous or as one terminal.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Which kind of call a request is, for the meaning of a 401 and a 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// Logging in or registering: 401 means a wrong password.
    Login,
    /// Accepting an invite: 409 may mean an expired or used-up invite.
    AcceptInvite,
    /// Anything done with a token: 401 means the token was rejected.
    Other,
}

impl Client {
    /// A client for the server at `base` (`http://` or `https://`), with a terminal token if
    /// logged in.
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let base = normalise_server_url(base)?;
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Server(format!("cannot set up HTTP: {e}")))?;
        Ok(Client { http, base, token })
    }

    /// The server's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder, call: Call) -> Result<reqwest::Response> {
        let response = request.send().await.map_err(|e| Error::Unreachable {
            url: self.base.clone(),
            reason: one_line(&e),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // The body is a problem document on every error the server itself answers; anything
        // else (a proxy's HTML page) still gets a line with its status.
        let problem = response.json::<Problem>().await.ok();
        Err(error_for(status, problem, call))
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder, call: Call) -> Result<T> {
        let response = self.send(request, call).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| Error::Server(format!("unexpected answer from {}: {}", self.base, one_line(&e))))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.json(self.request(Method::GET, path), Call::Other).await
    }

    async fn with_body<B: Serialize, T: DeserializeOwned>(&self, method: Method, path: &str, body: &B) -> Result<T> {
        self.json(self.request(method, path).json(body), Call::Other).await
    }

    async fn empty(&self, method: Method, path: &str) -> Result<()> {
        self.send(self.request(method, path), Call::Other).await.map(drop)
    }

    /// POST /api/v1/accounts
    pub async fn register(&self, request: &RegisterRequest) -> Result<AccountView> {
        self.json(self.request(Method::POST, "/accounts").json(request), Call::Login)
            .await
    }

    /// POST /api/v1/sessions: logs in and creates a terminal.
    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse> {
        self.json(self.request(Method::POST, "/sessions").json(request), Call::Login)
            .await
    }

    /// DELETE /api/v1/sessions/current: revokes this terminal.
    pub async fn logout(&self) -> Result<()> {
        self.empty(Method::DELETE, "/sessions/current").await
    }

    /// GET /api/v1/me
    pub async fn me(&self) -> Result<AccountView> {
        self.get("/me").await
    }

    /// PUT /api/v1/me/password: a new main password; the server revokes the other terminals
    /// (app passwords too, unless kept).
    pub async fn change_password(&self, request: &ChangePasswordRequest) -> Result<PasswordChanged> {
        self.with_body(Method::PUT, "/me/password", request).await
    }

    /// GET /api/v1/terminals
    pub async fn terminals(&self) -> Result<Vec<TerminalView>> {
        self.get("/terminals").await
    }

    /// DELETE /api/v1/terminals/{id}
    pub async fn revoke_terminal(&self, id: Uuid) -> Result<()> {
        self.empty(Method::DELETE, &format!("/terminals/{id}")).await
    }

    /// POST /api/v1/app-passwords: a password for a CardDAV client (a new terminal).
    pub async fn create_app_password(&self, request: &AppPasswordRequest) -> Result<AppPasswordResponse> {
        self.with_body(Method::POST, "/app-passwords", request).await
    }

    /// PUT /api/v1/terminals/{id}/books: whether one app password's device lists group books.
    pub async fn set_terminal_books(&self, id: Uuid, books: &TerminalBooks) -> Result<TerminalView> {
        self.with_body(Method::PUT, &format!("/terminals/{id}/books"), books)
            .await
    }

    /// GET /api/v1/me/directory-settings
    pub async fn directory_settings(&self) -> Result<DirectorySettings> {
        self.get("/me/directory-settings").await
    }

    /// PUT /api/v1/me/directory-settings
    pub async fn set_directory_settings(&self, settings: &DirectorySettings) -> Result<DirectorySettings> {
        self.with_body(Method::PUT, "/me/directory-settings", settings).await
    }

    /// GET /api/v1/me/card; `None` while the account has no card.
    pub async fn my_card(&self) -> Result<Option<MyCard>> {
        match self.get("/me/card").await {
            Ok(card) => Ok(Some(card)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT /api/v1/me/card, guarded by the revision it replaces when one is given.
    pub async fn set_card(&self, card: &CardInput, replaces: Option<i64>) -> Result<MyCard> {
        let mut request = self.request(Method::PUT, "/me/card").json(card);
        if let Some(revision) = replaces {
            request = request.header(reqwest::header::IF_MATCH, format!("\"{revision}\""));
        }
        self.json(request, Call::Other).await
    }

    /// GET /api/v1/groups
    pub async fn groups(&self) -> Result<Vec<GroupView>> {
        self.get("/groups").await
    }

    /// POST /api/v1/groups
    pub async fn create_group(&self, request: &CreateGroupRequest) -> Result<GroupView> {
        self.with_body(Method::POST, "/groups", request).await
    }

    /// GET /api/v1/groups/{id}
    pub async fn group(&self, id: Uuid) -> Result<GroupView> {
        self.get(&format!("/groups/{id}")).await
    }

    /// GET /api/v1/groups/{id}/members
    pub async fn members(&self, group: Uuid) -> Result<Vec<MemberView>> {
        self.get(&format!("/groups/{group}/members")).await
    }

    /// POST /api/v1/groups/{id}/members/{account}/approve
    pub async fn approve(&self, group: Uuid, account: Uuid) -> Result<()> {
        self.empty(Method::POST, &format!("/groups/{group}/members/{account}/approve"))
            .await
    }

    /// POST /api/v1/groups/{id}/members/{account}/deny
    pub async fn deny(&self, group: Uuid, account: Uuid) -> Result<()> {
        self.empty(Method::POST, &format!("/groups/{group}/members/{account}/deny"))
            .await
    }

    /// DELETE /api/v1/groups/{id}/members/{account}
    pub async fn remove_member(&self, group: Uuid, account: Uuid) -> Result<()> {
        self.empty(Method::DELETE, &format!("/groups/{group}/members/{account}"))
            .await
    }

    /// DELETE /api/v1/groups/{id}/membership: leaves the group.
    pub async fn leave(&self, group: Uuid) -> Result<()> {
        self.empty(Method::DELETE, &format!("/groups/{group}/membership")).await
    }

    /// GET /api/v1/groups/{id}/share-policy
    pub async fn share_policy(&self, group: Uuid) -> Result<SharePolicy> {
        self.get(&format!("/groups/{group}/share-policy")).await
    }

    /// PUT /api/v1/groups/{id}/share-policy
    pub async fn set_share_policy(&self, group: Uuid, policy: &SharePolicy) -> Result<SharePolicy> {
        self.with_body(Method::PUT, &format!("/groups/{group}/share-policy"), policy)
            .await
    }

    /// POST /api/v1/groups/{id}/invites
    pub async fn create_invite(&self, group: Uuid, request: &CreateInviteRequest) -> Result<InviteView> {
        self.with_body(Method::POST, &format!("/groups/{group}/invites"), request)
            .await
    }

    /// POST /api/v1/invites/{code}/accept
    pub async fn accept_invite(&self, code: &str) -> Result<JoinResponse> {
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(Error::Usage(format!("`{code}` is not an invite link or code")));
        }
        let request = self.request(Method::POST, &format!("/invites/{code}/accept"));
        self.json(request, Call::AcceptInvite).await
    }

    /// GET /api/v1/groups/{id}/directory, one page.
    pub async fn directory(&self, group: Uuid, cursor: Option<&str>, limit: u32) -> Result<DirectoryPage> {
        let mut request = self
            .request(Method::GET, &format!("/groups/{group}/directory"))
            .query(&[("limit", limit.to_string())]);
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        self.json(request, Call::Other).await
    }

    /// GET /api/v1/groups/{id}/changes?since=V
    pub async fn changes(&self, group: Uuid, since: i64) -> Result<ChangesPage> {
        let request = self
            .request(Method::GET, &format!("/groups/{group}/changes"))
            .query(&[("since", since)]);
        self.json(request, Call::Other).await
    }
}

/// Checks and trims a server URL given on the command line.
pub fn normalise_server_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::Usage(format!("server URL `{url}` must start with http:// or https://")))?;
    if rest.is_empty() {
        return Err(Error::Usage(format!("server URL `{url}` names no host")));
    }
    Ok(url.to_string())
}

/// The invite code of an invite link (`…/join/CODE`) or of a bare code.
pub fn invite_code(link: &str) -> &str {
    let link = link.trim().trim_end_matches('/');
    match link.rsplit_once("/join/") {
        Some((_, code)) => code.split(['?', '#']).next().unwrap_or(code),
        None => link,
    }
}

fn error_for(status: StatusCode, problem: Option<Problem>, call: Call) -> Error {
    let detail = problem
        .as_ref()
        .and_then(|p| p.detail.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    match status {
        StatusCode::UNAUTHORIZED if call == Call::Login => Error::WrongPassword,
        StatusCode::UNAUTHORIZED => Error::TokenRejected,
        StatusCode::NOT_FOUND => Error::NotFound(detail),
        // Other 409s of this call (already a member, group full) are refusals.
        StatusCode::CONFLICT
            if call == Call::AcceptInvite
                && problem
                    .as_ref()
                    .is_some_and(|p| p.kind == problem_type::INVITE_UNUSABLE) =>
        {
            Error::InviteUnusable
        }
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            let fields: Vec<String> = problem
                .iter()
                .flat_map(|p| &p.errors)
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            if fields.is_empty() {
                Error::Invalid(detail)
            } else {
                Error::Invalid(format!("{detail}: {}", fields.join("; ")))
            }
        }
        StatusCode::FORBIDDEN | StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Error::Refused(detail),
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited(detail),
        _ => Error::Server(format!("the server failed ({status}): {detail}")),
    }
}

/// An error's causes on one line. reqwest's own top message ("error sending request for url
/// …") only repeats the URL, so it is left out when there is a cause to show instead.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    if error.source().is_none() {
        parts.push(error.to_string());
    }
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_come_from_links_or_bare_codes() {
        assert_eq!(invite_code("http://h:1/join/AbC-9"), "AbC-9");
        assert_eq!(invite_code("https://h/join/xyz/"), "xyz");
        assert_eq!(invite_code("https://h/join/xyz?utm=1"), "xyz");
        assert_eq!(invite_code(" xyz "), "xyz");
    }

    #[test]
    fn server_urls_need_a_scheme_and_lose_the_trailing_slash() {
        assert_eq!(
            normalise_server_url("http://h:8080/").ok().as_deref(),
            Some("http://h:8080")
        );
        assert!(matches!(normalise_server_url("h:8080"), Err(Error::Usage(_))));
        assert!(matches!(normalise_server_url("https://"), Err(Error::Usage(_))));
    }

    #[test]
    fn statuses_map_to_kinds_by_call() {
        let expired = Problem {
            kind: problem_type::INVITE_UNUSABLE.into(),
            title: "Conflict".into(),
            status: 409,
            detail: Some("the invite has expired or been used up".into()),
            errors: vec![],
        };
        assert!(matches!(
            error_for(StatusCode::CONFLICT, Some(expired.clone()), Call::AcceptInvite),
            Error::InviteUnusable
        ));
        assert!(matches!(
            error_for(StatusCode::CONFLICT, Some(expired.clone()), Call::Other),
            Error::Refused(_)
        ));
        // Only the problem type says so, not words in the detail.
        let untyped = Problem {
            kind: "about:blank".into(),
            ..expired
        };
        assert!(matches!(
            error_for(StatusCode::CONFLICT, Some(untyped), Call::AcceptInvite),
            Error::Refused(_)
        ));
        assert!(matches!(
            error_for(StatusCode::UNAUTHORIZED, None, Call::Login),
            Error::WrongPassword
        ));
        assert!(matches!(
            error_for(StatusCode::UNAUTHORIZED, None, Call::Other),
            Error::TokenRejected
        ));
        assert!(matches!(
            error_for(StatusCode::BAD_GATEWAY, None, Call::Other),
            Error::Server(_)
        ));
    }
}
