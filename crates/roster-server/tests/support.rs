//! Test harness: a real server on 127.0.0.1:0 with a temporary SQLite database, and a
//! small HTTP client per user.

// The helpers are `pub` for the tests beside them; a test binary exports nothing.
#![allow(unreachable_pub)]

use reqwest::{Method, StatusCode};
use roster_server::Application;
use roster_server::config::Config;
use roster_server::domain::Roster;
use roster_server::tls::install_crypto_provider;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// An HTTP client, after making ring the TLS provider (reqwest panics without one).
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// A running server; stopped when dropped.
pub struct TestServer {
    pub base: String,
    pub roster: Arc<Roster>,
    pub dir: TempDir,
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut config = Config::for_tests(dir.path());
        tweak(&mut config);
        let database_url = config.database_url.clone();
        let app = Application::build(config).await.expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let roster = app.roster();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            roster,
            dir,
            database_url,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and starts it again on the same database with another configuration.
    pub async fn restart_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
        let mut config = Config::for_tests(self.dir.path());
        tweak(&mut config);
        let app = Application::build(config).await.expect("server builds");
        self.base = format!("http://{}", app.local_addr());
        self.roster = app.roster();
        let (stop, stopped) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        })));
        self.stop = Some(stop);
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    pub fn anonymous(&self) -> User {
        User {
            base: self.base.clone(),
            http: http_client(),
            token: String::new(),
            id: Uuid::nil(),
            login: String::new(),
            password: String::new(),
        }
    }

    /// Registers `login` (password `<login>-password`) and logs in one terminal.
    pub async fn user(&self, login: &str) -> User {
        let anon = self.anonymous();
        let password = format!("{login}-password");
        let (status, body) = anon
            .send(
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"login": login, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {login}: {body}");
        let mut user = anon.login_as(login, &password, "first terminal").await;
        user.password = password;
        user
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One terminal of one account (or an anonymous client).
#[derive(Clone)]
pub struct User {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub id: Uuid,
    pub login: String,
    pub password: String,
}

impl User {
    /// Sends a request with this terminal's token; returns the status and the JSON body
    /// (`Value::Null` when empty, a string when not JSON).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// Asserts the status and decodes the body.
    pub async fn expect<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> T {
        let (got, value) = self.send(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {value}");
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{method} {path}: {e}: {value}"))
    }

    /// Logs in another terminal of the same account.
    pub async fn login_as(&self, login: &str, password: &str, terminal: &str) -> User {
        let (status, body) = self
            .send(
                Method::POST,
                "/api/v1/sessions",
                Some(json!({"login": login, "password": password, "terminal_name": terminal})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "login {login}: {body}");
        User {
            base: self.base.clone(),
            http: http_client(),
            token: body["token"].as_str().expect("token").to_string(),
            id: body["account"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("account id"),
            login: login.to_string(),
            password: password.to_string(),
        }
    }

    /// The same terminal, talking to a server restarted at another address.
    pub fn clone_at(&self, base: &str) -> User {
        User {
            base: base.to_string(),
            ..self.clone()
        }
    }

    pub async fn another_terminal(&self, name: &str) -> User {
        self.login_as(&self.login, &self.password, name).await
    }

    /// Sets a card with a name and one phone.
    pub async fn set_card(&self, name: &str, phone: &str) -> Value {
        let (status, body) = self
            .put(
                "/api/v1/me/card",
                json!({"formatted_name": name, "phones": [{"number": phone}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "set card: {body}");
        body
    }

    /// Creates a group; returns its id.
    pub async fn create_group(&self, name: &str, policy: &str) -> Uuid {
        let (status, body) = self
            .post("/api/v1/groups", json!({"name": name, "join_policy": policy}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "create group: {body}");
        body["id"].as_str().and_then(|s| s.parse().ok()).expect("group id")
    }

    /// Creates an invite; returns its code.
    pub async fn invite(&self, group: Uuid) -> String {
        let (status, body) = self.post(&format!("/api/v1/groups/{group}/invites"), json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "invite: {body}");
        body["code"].as_str().expect("code").to_string()
    }

    /// Accepts an invite; returns the membership state.
    pub async fn accept(&self, code: &str) -> String {
        let (status, body) = self.post(&format!("/api/v1/invites/{code}/accept"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "accept: {body}");
        body["state"].as_str().expect("state").to_string()
    }

    /// The whole directory of a group, following cursors: account id → card.
    pub async fn directory(&self, group: Uuid) -> std::collections::BTreeMap<String, Value> {
        let mut cards = std::collections::BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/groups/{group}/directory?limit=2&cursor={c}"),
                None => format!("/api/v1/groups/{group}/directory?limit=2"),
            };
            let (status, page) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "directory: {page}");
            for entry in page["entries"].as_array().expect("entries") {
                cards.insert(
                    entry["account_id"].as_str().expect("id").to_string(),
                    entry["card"].clone(),
                );
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return cards,
            }
        }
    }

    /// Changes since `since`: (deltas, new cursor).
    pub async fn changes(&self, group: Uuid, since: i64) -> (Vec<Value>, i64) {
        let (status, page) = self.get(&format!("/api/v1/groups/{group}/changes?since={since}")).await;
        assert_eq!(status, StatusCode::OK, "changes: {page}");
        (
            page["changes"].as_array().expect("changes").clone(),
            page["cursor"].as_i64().expect("cursor"),
        )
    }
}
