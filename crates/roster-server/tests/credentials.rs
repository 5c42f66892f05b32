//! Credentials under attack: password change and deletion (current password, limited),
//! lock-outs that hold per client network and never reach app passwords, registration modes,
//! and client addresses taken from `X-Forwarded-For` only behind a trusted proxy.

use crate::carddav::Dav;
use crate::support::{TestServer, User, http_client};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Sends a request as if from `client`, through a proxy that sets `X-Forwarded-For`.
async fn from(client: &str, user: &User, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = http_client()
        .request(method, format!("{}{path}", user.base))
        .header("x-forwarded-for", client);
    if !user.token.is_empty() {
        request = request.bearer_auth(&user.token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn login_from(client: &str, server: &TestServer, login: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"login": login, "password": password});
    from(
        client,
        &server.anonymous(),
        Method::POST,
        "/api/v1/sessions",
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_revokes_the_other_terminals() {
    let server = TestServer::start_with(|c| c.rates.password_checks_per_hour = 4).await;
    let anna = server.user("anna").await;
    let laptop = anna.another_terminal("laptop").await;
    let phone = Dav::for_user(&anna).await;
    let principal = "/dav/principals/anna/";

    let change = |current: &str, new: &str, keep: bool| json!({"current_password": current, "new_password": new, "keep_app_passwords": keep});
    let (status, body) = anna
        .put("/api/v1/me/password", change("wrong one", "a new password", true))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = anna
        .put("/api/v1/me/password", change(&anna.password, "short", true))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "new_password");
    // Nothing changed so far.
    assert_eq!(laptop.get("/api/v1/me").await.0, StatusCode::OK);

    let (status, body) = anna
        .put("/api/v1/me/password", change(&anna.password, "a new password", true))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_terminals"].as_array().unwrap().len(), 1, "{body}");
    // The laptop's session is gone, the calling one and the kept app password work.
    assert_eq!(laptop.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anna.get("/api/v1/me").await.0, StatusCode::OK);
    assert_eq!(
        phone.propfind(principal, "0", "").await.status,
        StatusCode::MULTI_STATUS
    );
    // Only the new password logs in.
    let anon = server.anonymous();
    let old = json!({"login": "anna", "password": anna.password});
    assert_eq!(anon.post("/api/v1/sessions", old).await.0, StatusCode::UNAUTHORIZED);
    let anna = anna.login_as("anna", "a new password", "tablet").await;

    // Checks of the main password by a logged-in terminal are limited per account: four per
    // hour here, two used above (the refused short one never reached the check).
    let (status, _) = anna
        .put("/api/v1/me/password", change("wrong", "another password", false))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = anna
        .send(Method::DELETE, "/api/v1/me", Some(json!({"password": "wrong"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = anna
        .send(
            Method::DELETE,
            "/api/v1/me",
            Some(json!({"password": "a new password"})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(anna.get("/api/v1/me").await.0, StatusCode::OK, "not deleted");
    server.stop().await;
}

#[tokio::test]
async fn a_password_change_revokes_app_passwords_unless_kept() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let phone = Dav::for_user(&anna).await;
    let body = json!({"current_password": anna.password, "new_password": "a new password"});
    let (status, answer) = anna.put("/api/v1/me/password", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        phone.propfind("/dav/principals/anna/", "0", "").await.status,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn guessing_locks_out_the_guessing_network_only_and_never_the_phones() {
    let server = TestServer::start_with(|c| {
        c.lockout_after = 3;
        c.rates.logins_per_minute = 4;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
    })
    .await;
    let anna = server.user("anna").await;
    let phone = Dav::for_user(&anna).await;
    let attacker = "203.0.113.9";
    for _ in 0..3 {
        let (status, _) = login_from(attacker, &server, "anna", "wrong guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's network is locked out, even with the right password...
    let (status, _) = login_from(attacker, &server, "anna", &anna.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but Anna, elsewhere, logs in.
    let (status, body) = login_from("198.51.100.7", &server, "anna", &anna.password).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // CardDAV: failed guesses of the attacker's network are limited there...
    let principal = "/dav/principals/anna/";
    let guess = |password: &str| {
        http_client()
            .request(
                Method::from_bytes(b"PROPFIND").unwrap(),
                format!("{}{principal}", server.base),
            )
            .header("x-forwarded-for", attacker)
            .header("depth", "0")
            .basic_auth("anna", Some(password.to_string()))
            .send()
    };
    for _ in 0..4 {
        assert_eq!(guess("guess").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(guess("guess").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // ...while Anna's phone, even from that same network, keeps syncing: app passwords are
    // checked first and no failure count applies to them.
    assert_eq!(guess(&phone.password).await.unwrap().status(), StatusCode::MULTI_STATUS);
    assert_eq!(
        phone.propfind(principal, "0", "").await.status,
        StatusCode::MULTI_STATUS
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_and_known_logins_are_locked_alike() {
    let server = TestServer::start_with(|c| c.lockout_after = 2).await;
    server.user("anna").await;
    let anon = server.anonymous();
    let mut answers = Vec::new();
    for login in ["anna", "nobody"] {
        for _ in 0..2 {
            let (status, _) = anon
                .post("/api/v1/sessions", json!({"login": login, "password": "wrong guess"}))
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{login}");
        }
        let (status, mut body) = anon
            .post("/api/v1/sessions", json!({"login": login, "password": "wrong guess"}))
            .await;
        // The wait may differ by a second between the two; everything else must not.
        body["detail"] = Value::Null;
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::TOO_MANY_REQUESTS, "{:?}", answers[0]);
    assert_eq!(
        answers[0], answers[1],
        "a known login is told apart from an unknown one"
    );
    server.stop().await;
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Without trusted proxies, a made-up X-Forwarded-For does not escape the lock-out.
    let server = TestServer::start_with(|c| c.lockout_after = 2).await;
    let anna = server.user("anna").await;
    for i in 0..2 {
        let (status, _) = login_from(&format!("192.0.2.{i}"), &server, "anna", "wrong guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from("192.0.2.99", &server, "anna", &anna.password).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;

    // Behind a trusted proxy, registrations are limited per real client address.
    let server = TestServer::start_with(|c| {
        c.rates.registrations_per_hour = 1;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    })
    .await;
    let anon = server.anonymous();
    let register = |login: &str| Some(json!({"login": login, "password": "long enough"}));
    let (status, _) = from("192.0.2.1", &anon, Method::POST, "/api/v1/accounts", register("aaa")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = from("192.0.2.1", &anon, Method::POST, "/api/v1/accounts", register("bbb")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The client cannot pick its address: only the right-most entry the proxy added counts.
    let (status, _) = from(
        "10.9.9.9, 192.0.2.1",
        &anon,
        Method::POST,
        "/api/v1/accounts",
        register("ccc"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = from("192.0.2.2", &anon, Method::POST, "/api/v1/accounts", register("ddd")).await;
    assert_eq!(status, StatusCode::CREATED);
    server.stop().await;
}

#[tokio::test]
async fn registration_can_be_closed_or_invite_only() {
    use roster_server::domain::account::Registration;
    let server = TestServer::start_with(|c| c.registration = Registration::Closed).await;
    let (status, body) = server
        .anonymous()
        .post("/api/v1/accounts", json!({"login": "anna", "password": "long enough"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    server.stop().await;

    // The operator registers while registration is open, then makes it invite-only.
    let mut server = TestServer::start().await;
    let owner = server.user("owner").await;
    let group = owner.create_group("Club", "open_with_link").await;
    let (status, invite) = owner
        .post(&format!("/api/v1/groups/{group}/invites"), json!({"max_uses": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let link = invite["url"].as_str().unwrap().to_string();
    server.restart_with(|c| c.registration = Registration::InviteOnly).await;
    let anon = server.anonymous();
    let (status, body) = anon
        .post("/api/v1/accounts", json!({"login": "anna", "password": "long enough"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "invite", "{body}");
    let (status, body) = anon
        .post(
            "/api/v1/accounts",
            json!({"login": "anna", "password": "long enough", "invite": "inv_made_up"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = anon
        .post(
            "/api/v1/accounts",
            json!({"login": "anna", "password": "long enough", "invite": link}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let anna = anon.login_as("anna", "long enough", "phone").await;
    let (_, groups) = anna.get("/api/v1/groups").await;
    assert_eq!(groups[0]["id"], group.to_string(), "{groups}");
    assert_eq!(groups[0]["state"], "active", "{groups}");
    // The invite was used once and is not used twice.
    let (status, body) = anon
        .post(
            "/api/v1/accounts",
            json!({"login": "ben", "password": "long enough", "invite": link}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = anon
        .post("/api/v1/sessions", json!({"login": "ben", "password": "long enough"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no account was created");
    server.stop().await;
}
