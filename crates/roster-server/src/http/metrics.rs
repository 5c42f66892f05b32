//! Prometheus metrics: request counts and latency by route, plus totals from the store.

use super::AppState;
use super::error::ApiResult;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
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
            handle
        })
        .clone()
}

/// Counts each request and times it, labelled by route template (not raw path, so that ids
/// do not explode the label set).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("roster_http_requests_total", &labels).increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// GET /metrics
pub async fn render(State(state): State<AppState>) -> ApiResult<Response> {
    let counts = state.roster.counts().await?;
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
    ] {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
