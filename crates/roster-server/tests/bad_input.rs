//! Bad input gets a clear 4xx problem document and leaves the data as it was.

use crate::support::{TestServer, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn raw(
    user: &User,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = user.http.request(method, format!("{}{path}", user.base)).body(body);
    if !user.token.is_empty() {
        request = request.bearer_auth(&user.token);
    }
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_client_error() {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{status}: {body}"
        );
        assert_eq!(body["status"].as_u64(), Some(u64::from(status.as_u16())), "{body}");
        assert!(body["title"].is_string(), "{body}");
    }
    (status, body)
}

async fn accounts(server: &TestServer) -> u64 {
    server.roster.counts().await.unwrap().accounts
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn registration_rejects_bad_input_without_creating_anything() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let anon = server.anonymous();
    let before = accounts(&server).await;
    let json_ct = Some("application/json");
    // (content type, body, expected status, expected invalid fields)
    type Case<'a> = (Option<&'a str>, Vec<u8>, u16, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (json_ct, b"{\"login\": \"x\"".to_vec(), 400, vec![]),
        (json_ct, b"[1, 2]".to_vec(), 422, vec![]),
        (
            json_ct,
            b"{\"login\": 5, \"password\": \"long enough\"}".to_vec(),
            422,
            vec![],
        ),
        (
            Some("text/plain"),
            b"{\"login\": \"bob\", \"password\": \"long enough\"}".to_vec(),
            415,
            vec![],
        ),
        (
            json_ct,
            br#"{"login": "ANNA", "password": "long enough"}"#.to_vec(),
            409,
            vec![],
        ),
        (
            json_ct,
            br#"{"login": "b", "password": "short"}"#.to_vec(),
            422,
            vec!["login", "password"],
        ),
        (
            json_ct,
            "{\"login\": \"bøb\", \"password\": \"long enough\"}"
                .as_bytes()
                .to_vec(),
            422,
            vec!["login"],
        ),
        (
            json_ct,
            br#"{"login": "bob", "password": "long enough", "display_name": "a\u0000b"}"#.to_vec(),
            422,
            vec!["display_name"],
        ),
    ];
    for (content_type, body, want, want_fields) in cases {
        let shown = String::from_utf8_lossy(&body).to_string();
        let (status, problem) = raw(&anon, Method::POST, "/api/v1/accounts", content_type, body).await;
        assert_eq!(status.as_u16(), want, "{shown}: {problem}");
        if !want_fields.is_empty() {
            assert_eq!(fields(&problem), want_fields, "{shown}");
        }
    }
    assert_eq!(accounts(&server).await, before, "no account was created");
    // The existing account still logs in with its password.
    anna.another_terminal("still works").await;
    server.stop().await;
}

#[tokio::test]
async fn a_bad_card_is_rejected_field_by_field_and_the_old_card_stays() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let original = anna.set_card("Anna", "030 1234567").await;
    let bad_cards = [
        (
            json!({"formatted_name": "Anna", "phones": [{"number": "12"}]}),
            vec!["phones[0].number"],
        ),
        (json!({"formatted_name": "Anna", "phones": []}), vec!["phones"]),
        (
            json!({"formatted_name": "Anna", "phones": [{"number": "030 1234567"}], "emails": [{"address": "anna@"}]}),
            vec!["emails[0].address"],
        ),
        (
            json!({"formatted_name": "evil\u{202e}gnp.exe", "phones": [{"number": "030 1234567"}]}),
            vec!["formatted_name"],
        ),
        (
            json!({"formatted_name": "nul\u{0}byte", "phones": [{"number": "030 1234567"}]}),
            vec!["formatted_name"],
        ),
        (
            json!({"formatted_name": "x".repeat(201), "phones": [{"number": "030 1234567"}]}),
            vec!["formatted_name"],
        ),
        (
            json!({"formatted_name": "Anna", "phones": [{"number": "030 1234567"}], "birthday": "1990-13-01",
                "photo": "not base64!"}),
            vec!["birthday", "photo"],
        ),
        (
            json!({"formatted_name": "Anna", "phones": [{"number": "030 1234567", "type": "pager"}]}),
            vec![],
        ),
    ];
    for (card, want_fields) in bad_cards {
        let (status, problem) = raw(
            &anna,
            Method::PUT,
            "/api/v1/me/card",
            Some("application/json"),
            serde_json::to_vec(&card).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{card}: {problem}");
        assert_eq!(fields(&problem), want_fields, "{card}");
    }
    // Malformed and oversize bodies.
    let (status, _) = raw(
        &anna,
        Method::PUT,
        "/api/v1/me/card",
        Some("application/json"),
        b"{".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = format!(
        "{{\"formatted_name\": \"{}\", \"phones\": []}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, problem) = raw(
        &anna,
        Method::PUT,
        "/api/v1/me/card",
        Some("application/json"),
        huge.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    // Nothing was half-saved.
    let (_, card) = anna.get("/api/v1/me/card").await;
    assert_eq!(card, original);

    // Unicode that is fine: emoji sequences, CJK, combining marks (normalised to NFC).
    let (status, stored) = anna
        .put(
            "/api/v1/me/card",
            json!({"formatted_name": "Zoe\u{0308} 👩‍👩‍👧 李", "phones": [{"number": "+1 202-456-1111"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["card"]["formatted_name"], "Zoë 👩‍👩‍👧 李");
    assert_eq!(stored["revision"], 2);

    // If-Match guards against overwriting a newer card.
    let (status, _) = anna
        .send(
            Method::PUT,
            "/api/v1/me/card",
            Some(json!({"formatted_name": "A", "phones": [{"number": "030 1234567"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stale = anna
        .http
        .put(format!("{}/api/v1/me/card", anna.base))
        .bearer_auth(&anna.token)
        .header("if-match", "\"1\"")
        .json(&json!({"formatted_name": "B", "phones": [{"number": "030 1234567"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    server.stop().await;
}

#[tokio::test]
async fn bad_paths_queries_and_methods_are_problems_too() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let group = anna.create_group("G", "invite_only").await;
    let cases = [
        (Method::GET, "/api/v1/groups/not-a-uuid".to_string(), 404),
        (Method::GET, format!("/api/v1/groups/{group}/changes?since=abc"), 400),
        (Method::GET, format!("/api/v1/groups/{group}/changes?since=-1"), 422),
        (Method::GET, format!("/api/v1/groups/{group}/directory?limit=0"), 422),
        (Method::GET, format!("/api/v1/groups/{group}/directory?limit=5000"), 422),
        (Method::GET, format!("/api/v1/groups/{group}/directory?cursor=%%%"), 422),
        (
            Method::GET,
            format!("/api/v1/groups/{group}/directory?cursor=garbage"),
            422,
        ),
        (Method::PUT, "/api/v1/groups".to_string(), 405),
        (Method::GET, "/api/v1/nothing-here".to_string(), 404),
    ];
    for (method, path, want) in cases {
        let (status, problem) = raw(&anna, method.clone(), &path, None, Vec::new()).await;
        assert_eq!(status.as_u16(), want, "{method} {path}: {problem}");
    }
    let (status, problem) = anna
        .post("/api/v1/groups", json!({"name": "", "member_limit": 0}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), vec!["name", "member_limit"]);
    let (status, problem) = anna
        .post(
            &format!("/api/v1/groups/{group}/invites"),
            json!({"expires_in": 0, "max_uses": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), vec!["expires_in", "max_uses"]);
    server.stop().await;
}

#[tokio::test]
async fn password_guessing_locks_the_account_and_registration_is_rate_limited() {
    let server = TestServer::start_with(|config| {
        config.lockout_after = 3;
        config.rates.registrations_per_hour = 4;
    })
    .await;
    let anna = server.user("anna").await;
    let anon = server.anonymous();
    let guess = json!({"login": "anna", "password": "wrong guess"});
    for _ in 0..3 {
        assert_eq!(
            anon.post("/api/v1/sessions", guess.clone()).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked now, even with the right password.
    let right = json!({"login": "anna", "password": anna.password});
    let response = anon
        .http
        .post(format!("{}/api/v1/sessions", anon.base))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    // Unknown logins are told exactly what wrong passwords are told.
    let (status, unknown) = anon
        .post("/api/v1/sessions", json!({"login": "nobody", "password": "whatever1"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, wrong) = anon
        .post("/api/v1/sessions", json!({"login": "ben", "password": "whatever1"}))
        .await;
    assert_eq!(unknown, wrong);

    // One registration was used by anna; three more fit, the fifth is refused.
    for login in ["b1x", "b2x", "b3x"] {
        let (status, body) = anon
            .post("/api/v1/accounts", json!({"login": login, "password": "long enough"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _) = anon
        .post("/api/v1/accounts", json!({"login": "b4x", "password": "long enough"}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    server.stop().await;
}
