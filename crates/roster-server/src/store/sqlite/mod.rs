//! The embedded SQLite store, the default: the [`SqliteStore`] type, its pool, migrations and
//! transaction helpers. Rows are read with the codecs of `store::rows`; each area port is
//! implemented in its own file.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions: SQLite has one writer, and taking the write
//! lock up front avoids deadlocking two readers that both try to upgrade. The same lock keeps
//! the change log's versions gap-free (see `append`).

mod accounts;
mod credentials;
mod directory;
mod groups;
mod push;
mod server;

use crate::domain::ids::{AccountId, GroupId};
use crate::domain::model::{Change, ChangeKind};
use crate::domain::{Error, Result};
use crate::store::rows::{change_kind_str, ts};
use crate::store::write::Write;
use crate::store::{DatabaseSettings, Migrate, Migrations};
use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database's applied migrations (versions) against this build's.
pub(crate) fn migrations_of(applied: &[i64]) -> Migrations {
    Migrations::compare(&MIGRATOR, applied)
}

/// A store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::open(url, &DatabaseSettings::default(), Migrate::Yes).await
    }

    /// Opens the database at `url` with these settings; with [`Migrate::No`], as it is, and
    /// only if it exists (for checks that must not change it).
    pub async fn open(url: &str, settings: &DatabaseSettings, migrate: Migrate) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid SQLite URL {url}"))?
            .create_if_missing(migrate == Migrate::Yes)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.unwrap_or(8))
            // A write that SQLite rolled back by itself (a full disk may do that) leaves sqlx
            // counting a transaction whose ROLLBACK then fails; that connection would answer
            // every later BEGIN with an error. Let the queued rollback run, then keep only a
            // connection outside any transaction.
            .after_release(|conn, _| {
                Box::pin(async move {
                    sqlx::Connection::ping(conn).await?;
                    Ok(!sqlx::Connection::is_in_transaction(conn))
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the SQLite database {url}"))?;
        if migrate == Migrate::Yes {
            MIGRATOR
                .run(&pool)
                .await
                .context("cannot migrate the SQLite database")?;
        }
        Ok(SqliteStore { pool })
    }

    /// Which of this build's migrations the database has, and which it has that this build
    /// does not know (a newer Roster wrote them).
    pub async fn migrations(&self) -> anyhow::Result<Migrations> {
        let table: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.pool)
                .await?;
        let applied: Vec<i64> = match table {
            Some(_) => {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                    .fetch_all(&self.pool)
                    .await?
            }
            None => Vec::new(),
        };
        Ok(Migrations::compare(&MIGRATOR, &applied))
    }

    /// Writes to the database in a transaction that is rolled back: fails when the file,
    /// its folder or the disk refuse writes.
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ('doctor-probe', x'00') ON CONFLICT (name) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(())
    }

    /// The connection pool, for operations tooling and tests (pragmas, checks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction, holding the database's write lock from its start.
    async fn write(&self) -> Result<Write<Sqlite>> {
        let started = std::time::Instant::now();
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(internal)?;
        Ok(Write::new(tx, started))
    }
}

/// SQLite result codes (primary) that mean "cannot write now", not "broken": the disk or the
/// database's size limit is full, or the database is read-only. Reads still work.
const SQLITE_READONLY: i64 = 8;
const SQLITE_FULL: i64 = 13;
/// How soon a write refused for want of space may be tried again.
const FULL_RETRY: Duration = Duration::from_secs(60);

/// A database error as a domain error, by kind: storage that cannot take writes is
/// `Unavailable` (503, the service resumes by itself once space returns); the rest is internal.
fn internal(e: sqlx::Error) -> Error {
    let primary = match &e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .map(|code| code & 0xff),
        _ => None,
    };
    if let Some(code @ (SQLITE_READONLY | SQLITE_FULL)) = primary {
        tracing::error!(error = %e, code, "the database refuses writes (disk full or read-only)");
        return Error::Unavailable {
            reason: "the server cannot store changes right now (storage full or read-only)",
            retry_after: FULL_RETRY,
        };
    }
    Error::Internal(anyhow::Error::new(e).context("SQLite"))
}

/// Appends one change to a group's log, taking the next version: the caller's transaction
/// holds the write lock, so versions stay gap-free.
async fn append(
    conn: &mut SqliteConnection,
    group: GroupId,
    subject: AccountId,
    kind: ChangeKind,
    at: OffsetDateTime,
) -> Result<Change> {
    let version: i64 = sqlx::query_scalar("UPDATE groups SET version = version + 1 WHERE id = ? RETURNING version")
        .bind(group.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    sqlx::query("INSERT INTO changes (group_id, version, subject_id, kind, at) VALUES (?, ?, ?, ?, ?)")
        .bind(group.0)
        .bind(version)
        .bind(subject.0)
        .bind(change_kind_str(kind))
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(Change {
        group_id: group,
        version,
        subject,
        kind,
    })
}
