//! Prometheus metrics: request counts and latency by route, plus totals from the store.
//!
//! Labels come from a closed set (the methods the server knows, the route templates it
//! serves, `other` for anything else), so that no client can add series. `/metrics` may ask
//! for a bearer token, or be served on a listen address of its own (see [`super::serve`]).

use super::AppState;
use super::auth::bearer_token;
use super::error::ApiResult;
use crate::domain::Error;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Instant;

/// The process-wide recorder: metrics have one global registry, shared by every server
/// built in this process (tests build several).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only totals");
            }
            register_counters();
            handle
        })
        .clone()
}

/// Creates every counter the server keeps at zero, with each of its label values, so that
/// they are exported from the start (a rate over a series that appears only at its first
/// event misses that event) and dashboards find them on a quiet instance.
fn register_counters() {
    for name in [
        "roster_stream_frames_total",
        "roster_stream_resyncs_total",
        "roster_stream_overflows_total",
        "roster_carddav_resyncs_total",
        "roster_readiness_checks_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    for report in ["multiget", "query", "sync"] {
        metrics::counter!("roster_carddav_reports_total", "report" => report).increment(0);
    }
    for report in ["query", "sync"] {
        metrics::counter!("roster_carddav_truncated_total", "report" => report).increment(0);
    }
    for outcome in ["delivered", "gone", "failed", "refused"] {
        metrics::counter!("roster_pushes_total", "outcome" => outcome).increment(0);
    }
    for reason in ["full", "unsent"] {
        metrics::counter!("roster_bus_dropped_total", "reason" => reason).increment(0);
    }
    // Recorded by the store's write transactions (`store::write`).
    for outcome in ["commit", "rollback", "error"] {
        let _ = metrics::histogram!("roster_database_write_seconds", "outcome" => outcome);
    }
}

/// Methods that get their own label; any other is counted as `other`.
const KNOWN_METHODS: [&str; 14] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "REPORT",
    "MKCOL",
    "COPY",
    "MOVE",
    "CONNECT",
];

/// The method label of a request: the method if the server knows it, else `other`.
fn method_label(method: &Method) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// Counts each request and times it, labelled by route template (not raw path, so that ids
/// do not explode the label set); requests no route matched are `other`.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("roster_http_requests_total", &labels).increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// GET /metrics — with `Authorization: Bearer <metrics token>` when one is configured.
pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(expected) = &state.metrics_token {
        let given = bearer_token(&headers).unwrap_or_default();
        // Compared as digests, so that the time taken tells nothing about the token.
        if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
            return Err(Error::Unauthorized.into());
        }
    }
    let counts = state.roster.counts().await?;
    let (open, idle, most) = state.readiness.database().pool_use();
    let mut text = state.metrics.render();
    for (name, help, value) in [
        ("roster_accounts", "Registered accounts.", counts.accounts),
        ("roster_groups", "Groups.", counts.groups),
        (
            "roster_terminals",
            "Terminals with a valid credential.",
            counts.terminals,
        ),
        (
            "roster_stream_connections",
            "Live stream connections on this instance.",
            state.roster.connections() as u64,
        ),
        (
            "roster_database_connections",
            "Open connections of this instance's database pool.",
            u64::from(open),
        ),
        (
            "roster_database_connections_idle",
            "Idle connections of this instance's database pool.",
            idle as u64,
        ),
        (
            "roster_database_connections_max",
            "Most connections this instance's database pool opens.",
            u64::from(most),
        ),
    ] {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_methods_get_a_label_of_their_own() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "PROPFIND");
        for invented in ["FOOBAR", "get", "X-ANYTHING"] {
            assert_eq!(method_label(&Method::from_bytes(invented.as_bytes()).unwrap()), "other");
        }
    }
}
