//! What the PostgreSQL store adds to the contract: instances starting together on a new
//! database migrate it once, a URL alone selects the schema a store lives in and carries the
//! statement timeout, and the tests' schemas are dropped after them.

use roster_server::domain::ports::ServerStore;
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::postgres::{PgOptions, PgStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    let Some(schema) = TestSchema::from_env("starts").await else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = schema.url().to_owned();
            tokio::spawn(async move { PgStore::connect(&url, &PgOptions::default()).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().unwrap());
    }
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(stores[0].pool())
        .await
        .unwrap();
    assert!(!applied.is_empty());
    assert!(applied.iter().all(|(_, success)| *success));
    let mut versions: Vec<i64> = applied.iter().map(|(version, _)| *version).collect();
    versions.dedup();
    assert_eq!(versions.len(), applied.len(), "each migration applied once");
    for store in &stores {
        assert_eq!(store.migrations().await.unwrap().pending, Vec::<i64>::new());
        store.ping().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_selects_the_schema_and_the_statement_timeout_applies() {
    let Some(schema) = TestSchema::from_env("url").await else {
        return;
    };
    let options = PgOptions {
        statement_timeout: std::time::Duration::from_millis(200),
        ..PgOptions::default()
    };
    let store = PgStore::connect(schema.url(), &options).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(current, schema.name());
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'accounts'",
    )
    .bind(schema.name())
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(tables, 1, "the store's tables are in its schema");
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(timeout, "200ms");
    let slow = sqlx::query("SELECT pg_sleep(2)").execute(store.pool()).await;
    assert!(slow.is_err(), "a statement over the timeout is cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_schema_goes_with_its_handle() {
    let Some(schema) = TestSchema::from_env("dropped").await else {
        return;
    };
    let store = PgStore::connect(schema.url(), &PgOptions::default()).await.unwrap();
    let name = schema.name().to_owned();
    let exists = || async {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(&name)
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    assert!(exists().await);
    drop(schema);
    assert!(!exists().await, "dropped with everything in it");
}
