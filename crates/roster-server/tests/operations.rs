//! Health, metrics and the OpenAPI document.

use crate::support::{TestServer, http_client};
use reqwest::StatusCode;

#[tokio::test]
async fn health_metrics_and_openapi() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    anna.set_card("Anna", "030 1234567").await;
    anna.create_group("G", "invite_only").await;
    let http = http_client();

    let health = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "roster_accounts 1",
        "roster_groups 1",
        "roster_terminals 1",
        "roster_stream_connections 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing from:\n{metrics}");
    }
    // Requests are counted by route template, never by raw path.
    assert!(metrics.contains(r#"route="/api/v1/me/card""#), "{metrics}");
    assert!(metrics.contains("roster_http_request_duration_seconds"), "{metrics}");
    assert!(!metrics.contains(&anna.id.to_string()), "ids must not become labels");

    let (status, doc) = anna.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/accounts", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/me/password", "put"),
        ("/api/v1/me", "patch"),
        ("/api/v1/me/audience", "get"),
        ("/api/v1/me/card", "put"),
        ("/api/v1/groups/{id}/directory", "get"),
        ("/api/v1/groups/{id}/changes", "get"),
        ("/api/v1/groups/{id}/members/{account_id}/approve", "post"),
        ("/api/v1/invites/{code}/accept", "post"),
        ("/api/v1/stream", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} not documented"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["schemas"]["ServerFrame"].is_object());
    server.stop().await;
}
