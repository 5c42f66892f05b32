//! `GET /readyz`: whether this instance should get traffic — the database accepts writes and
//! has this build's migrations — apart from `/healthz` (the process and its database answer).
//! A load balancer takes an instance whose database turned read-only or that runs against a
//! schema from another Roster version out of rotation, while `/healthz` keeps it alive.
//!
//! Anyone may ask, so the answer costs at most one check (a rolled-back write and a read of
//! the migrations table) per [`FRESH`] whatever the request rate: concurrent askers wait for
//! the check in progress and share its outcome.

use super::{AppState, problem};
use crate::store::Database;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long an outcome is reused.
pub const FRESH: Duration = Duration::from_secs(1);

/// The database to check and the last outcome.
#[derive(Debug)]
pub struct Readiness {
    database: Database,
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    pub fn new(database: Database) -> Self {
        Readiness {
            database,
            last: Mutex::new(None),
        }
    }

    /// The database it checks.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The outcome of the last check if fresh, else of a new one.
    async fn outcome(&self) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, outcome)) = last.as_ref()
            && at.elapsed() < FRESH
        {
            return outcome.clone();
        }
        let outcome = self.check().await;
        metrics::counter!("roster_readiness_checks_total").increment(1);
        if let Err(reason) = &outcome {
            tracing::warn!(reason, "not ready");
        }
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }

    async fn check(&self) -> Result<(), String> {
        let migrations = self
            .database
            .migrations()
            .await
            .map_err(|_| "the database's migrations cannot be read".to_string())?;
        if !migrations.unknown.is_empty() {
            return Err("the database has migrations of a newer Roster".into());
        }
        if !migrations.pending.is_empty() {
            return Err(format!("{} migrations are not applied", migrations.pending.len()));
        }
        self.database
            .probe_write()
            .await
            .map_err(|_| "the database refuses writes".to_string())
    }
}

/// GET /readyz — 200 when the database accepts writes and its migrations are this build's;
/// 503 with the reason otherwise.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.outcome().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => {
            let mut response = problem(StatusCode::SERVICE_UNAVAILABLE, Some(reason), Vec::new());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}
