//! A write transaction that reports how long it took: from asking for it (on SQLite this
//! includes waiting for the one writer's lock) to its commit or rollback, as the histogram
//! `roster_database_write_seconds` labelled by outcome. It dereferences to the connection, so
//! use cases read as with a plain transaction (`&mut *tx`).

use sqlx::{Database, Transaction};
use std::ops::{Deref, DerefMut};
use std::time::Instant;

/// The metric's name.
pub(crate) const WRITE_SECONDS: &str = "roster_database_write_seconds";

/// A write transaction, measured.
pub(crate) struct Write<DB: Database> {
    tx: Option<Transaction<'static, DB>>,
    started: Instant,
}

impl<DB: Database> Write<DB> {
    /// Wraps a transaction begun at `started`.
    pub(crate) fn new(tx: Transaction<'static, DB>, started: Instant) -> Self {
        Write { tx: Some(tx), started }
    }

    /// Commits, and records the write's duration.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        };
        let outcome = if committed.is_ok() { "commit" } else { "error" };
        metrics::histogram!(WRITE_SECONDS, "outcome" => outcome).record(self.started.elapsed().as_secs_f64());
        committed
    }
}

impl<DB: Database> Drop for Write<DB> {
    fn drop(&mut self) {
        // Dropped without a commit: sqlx rolls it back.
        if self.tx.is_some() {
            metrics::histogram!(WRITE_SECONDS, "outcome" => "rollback").record(self.started.elapsed().as_secs_f64());
        }
    }
}

impl<DB: Database> Deref for Write<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        // `tx` is taken only by `commit`, which consumes the value.
        match &self.tx {
            Some(tx) => tx,
            None => unreachable!("a committed write is consumed"),
        }
    }
}

impl<DB: Database> DerefMut for Write<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match &mut self.tx {
            Some(tx) => tx,
            None => unreachable!("a committed write is consumed"),
        }
    }
}
