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

/// Every `roster_…` series in a `/metrics` text, with its labels (one entry per line).
fn series(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| line.starts_with("roster_"))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn value(text: &str, key: &str) -> f64 {
    series(text)
        .into_iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from:\n{text}"))
}

#[tokio::test]
async fn the_dashboard_and_the_metrics_name_the_same_series_and_the_counters_count() {
    let server = TestServer::start().await;
    let http = http_client();
    let metrics = || async {
        let text = http.get(format!("{}/metrics", server.base)).send().await.unwrap();
        text.text().await.unwrap()
    };
    http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let before = metrics().await;

    // The dashboard in deploy/ asks only for series a server exports, and shows every one.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/grafana-dashboard.json")).unwrap();
    let mut wanted = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for (at, _) in expr.match_indices("roster_") {
                let name: String = expr[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                wanted.insert(name);
            }
        }
    }
    let exported: std::collections::BTreeSet<String> = series(&before)
        .into_iter()
        .map(|(key, _)| key.split('{').next().unwrap_or_default().to_string())
        .filter(|name| !name.ends_with("_sum") && !name.ends_with("_count"))
        .collect();
    assert_eq!(wanted, exported, "dashboard (left) and /metrics (right) differ");

    // The new counters count: a CardDAV sync-collection, a stream connection that receives
    // a change.
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna", "030 1111111").await;
    ben.set_card("Ben", "030 2222222").await;
    let group = anna.create_group("Choir", "invite_only").await;
    ben.accept(&anna.invite(group).await).await;
    let dav = crate::carddav::Dav::for_user(&anna).await;
    dav.sync("contacts", "").await;
    let (mut socket, _) = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("{}/api/v1/stream", server.base.replace("http", "ws"))
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", anna.token).parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap()
    };
    use futures_util::{SinkExt, StreamExt};
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            r#"{"type":"hello","cursors":{}}"#,
        ))
        .await
        .unwrap();
    // The initial sync's frames, then a change.
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await;
    assert!(matches!(next, Ok(Some(Ok(_)))), "{next:?}");
    ben.set_card("Ben B", "030 2222222").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, socket.next()).await {
        if message.to_text().is_ok_and(|text| text.contains("Ben B")) {
            break;
        }
    }
    let after = metrics().await;
    let sync = r#"roster_carddav_reports_total{report="sync"}"#;
    assert!(value(&after, sync) >= value(&before, sync) + 1.0, "{after}");
    let frames = "roster_stream_frames_total";
    assert!(value(&after, frames) >= value(&before, frames) + 2.0, "{after}");
    assert!(value(&after, "roster_database_connections_max") >= 1.0);
    // Card writes, a group, an invite: each a measured write transaction.
    let writes = r#"roster_database_write_seconds_count{outcome="commit"}"#;
    assert!(value(&after, writes) >= value(&before, writes) + 5.0, "{after}");
    assert!(value(&after, "roster_database_connections") >= 1.0);
}
