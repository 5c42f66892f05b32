//! Fresh PostgreSQL schemas for tests (feature `test-util`): each test gets a schema of its
//! own on the database that `ROSTER_TEST_POSTGRES_URL` names, and a URL that selects it (so a
//! spawned `roster serve --database-url` can use it too); the schema is dropped with its
//! [`TestSchema`].
//!
//! Without that variable, or without a PostgreSQL answering it, tests are skipped with a line
//! saying why, except under `CI=true`, where that is a failure.

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;
use std::time::Duration;
use url::Url;
use uuid::Uuid;

/// The variable naming the database tests create their schemas in.
pub const URL_VARIABLE: &str = "ROSTER_TEST_POSTGRES_URL";

/// How long a test waits for PostgreSQL to answer before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A schema of its own for one test, dropped (with everything in it) when this is dropped.
#[derive(Debug)]
pub struct TestSchema {
    /// The database's URL, as configured.
    base: String,
    /// The schema's name.
    name: String,
    /// The URL selecting the schema.
    url: String,
}

impl TestSchema {
    /// A new schema named `<prefix>_<random>` on the configured database; `None` after saying
    /// why when none is configured or it does not answer. Panics instead under `CI=true`.
    pub async fn from_env(prefix: &str) -> Option<TestSchema> {
        let why = match std::env::var(URL_VARIABLE) {
            Err(_) => format!("{URL_VARIABLE} is not set"),
            Ok(base) => match TestSchema::create(&base, prefix).await {
                Ok(schema) => return Some(schema),
                Err(e) => format!("no PostgreSQL answers at {URL_VARIABLE}: {e:#}"),
            },
        };
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("CI=true, and the PostgreSQL tests cannot run: {why}");
        }
        eprintln!("skipped: {why}");
        None
    }

    /// A new schema named `<prefix>_<random>` on the database at `base`.
    pub async fn create(base: &str, prefix: &str) -> anyhow::Result<TestSchema> {
        let name = format!("{prefix}_{}", Uuid::new_v4().simple());
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, connect(base))
            .await
            .context("timed out")??;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .context("cannot create a schema")?;
        conn.close().await.ok();
        let mut url = Url::parse(base).context("invalid URL")?;
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name}"));
        Ok(TestSchema {
            base: base.to_owned(),
            name,
            url: url.into(),
        })
    }

    /// The URL that selects this schema (through the `options` parameter's `search_path`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let base = self.base.clone();
        let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // Drop cannot wait for a future, and may run inside the test's runtime: a thread of
        // its own, with a runtime of its own, does the work while this one waits.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut conn = connect(&base).await?;
                sqlx::query(sqlx::AssertSqlSafe(drop_schema)).execute(&mut conn).await?;
                conn.close().await?;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop the test schema {}: {e:#}", self.name),
            Err(_) => eprintln!("cannot drop the test schema {}: the thread panicked", self.name),
        }
    }
}

/// One connection to the database at `url`.
async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    let options = PgConnectOptions::from_str(url).context("invalid URL")?;
    options.connect().await.context("cannot connect")
}
