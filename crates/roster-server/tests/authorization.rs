//! The authorization matrix: every endpoint × every kind of caller, with the expected status,
//! and no card data in any denied answer.

use crate::support::{TestServer, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// The kinds of caller, in the order of the expectation arrays below.
const ROLES: [&str; 8] = [
    "anonymous",
    "revoked",
    "non-member",
    "pending",
    "removed",
    "member",
    "admin",
    "owner",
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
    let cast = Cast {
        revoked,
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
        [u16; 8],
    );
    let group_cases: Vec<Case> = vec![
        (
            "read group",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}", s.group),
            None,
            [401, 401, 404, 200, 404, 200, 200, 200],
        ),
        (
            "update group",
            Method::PATCH,
            |s, _| format!("/api/v1/groups/{}", s.group),
            Some(json!({"name": "New"})),
            [401, 401, 404, 404, 404, 403, 200, 200],
        ),
        (
            "delete group",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 403, 204],
        ),
        (
            "list members",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/members", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200],
        ),
        (
            "set role",
            Method::PATCH,
            |s, c| format!("/api/v1/groups/{}/members/{}", s.group, c.target.id),
            Some(json!({"role": "admin"})),
            [401, 401, 404, 404, 404, 403, 403, 204],
        ),
        (
            "remove member",
            Method::DELETE,
            |s, c| format!("/api/v1/groups/{}/members/{}", s.group, c.target.id),
            None,
            [401, 401, 404, 404, 404, 403, 204, 204],
        ),
        (
            "approve",
            Method::POST,
            |s, c| format!("/api/v1/groups/{}/members/{}/approve", s.group, c.requester.id),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 204, 204],
        ),
        (
            "deny",
            Method::POST,
            |s, c| format!("/api/v1/groups/{}/members/{}/deny", s.group, c.requester.id),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 204, 204],
        ),
        (
            "leave",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}/membership", s.group),
            None,
            [401, 401, 404, 204, 404, 204, 204, 409],
        ),
        (
            "transfer",
            Method::POST,
            |s, _| format!("/api/v1/groups/{}/transfer", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 403, 204],
        ),
        (
            "read share policy",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/share-policy", s.group),
            None,
            [401, 401, 404, 200, 404, 200, 200, 200],
        ),
        (
            "set share policy",
            Method::PUT,
            |s, _| format!("/api/v1/groups/{}/share-policy", s.group),
            Some(json!({"fields": ["phones"]})),
            [401, 401, 404, 200, 404, 200, 200, 200],
        ),
        (
            "create invite",
            Method::POST,
            |s, _| format!("/api/v1/groups/{}/invites", s.group),
            Some(json!({})),
            [401, 401, 404, 404, 404, 403, 201, 201],
        ),
        (
            "list invites",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/invites", s.group),
            None,
            [401, 401, 404, 404, 404, 403, 200, 200],
        ),
        (
            "revoke invite",
            Method::DELETE,
            |s, _| format!("/api/v1/groups/{}/invites/{}", s.group, s.invite),
            None,
            [401, 401, 404, 404, 404, 403, 204, 204],
        ),
        (
            "accept invite",
            Method::POST,
            |s, _| format!("/api/v1/invites/{}/accept", s.code),
            Some(json!({})),
            [401, 401, 200, 409, 200, 409, 409, 409],
        ),
        (
            "directory",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/directory", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200],
        ),
        (
            "changes",
            Method::GET,
            |s, _| format!("/api/v1/groups/{}/changes?since=0", s.group),
            None,
            [401, 401, 404, 404, 404, 200, 200, 200],
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
                _ if method == Method::POST => 201,
                _ => 200,
            };
            assert_eq!(status.as_u16(), want, "{method} {path} as {role}: {answer}");
            if status == StatusCode::UNAUTHORIZED {
                assert!(!card_leaked(&answer));
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
