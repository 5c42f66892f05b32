//! `roster doctor`'s installation checks: whether the configured database answers, has this
//! build's migrations and accepts writes, and whether the bus between instances answers.
//! Each check is one line for the operator, with what to do when it fails. Nothing here
//! changes the database.

use crate::app::open_bus;
use crate::config::Config;
use crate::store::{Database, Migrate, redacted};
use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `database`, `migrations`, `writes` or `bus`.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// One line: `ok    name  detail`, or `FAIL  name  detail — fix`.
    pub fn line(&self) -> String {
        match &self.fix {
            None => format!("ok    {:<10}  {}", self.name, self.detail),
            Some(fix) => format!("FAIL  {:<10}  {} — {fix}", self.name, self.detail),
        }
    }
}

/// Runs every check, in order; a database that cannot be opened skips the checks that need it.
pub async fn run(config: &Config) -> Vec<Check> {
    let url = redacted(&config.database_url);
    let mut checks = Vec::new();
    match Database::open(&config.database_url, &config.database, Migrate::No).await {
        Ok(database) => {
            checks.push(Check::pass(
                "database",
                format!("{} at {url} answers", database.backend()),
            ));
            checks.push(migrations(&database).await);
            checks.push(match database.probe_write().await {
                Ok(()) => Check::pass("writes", "the database accepts writes"),
                Err(e) => Check::fail(
                    "writes",
                    format!("a write was refused: {}", one_line(&e)),
                    match database {
                        Database::Sqlite(_) => {
                            "give the server's user write access to the database file and its folder, and free disk space"
                        }
                        Database::Postgres(_) => {
                            "connect to the primary, not a standby, as a user with INSERT, UPDATE and DELETE on Roster's tables"
                        }
                    },
                ),
            });
        }
        Err(e) => checks.push(Check::fail(
            "database",
            format!("cannot open {url}: {}", one_line(&e)),
            if config.database_url.starts_with("sqlite:") {
                "check the path; `roster serve` creates the database on its first start"
            } else {
                "check that PostgreSQL runs and that the URL's host, port, user and database are right"
            },
        )),
    }
    checks.push(bus(config).await);
    checks
}

async fn migrations(database: &Database) -> Check {
    match database.migrations().await {
        Ok(m) if !m.unknown.is_empty() => Check::fail(
            "migrations",
            format!(
                "the database has {} migrations this build does not know",
                m.unknown.len()
            ),
            "a newer Roster wrote this database: run that version (or newer)",
        ),
        Ok(m) if !m.pending.is_empty() => Check::fail(
            "migrations",
            format!("{} of {} migrations applied", m.known - m.pending.len(), m.known),
            "start `roster serve` once: it applies them (back up the database first)",
        ),
        Ok(m) => Check::pass("migrations", format!("all {} migrations applied", m.known)),
        Err(e) => Check::fail(
            "migrations",
            format!("cannot read the applied migrations: {}", one_line(&e)),
            "check that the database user may read the `_sqlx_migrations` table",
        ),
    }
}

async fn bus(config: &Config) -> Check {
    match open_bus(config).await {
        Ok(_) => Check::pass(
            "bus",
            match config.bus.as_deref() {
                None if !config.database_url.starts_with("sqlite:") => {
                    "PostgreSQL LISTEN/NOTIFY answers: instances on this database hear each other".to_string()
                }
                None | Some("local") => "local: changes reach the terminals of this instance only".to_string(),
                Some("postgres") => {
                    "PostgreSQL LISTEN/NOTIFY answers: instances on this database hear each other".to_string()
                }
                Some(other) => format!("{} answers", redacted(other)),
            },
        ),
        Err(e) => Check::fail("bus", one_line(&e), "check the `bus` setting and that its server runs"),
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace(['\n', '\r'], " ")
}
