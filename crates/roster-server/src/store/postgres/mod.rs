//! The PostgreSQL store, for deployments that outgrow one box and for several server instances
//! on one database: the [`PgStore`] type, its pool, migrations and transaction helpers. Rows
//! are read with the codecs of `store::rows`; each area port is implemented in its own file,
//! as in `store::sqlite`.
//!
//! SQLite has one writer; PostgreSQL runs writes side by side (READ COMMITTED). Every
//! invariant SQLite gets from its write lock is taken here by row locks held to commit,
//! always in the same order, so that two writes never wait on each other in a circle:
//! 1. the account's row ([`lock_account`]): a card write takes it exclusively, and a
//!    membership change that logs the member's card shares it, so the two never miss each
//!    other (a join committed mid-way through a card write would find the old card and get no
//!    entry for the new one);
//! 2. group rows, in id order ([`lock_groups`]): whatever changes a group's members, limit,
//!    owner or log holds its row, so versions are gap-free and commit in version order, and
//!    invite uses, member limits and the owner are checked against committed state;
//! 3. then the rows the use case changes.
//!
//! A deadlock or serialization failure that slips through anyway (PostgreSQL aborts one of
//! the two transactions) is retried a few times ([`retry`]).

mod accounts;
mod credentials;
mod directory;
mod groups;
mod push;
mod server;
#[cfg(feature = "test-util")]
pub mod testing;

use crate::domain::ids::{AccountId, GroupId};
use crate::domain::model::{Change, ChangeKind};
use crate::domain::ports::StoreError;
use crate::domain::{Error, Result};
use crate::store::rows::{change_kind_str, ts};
use crate::store::write::Write;
use crate::store::{Migrate, Migrations};
use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How a [`PgStore`] uses its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections the pool opens at most.
    pub max_connections: u32,
    /// How long one statement may run before PostgreSQL cancels it (zero: no limit).
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection before it is answered "busy".
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A store in a PostgreSQL database (or one schema of it, chosen by the URL's `search_path`).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL; `?options=-c%20search_path%3Dname`
    /// selects a schema) and brings its schema up to date.
    pub async fn connect(url: &str, options: &PgOptions) -> anyhow::Result<Self> {
        Self::open(url, options, Migrate::Yes).await
    }

    /// Connects to the database at `url`; with [`Migrate::No`], leaves its schema as it is
    /// (for checks that must not change it).
    pub async fn open(url: &str, options: &PgOptions, migrate: Migrate) -> anyhow::Result<Self> {
        let mut base = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
        if base.get_application_name().is_none() {
            base = base.application_name("roster");
        }
        // Named by host, port and database only: the URL may carry a password.
        let database = format!(
            "{}:{}/{}",
            base.get_host(),
            base.get_port(),
            base.get_database().unwrap_or("")
        );
        if migrate == Migrate::Yes {
            self::migrate(&base)
                .await
                .with_context(|| format!("cannot migrate the PostgreSQL database {database}"))?;
        }
        let timeout_ms = options.statement_timeout.as_millis();
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.options([("statement_timeout", format!("{timeout_ms}ms"))]))
            .await
            .with_context(|| format!("cannot connect to the PostgreSQL database {database}"))?;
        Ok(PgStore { pool })
    }

    /// Which of this build's migrations the database has, and which it has that this build
    /// does not know (a newer Roster wrote them).
    pub async fn migrations(&self) -> anyhow::Result<Migrations> {
        let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(&self.pool)
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

    /// Writes in a transaction that is rolled back: fails when the user lacks the privilege,
    /// the server is a read-only standby or refuses writes.
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ('doctor-probe', '\\x00') ON CONFLICT (name) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(())
    }

    /// The connection pool, for operations tooling and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction (READ COMMITTED; its invariants are kept by the locks the use case
    /// takes, see the module's documentation).
    async fn write(&self) -> Result<Write<Postgres>> {
        let started = std::time::Instant::now();
        let tx = self.pool.begin().await.map_err(internal)?;
        Ok(Write::new(tx, started))
    }
}

/// Applies the pending migrations on a connection of their own (a pool of one), without the
/// statement timeout of requests: a migration of a large database may take longer. sqlx's
/// migrator holds a session-level `pg_advisory_lock` (keyed on the database's name) from
/// before it reads the applied migrations until after it applies the last
/// (`Migrator::locking`, on by default): instances starting together apply each migration
/// once, the others wait and find nothing left to do. Closing the connection releases the
/// lock even when a migration fails.
async fn migrate(options: &PgConnectOptions) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .context("cannot connect")?;
    let migrated = MIGRATOR.run(&pool).await;
    pool.close().await;
    Ok(migrated?)
}

/// PostgreSQL error codes (SQLSTATE) that mean "cannot do this now", not "broken".
const DISK_FULL: &str = "53100";
const READ_ONLY: &str = "25006";
const QUERY_CANCELED: &str = "57014";
/// Codes of a transaction PostgreSQL aborted so that a concurrent one could go on.
const DEADLOCK: &str = "40P01";
const SERIALIZATION: &str = "40001";
/// How soon a write refused for want of space may be tried again.
const FULL_RETRY: Duration = Duration::from_secs(60);
/// How soon a request cut short by the statement timeout or a busy pool may be tried again.
const BUSY_RETRY: Duration = Duration::from_secs(5);

/// A database error as a domain error, by kind: storage that cannot take writes, a statement
/// that ran out of time and a pool with no free connection are `Unavailable` (503; the
/// service resumes by itself); the rest is internal.
fn internal(e: sqlx::Error) -> Error {
    let code = match &e {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    };
    match code.as_deref() {
        Some(DISK_FULL | READ_ONLY) => {
            tracing::error!(error = %e, "the database refuses writes (disk full or read-only)");
            return Error::Unavailable {
                reason: "the server cannot store changes right now (storage full or read-only)",
                retry_after: FULL_RETRY,
            };
        }
        Some(QUERY_CANCELED) => {
            tracing::error!(error = %e, "a database statement was cancelled (statement timeout)");
            return Error::Unavailable {
                reason: "the server is too busy to answer in time",
                retry_after: BUSY_RETRY,
            };
        }
        _ => {}
    }
    if matches!(e, sqlx::Error::PoolTimedOut) {
        tracing::warn!("no free database connection within the acquire timeout");
        return Error::Unavailable {
            reason: "the server is too busy to answer in time",
            retry_after: BUSY_RETRY,
        };
    }
    Error::Internal(anyhow::Error::new(e).context("PostgreSQL"))
}

/// A failure that running the same transaction again may cure.
trait Transient {
    /// Whether PostgreSQL aborted the transaction for a concurrent one (deadlock or
    /// serialization failure).
    fn is_transient(&self) -> bool;
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        let Error::Internal(e) = self else {
            return false;
        };
        match e.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) => matches!(db.code().as_deref(), Some(DEADLOCK | SERIALIZATION)),
            _ => false,
        }
    }
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        match self {
            StoreError::Failed(e) => e.is_transient(),
            StoreError::Refused(_) => false,
        }
    }
}

/// Attempts a write transaction gets before its deadlock is reported as a failure.
const ATTEMPTS: u32 = 4;

/// Runs a write transaction, again (from its start) when PostgreSQL aborted it for a
/// concurrent one. `write` must begin and commit its own transaction.
async fn retry<T, E, F, Fut>(mut write: F) -> std::result::Result<T, E>
where
    E: Transient + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "a write was aborted for a concurrent one; trying again");
                // A short, growing pause lets the transaction that won finish first.
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, attempt, "a write kept being aborted for concurrent ones; giving up");
                return Err(e);
            }
            done => return done,
        }
    }
}

/// How a write holds an account's row (see the module's documentation).
#[derive(Debug, Clone, Copy)]
enum AccountLock {
    /// The writes that read the account's card into a group's log (joins, approvals, share
    /// changes): they exclude a card write, not each other.
    Shared,
    /// Card writes and push registrations: one at a time per account.
    Exclusive,
    /// Deleting the account.
    Delete,
}

/// Locks an account's row until commit; false when there is no such account.
async fn lock_account(conn: &mut PgConnection, account: AccountId, lock: AccountLock) -> Result<bool> {
    let sql = match lock {
        AccountLock::Shared => "SELECT id FROM accounts WHERE id = $1 FOR SHARE",
        AccountLock::Exclusive => "SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
        AccountLock::Delete => "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
    };
    let found: Option<Uuid> = sqlx::query_scalar(sql)
        .bind(account.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(found.is_some())
}

/// Locks group rows until commit, in id order (the one order every write takes them in);
/// returns those that exist, in that order. `FOR NO KEY UPDATE` leaves inserts that merely
/// reference a group (an invite, a push registration) free to proceed.
async fn lock_groups(conn: &mut PgConnection, groups: &[Uuid]) -> Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT id FROM groups WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind(groups)
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)
}

/// Locks one group's row until commit; false when there is no such group.
async fn lock_group(conn: &mut PgConnection, group: GroupId) -> Result<bool> {
    Ok(!lock_groups(conn, &[group.0]).await?.is_empty())
}

/// Appends one change to a group's log, taking the next version. The version's update
/// row-locks the group until commit (if the caller has not locked it already), so a
/// concurrent append waits and takes the next one: versions stay gap-free and commit in order.
async fn append(
    conn: &mut PgConnection,
    group: GroupId,
    subject: AccountId,
    kind: ChangeKind,
    at: OffsetDateTime,
) -> Result<Change> {
    let version: i64 = sqlx::query_scalar("UPDATE groups SET version = version + 1 WHERE id = $1 RETURNING version")
        .bind(group.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    sqlx::query("INSERT INTO changes (group_id, version, subject_id, kind, at) VALUES ($1, $2, $3, $4, $5)")
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
