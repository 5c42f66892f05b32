//! The authorization matrix: every endpoint × every kind of caller and credential (session
//! token, app password), with the expected status, and no card data in any denied answer.

use crate::support::{TestServer, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The kinds of caller, in the order of the expectation arrays below.
/// `app-password` is the owner's app password presented as a bearer token: it opens CardDAV
/// only, so every JSON endpoint refuses it, however much its account may do.
const ROLES: [&str; 9] = [
    "anonymous",
    "revoked",
    "non-member",
    "pending",
    "removed",
    "member",
    "admin",
    "owner",
    "app-password",
];

struct Cast {
    owner: User,
    revoked: User,
    admin: User,
    member: User,
    pending: User,
    removed: User,
    outsider: User,
    anonymous: User,
    app_password: User,
    target: User,
    requester: User,
}

impl Cast {
    fn caller(&self, role: &str) -> &User {
        match role {
            "anonymous" => &self.anonymous,
            "revoked" => &self.revoked,
            "non-member" => &self.outsider,
            "pending" => &self.pending,
            "removed" => &self.removed,
            "member" => &self.member,
            "admin" => &self.admin,
            "app-password" => &self.app_password,
            _ => &self.owner,
        }
    }
}

/// A fresh group with every kind of member, so that each call starts from the same state.
struct Scene {
    group: Uuid,
    invite: String,
    code: String,
}

async fn scene(cast: &Cast) -> Scene {
    let group = cast.owner.create_group("Matrix", "approval").await;
    let code = cast.owner.invite(group).await;
    for user in [
        &cast.admin,
        &cast.member,
        &cast.removed,
        &cast.target,
        &cast.pending,
        &cast.requester,
    ] {
        assert_eq!(user.accept(&code).await, "pending");
    }
    for user in [&cast.admin, &cast.member, &cast.removed, &cast.target] {
        let path = format!("/api/v1/groups/{group}/members/{}/approve", user.id);
        assert_eq!(cast.owner.post(&path, json!({})).await.0, StatusCode::NO_CONTENT);
    }
    let path = format!("/api/v1/groups/{group}/members/{}", cast.admin.id);
    let promoted = cast
        .owner
        .send(Method::PATCH, &path, Some(json!({"role": "admin"})))
        .await;
    assert_eq!(promoted.0, StatusCode::NO_CONTENT);
    let path = format!("/api/v1/groups/{group}/members/{}", cast.removed.id);
    assert_eq!(cast.owner.delete(&path).await.0, StatusCode::NO_CONTENT);
    let (_, invites) = cast.owner.get(&format!("/api/v1/groups/{group}/invites")).await;
    let invite = invites[0]["id"].as_str().unwrap().to_string();
    Scene { group, invite, code }
}

/// A new app password of `user`, as a client that presents it as a bearer token.
async fn app_password_of(user: &User) -> User {
    let (status, body) = user.post("/api/v1/app-passwords", json!({"name": "phone"})).await;
    assert_eq!(status, StatusCode::CREATED, "app password: {body}");
    User {
        token: body["password"].as_str().unwrap().to_string(),
        ..user.clone()
    }
}

fn card_leaked(body: &Value) -> bool {
    let text = body.to_string();
    text.contains("+49") || text.contains("Secret")
}

#[tokio::test]
async fn every_endpoint_answers_every_kind_of_caller_as_expected() {
    let server = TestServer::start().await;
    let owner = server.user("owner").await;
    let revoked = owner.another_terminal("lost phone").await;
    let (_, terminals) = owner.get("/api/v1/terminals").await;
    let lost = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "lost phone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        owner.delete(&format!("/api/v1/terminals/{lost}")).await.0,
        StatusCode::NO_CONTENT
    );
    let app_password = app_password_of(&owner).await;
    let cast = Cast {
        revoked,
        app_password,
        admin: server.user("admin").await,
        member: server.user("member").await,
        pending: server.user("pending").await,
        removed: server.user("removed").await,
        outsider: server.user("outsider").await,
        anonymous: server.anonymous(),
        target: server.user("target").await,
        requester: server.user("requester").await,
        owner,
    };
    for (i, user) in [
        &cast.owner,
        &cast.admin,
        &cast.member,
        &cast.pending,
        &cast.removed,
        &cast.outsider,
        &cast.target,
        &cast.requester,
    ]
    .into_iter()
    .enumerate()
    {
        let (status, _) = user
            .put(
                "/api/v1/me/card",
                json!({"formatted_name": format!("Secret Name {i}"), "phones": [{"number": format!("030 123456{i}")}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    // (what, method, path, body, expected status per role in ROLES order)
    type Case = (
        &'static str,
        Method,
        fn(&Scene, &Cast) -> String,
        Option<Value>,
        [u16; 9],
    );
    let group_cases: Vec<Case> = vec![
        (
            "read group",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}", s.group),
            None,
            [401, 401, 404, 200, 404, 200, 200, 200, 403],
        ),
        (
            "update group",
            Method::PATCH,
            |s, _| format!("/api/v1/groups/{}", s.group),
            Some(json!({"name": "New"})),
            [401, 401, 404, 404, 404, 403, 200, 200, 403],
        ),
        (
            "delete group",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 403, 204, 403],
        ),
        (
            "list members",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/members", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200, 403],
        ),
        (
            "set role",
            Method::PATCH,
            |s, c| format!("/api/v1/groups/{}/members/{}", s.group, c.target.id),
            Some(json!({"role": "admin"})),
            [401, 401, 404, 404, 404, 403, 403, 204, 403],
        ),
        (
            "remove member",
            Method::DELETE,
            |s, c| format!("/api/v1/groups/{}/members/{}", s.group, c.target.id),
            None,
            [401, 401, 404, 404, 404, 403, 204, 204, 403],
        ),
        (
            "approve",
            Method::POST,
            |s, c| format!("/api/v1/groups/{}/members/{}/approve", s.group, c.requester.id),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 204, 204, 403],
        ),
        (
            "deny",
            Method::POST,
            |s, c| format!("/api/v1/groups/{}/members/{}/deny", s.group, c.requester.id),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 204, 204, 403],
        ),
        (
            "leave",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}/membership", s.group),
            None,
            [401, 401, 404, 204, 404, 204, 204, 409, 403],
        ),
        (
            "transfer",
            Method::POST,
            |s, _| format!("/api/v1/groups/{}/transfer", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 403, 204, 403],
        ),
        (
            "read share policy",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/share-policy", s.group),
            None,
            [401, 401, 404, 200, 404, 200, 200, 200, 403],
        ),
        (
            "set share policy",
            Method::PUT,
            |s, _| format!("/api/v1/groups/{}/share-policy", s.group),
            Some(json!({"fields": ["phones"]})),
            [401, 401, 404, 200, 404, 200, 200, 200, 403],
        ),
        (
            "create invite",
            Method::POST,
            |s, _| format!("/api/v1/groups/{}/invites", s.group),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 201, 201, 403],
        ),
        (
            "list invites",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/invites", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 200, 200, 403],
        ),
        (
            "revoke invite",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}/invites/{}", s.group, s.invite),
            None,
            [401, 401, 404, 404, 404, 403, 204, 204, 403],
        ),
        (
            "accept invite",
            Method::POST,
            |s, _| format!("/api/v1/invites/{}/accept", s.code),
            Some(json!({})),
            [401, 401, 200, 409, 200, 409, 409, 409, 403],
        ),
        (
            "directory",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/directory", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200, 403],
        ),
        (
            "changes",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/changes?since=0", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200, 403],
        ),
    ];
    for (what, method, path, body, expected) in &group_cases {
        for (role, want) in ROLES.iter().zip(expected) {
            let scene = scene(&cast).await;
            let body = match *what {
                "transfer" => Some(json!({"account_id": cast.target.id})),
                _ => body.clone(),
            };
            let (status, answer) = cast.caller(role).send(method.clone(), &path(&scene, &cast), body).await;
            assert_eq!(status.as_u16(), *want, "{what} as {role}: {answer}");
            if status.is_client_error() {
                assert!(!card_leaked(&answer), "{what} as {role} leaked card data: {answer}");
                assert!(
                    answer["status"].is_u64(),
                    "{what} as {role}: not a problem document: {answer}"
                );
            }
            // Only active members ever read card data.
            if card_leaked(&answer) {
                assert!(
                    ["member", "admin", "owner"].contains(role),
                    "{what} as {role}: {answer}"
                );
            }
        }
    }

    // Account-level endpoints: anonymous and revoked callers are refused; accounts see only
    // their own data.
    let account_cases: [(Method, &str); 5] = [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/me/card"),
        (Method::GET, "/api/v1/terminals"),
        (Method::GET, "/api/v1/groups"),
        (Method::POST, "/api/v1/groups"),
    ];
    for (method, path) in account_cases {
        for role in ROLES {
            let body = (method == Method::POST).then(|| json!({"name": "Mine"}));
            let (status, answer) = cast.caller(role).send(method.clone(), path, body).await;
            let want = match role {
                "anonymous" | "revoked" => 401,
                "app-password" => 403,
                _ if method == Method::POST => 201,
                _ => 200,
            };
            assert_eq!(status.as_u16(), want, "{method} {path} as {role}: {answer}");
            if status.is_client_error() {
                assert!(!card_leaked(&answer), "{method} {path} as {role}: {answer}");
            }
        }
    }
    // A terminal belongs to its account: another account cannot revoke it.
    let (_, terminals) = cast.member.get("/api/v1/terminals").await;
    let members_terminal = terminals[0]["id"].as_str().unwrap().to_string();
    let (status, _) = cast
        .outsider
        .delete(&format!("/api/v1/terminals/{members_terminal}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(cast.member.get("/api/v1/me").await.0, StatusCode::OK);
    server.stop().await;
}

/// Asserts a refusal of an app password: 403, a problem document, and nothing of the account.
fn assert_scope_refused(what: &str, status: StatusCode, answer: &Value, secrets: &[&str]) {
    assert_eq!(status, StatusCode::FORBIDDEN, "{what} with an app password: {answer}");
    assert!(answer["status"].is_u64(), "{what}: not a problem document: {answer}");
    assert!(
        !card_leaked(answer),
        "{what} with an app password leaked card data: {answer}"
    );
    for secret in secrets {
        assert!(!answer.to_string().contains(secret), "{what} leaked {secret}: {answer}");
    }
}

#[tokio::test]
async fn an_app_password_opens_carddav_and_no_json_endpoint_nor_the_stream() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    anna.set_card("Secret Anna", "030 1234567").await;
    let other = anna.another_terminal("laptop").await;
    let phone = app_password_of(&anna).await;
    let dav = crate::carddav::Dav::with_password(&anna, &phone.token);
    let (_, terminals) = anna.get("/api/v1/terminals").await;
    let id_of = |name: &str| {
        terminals
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (laptop, phone_id) = (id_of("laptop"), id_of("phone"));
    let secrets = [
        anna.id.to_string(),
        anna.login.clone(),
        laptop.clone(),
        phone_id.clone(),
    ];
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let card = json!({"formatted_name": "Secret Changed", "phones": [{"number": "+49 30 7654321"}]});
    let password = json!({"current_password": anna.password, "new_password": "a new password"});

    // (what, method, path, body, status for the session terminal)
    let cases: Vec<(&str, Method, String, Option<Value>, u16)> = vec![
        ("account", Method::GET, "/api/v1/me".into(), None, 200),
        ("read card", Method::GET, "/api/v1/me/card".into(), None, 200),
        ("write card", Method::PUT, "/api/v1/me/card".into(), Some(card), 200),
        ("terminals", Method::GET, "/api/v1/terminals".into(), None, 200),
        ("groups", Method::GET, "/api/v1/groups".into(), None, 200),
        (
            "create group",
            Method::POST,
            "/api/v1/groups".into(),
            Some(json!({"name": "G"})),
            201,
        ),
        (
            "app password",
            Method::POST,
            "/api/v1/app-passwords".into(),
            Some(json!({})),
            201,
        ),
        (
            "books",
            Method::PUT,
            format!("/api/v1/terminals/{phone_id}/books"),
            Some(json!({"group_books": true})),
            200,
        ),
        (
            "read settings",
            Method::GET,
            "/api/v1/me/directory-settings".into(),
            None,
            200,
        ),
        (
            "write settings",
            Method::PUT,
            "/api/v1/me/directory-settings".into(),
            Some(json!({"list_group_books": true})),
            200,
        ),
        (
            "stream ticket",
            Method::POST,
            "/api/v1/stream/tickets".into(),
            Some(json!({})),
            201,
        ),
        (
            "revoke",
            Method::DELETE,
            format!("/api/v1/terminals/{laptop}"),
            None,
            204,
        ),
        (
            "password",
            Method::PUT,
            "/api/v1/me/password".into(),
            Some(password),
            200,
        ),
        ("logout", Method::DELETE, "/api/v1/sessions/current".into(), None, 204),
    ];
    // The app password first, so that every refusal meets the state the session then changes.
    for (what, method, path, body, _) in &cases {
        let (status, answer) = phone.send(method.clone(), path, body.clone()).await;
        assert_scope_refused(what, status, &answer, &secrets);
    }
    let (status, answer) = phone
        .send(Method::DELETE, "/api/v1/me", Some(json!({"password": anna.password})))
        .await;
    assert_scope_refused("delete account", status, &answer, &secrets);
    // The stream refuses it before the upgrade, with nothing in the body.
    match crate::stream::open(&phone, "", true).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).to_string();
            assert!(!body.contains("Secret") && !body.contains("+49"), "{body}");
        }
        other => panic!("the stream opened for an app password: {:?}", other.map(|_| ())),
    }
    // Nothing above changed anything: the card is as it was, and CardDAV still works.
    let (_, mine) = anna.get("/api/v1/me/card").await;
    assert_eq!(mine["card"]["formatted_name"], "Secret Anna", "{mine}");
    let principal = "/dav/principals/anna/";
    assert_eq!(dav.propfind(principal, "0", "").await.status, StatusCode::MULTI_STATUS);
    // A session token is no CardDAV password.
    let with_token = crate::carddav::Dav::with_password(&anna, &anna.token);
    let refused = with_token.propfind(principal, "0", "").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        !refused.body.contains("Secret") && !refused.body.contains("+49"),
        "{}",
        refused.body
    );

    // The session terminal may do all of it.
    for (what, method, path, body, want) in cases {
        let (status, answer) = anna.send(method, &path, body).await;
        assert_eq!(status.as_u16(), want, "{what} with the session: {answer}");
    }
    // The password change revoked the laptop's session and the app password (none kept).
    assert_eq!(other.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(dav.propfind(principal, "0", "").await.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
