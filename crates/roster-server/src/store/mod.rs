//! Implementations of the domain's storage ports ([`crate::domain::ports`]).
//!
//! Each backend is a folder: the store type with its pool, migrations and transaction
//! helpers, and one file per area port. The codecs between rows and the domain's records
//! are shared (`rows`): both backends store the same values in the same shapes.
//! A backend implements the ports' contracts (`tests/store_contract/`) and nothing more: it
//! defines no records the domain imports, words no message (a broken rule is a
//! [`Refusal`](crate::domain::ports::Refusal)) and holds no business rule beyond the
//! invariants that need its transaction.
//!
//! [`Database`] opens the backend a URL names, for the server and for operations tooling
//! (`roster doctor`), which also asks it about its migrations and write permission.

pub mod backup;
pub mod bulk;
pub mod migrate;
pub mod postgres;
mod rows;
pub mod sqlite;
mod write;

use crate::domain::ports::Store;
use anyhow::bail;
use sqlx::migrate::Migrator;
use std::sync::Arc;
use std::time::Duration;

/// Connection settings of the database, whatever its backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// Most connections in the pool [default: 8 on SQLite, 16 on PostgreSQL].
    pub max_connections: Option<u32>,
    /// Longest a single statement may run on PostgreSQL before it is cancelled [default: 30 s].
    pub statement_timeout: Option<Duration>,
}

/// Whether opening a database brings its schema up to this build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    /// Create the database if needed and apply pending migrations (the server).
    Yes,
    /// Open it as it is (checks that must not change it).
    No,
}

/// A database's migrations against this build's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    /// How many migrations this build has.
    pub known: usize,
    /// This build's migrations the database lacks (versions).
    pub pending: Vec<i64>,
    /// Migrations the database has that this build does not know: a newer Roster wrote them.
    pub unknown: Vec<i64>,
}

impl Migrations {
    pub(crate) fn compare(migrator: &Migrator, applied: &[i64]) -> Self {
        let known: Vec<i64> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .collect();
        Migrations {
            known: known.len(),
            pending: known.iter().copied().filter(|v| !applied.contains(v)).collect(),
            unknown: applied.iter().copied().filter(|v| !known.contains(v)).collect(),
        }
    }
}

/// The database a URL names, opened.
#[derive(Debug, Clone)]
pub enum Database {
    /// The embedded default: one file.
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL, for several instances on one database.
    Postgres(postgres::PgStore),
}

impl Database {
    /// Opens the database at `url` (`sqlite://PATH` or `postgres://…`).
    pub async fn open(url: &str, settings: &DatabaseSettings, migrate: Migrate) -> anyhow::Result<Self> {
        match Backend::of(url)? {
            Backend::Sqlite => Ok(Database::Sqlite(
                sqlite::SqliteStore::open(url, settings, migrate).await?,
            )),
            Backend::Postgres => {
                let defaults = postgres::PgOptions::default();
                let options = postgres::PgOptions {
                    max_connections: settings.max_connections.unwrap_or(defaults.max_connections),
                    statement_timeout: settings.statement_timeout.unwrap_or(defaults.statement_timeout),
                    ..defaults
                };
                Ok(Database::Postgres(
                    postgres::PgStore::open(url, &options, migrate).await?,
                ))
            }
        }
    }

    /// The backend's name, for messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "SQLite",
            Database::Postgres(_) => "PostgreSQL",
        }
    }

    /// The store the domain works on.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite(store) => Arc::new(store.clone()),
            Database::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Its migrations against this build's.
    pub async fn migrations(&self) -> anyhow::Result<Migrations> {
        match self {
            Database::Sqlite(store) => store.migrations().await,
            Database::Postgres(store) => store.migrations().await,
        }
    }

    /// The pool's connections: (open, idle, most).
    pub fn pool_use(&self) -> (u32, usize, u32) {
        match self {
            Database::Sqlite(store) => {
                let pool = store.pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            Database::Postgres(store) => {
                let pool = store.pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        }
    }

    /// Closes every connection of the pool, waiting for them: on SQLite the last one to close
    /// checkpoints the write-ahead log into the file.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(store) => store.pool().close().await,
            Database::Postgres(store) => store.pool().close().await,
        }
    }

    /// Writes in a transaction that is rolled back: fails where writes are refused.
    pub async fn probe_write(&self) -> anyhow::Result<()> {
        match self {
            Database::Sqlite(store) => store.probe_write().await,
            Database::Postgres(store) => store.probe_write().await,
        }
    }
}

/// The backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres://` and `postgresql://` URLs.
    Postgres,
}

impl Backend {
    /// The backend of a URL; an error naming the URL without its password otherwise.
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            bail!(
                "unsupported database URL `{}`: use sqlite://PATH or postgres://USER@HOST/DATABASE",
                redacted(url)
            )
        }
    }
}

/// A database URL fit for messages and logs: any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail on a URL that already has a password (it has a host).
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) if !parsed.cannot_be_a_base() => url.to_string(),
        // Not a URL with a host we can read: show only its scheme, in case a secret is in
        // the rest.
        _ => match url.split_once(':') {
            Some((scheme, _)) => format!("{scheme}:…"),
            None => "…".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_told_by_scheme_and_passwords_never_shown() {
        assert_eq!(Backend::of("sqlite://data/roster.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://roster@db/roster").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://roster@db/roster").unwrap(), Backend::Postgres);
        let refused = Backend::of("mysql://root:hunter2@db/roster").unwrap_err().to_string();
        assert!(refused.contains("mysql://root:***@db/roster"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        assert_eq!(
            redacted("postgres://roster:s3cret@db.internal:5432/roster?sslmode=require"),
            "postgres://roster:***@db.internal:5432/roster?sslmode=require"
        );
        assert_eq!(redacted("postgres://roster@db/roster"), "postgres://roster@db/roster");
        assert!(!redacted("weird:s3cret@@@").contains("s3cret"));
    }
}
