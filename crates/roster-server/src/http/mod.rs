//! The HTTP doors: they translate between the wire and the domain and never touch storage.
//!
//! [`router`] assembles the JSON API, CardDAV, the web pages, health and metrics with the cross-cutting layers:
//! body size limit and timeout, panic catching, request tracing and metrics. [`serve`] is the
//! listener they run on.

pub mod api;
pub mod auth;
pub mod carddav;
pub mod client;
pub mod error;
pub mod metrics;
pub mod ready;
pub mod serve;
pub mod stream;
pub mod web;
pub mod wire;

use crate::domain::Roster;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use error::problem;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
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
    /// The bearer token `/metrics` asks for, if any.
    pub metrics_token: Option<Arc<str>>,
    /// Stream batches encoded once for every connection that sends them.
    pub frames: Arc<stream::Frames>,
    /// What `/readyz` checks, and its last outcome.
    pub readiness: Arc<ready::Readiness>,
}

/// How the HTTP surface is shaped, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest wait for the next piece of a request body (slow senders are cut off).
    pub body_timeout: Duration,
    /// Whether `/metrics` is served here (false when it has a listen address of its own).
    pub metrics_here: bool,
}

/// The whole HTTP surface of the server.
pub fn router(state: AppState, settings: HttpSettings) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready::readyz));
    if settings.metrics_here {
        router = router.route("/metrics", get(metrics::render));
    }
    router
        .merge(api::router())
        .merge(carddav::router())
        .merge(stream::router())
        .merge(web::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(settings.body_timeout))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `/metrics` alone, for its own listen address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// GET /healthz — whether the database answers; a constant query, so that probing costs
/// nothing however large the tables grow.
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.roster.ping().await {
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
