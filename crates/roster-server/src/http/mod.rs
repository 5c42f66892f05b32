//! The HTTP doors: they translate between the wire and the domain and never touch storage.
//!
//! [`router`] assembles the JSON API, CardDAV, health and metrics with the cross-cutting layers:
//! body size limit, panic catching, request tracing and metrics.

pub mod api;
pub mod auth;
pub mod carddav;
pub mod client;
pub mod error;
pub mod metrics;
pub mod stream;

use crate::domain::Roster;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use error::problem;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The domain service.
    pub roster: Arc<Roster>,
    /// The metrics registry.
    pub metrics: PrometheusHandle,
    /// Proxies whose `X-Forwarded-For` is believed (see [`client`]).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

/// The whole HTTP surface of the server.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .merge(api::router())
        .merge(carddav::router())
        .merge(stream::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// GET /healthz
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.roster.counts().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "health check failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("the database is unavailable".into()),
                Vec::new(),
            )
        }
    }
}

async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, Some("no such resource".into()), Vec::new())
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        Some("this resource does not support the method".into()),
        Vec::new(),
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    problem(StatusCode::INTERNAL_SERVER_ERROR, None, Vec::new())
}
