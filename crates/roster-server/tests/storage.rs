//! A database that cannot take writes (disk full, read-only): reads keep working, writes are
//! answered 503 with a problem document, nothing is corrupted, and service resumes by itself.

use crate::support::{User, http_client};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use roster_server::store::Database;
use roster_server::store::sqlite::SqliteStore;
use roster_server::{Application, Config};
use serde_json::json;
use sqlx::SqlitePool;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::Sqlite;
use uuid::Uuid;

/// A 512 × 512 JPEG of pseudo-random noise (incompressible).
fn noise_jpeg() -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let picture = image::RgbImage::from_fn(512, 512, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&picture)
        .unwrap();
    out
}

/// Runs `pragma` on every connection of the server's pool (pragmas are per connection).
async fn on_every_connection(pool: &SqlitePool, pragma: &str) {
    let mut held: Vec<PoolConnection<Sqlite>> = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        let mut connection = pool.acquire().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(pragma.to_string()))
            .execute(&mut *connection)
            .await
            .unwrap();
        held.push(connection);
    }
}

async fn expect_unavailable(user: &User, method: Method, path: &str, body: serde_json::Value) {
    let response = user
        .http
        .request(method, format!("{}{path}", user.base))
        .bearer_auth(&user.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("storage full or read-only"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_full_or_read_only_database_keeps_reads_and_refuses_writes_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.photo_max_bytes = 900 * 1024;
    config.max_body_bytes = 2 * 1024 * 1024;
    let store = SqliteStore::connect(&config.database_url).await.unwrap();
    let pool = store.pool().clone();
    let app = Application::build_on(config, Database::Sqlite(store)).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let task = tokio::spawn(app.run_until(std::future::pending()));
    let anon = User {
        base: base.clone(),
        http: http_client(),
        token: String::new(),
        id: Uuid::nil(),
        login: String::new(),
        password: String::new(),
    };
    for login in ["anna", "ben"] {
        let (status, _) = anon
            .post(
                "/api/v1/accounts",
                json!({"login": login, "password": format!("{login}-password")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let anna = anon.login_as("anna", "anna-password", "phone").await;
    let ben = anon.login_as("ben", "ben-password", "phone").await;
    anna.set_card("Anna", "030 1234567").await;
    ben.set_card("Ben", "030 7654321").await;
    let group = anna.create_group("Family", "invite_only").await;
    let code = anna.invite(group).await;
    ben.accept(&code).await;
    // Terminals last seen long ago: the next request tries to record that they were seen.
    sqlx::query("UPDATE terminals SET last_seen_at = last_seen_at - 3600")
        .execute(&pool)
        .await
        .unwrap();

    // Read-only.
    on_every_connection(&pool, "PRAGMA query_only = ON").await;
    let (status, me) = anna.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "a failed last-seen update failed a read: {me}");
    assert_eq!(ben.directory(group).await.len(), 1, "reads keep working");
    expect_unavailable(
        &anna,
        Method::PUT,
        "/api/v1/me/card",
        json!({"formatted_name": "Anna B", "phones": [{"number": "030 1111111"}]}),
    )
    .await;
    let (status, _) = anon
        .post(
            "/api/v1/accounts",
            json!({"login": "carl", "password": "carl-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    on_every_connection(&pool, "PRAGMA query_only = OFF").await;
    anna.set_card("Anna B", "030 1111111").await;

    // Full: the database may not grow by a single page.
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").fetch_one(&pool).await.unwrap();
    on_every_connection(&pool, &format!("PRAGMA max_page_count = {pages}")).await;
    // A photo of noise: ~100 KiB even as a 512-pixel JPEG, far more than the free pages.
    let photo = format!("data:image/jpeg;base64,{}", STANDARD.encode(noise_jpeg()));
    expect_unavailable(
        &anna,
        Method::PUT,
        "/api/v1/me/card",
        json!({"formatted_name": "Anna", "phones": [{"number": "030 1234567"}], "photo": photo}),
    )
    .await;
    assert_eq!(ben.directory(group).await.len(), 1, "reads keep working");
    // Space returns: the same write succeeds, with no restart.
    on_every_connection(&pool, "PRAGMA max_page_count = 1073741823").await;
    let (status, body) = anna
        .put(
            "/api/v1/me/card",
            json!({"formatted_name": "Anna C", "phones": [{"number": "030 1234567"}], "photo": photo}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let directory = ben.directory(group).await;
    assert!(
        directory.values().any(|card| card.to_string().contains("Anna C")),
        "{directory:?}"
    );
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    assert_eq!(check, "ok");
    task.abort();
}

#[tokio::test]
async fn an_unknown_stored_value_is_an_error_never_read_as_a_valid_one() {
    // A role, state, join policy or terminal kind that no version of Roster writes (a hand
    // edit, a damaged file) used to be read as `member`, `removed`, `invite_only` or
    // `session`; a damaged `owner` row must not become an ordinary member silently, nor an
    // unknown credential kind a full-rights session.
    let server = crate::support::TestServer::start().await;
    let ada = server.user("ada").await;
    let group = ada.create_group("Club", "approval").await;
    // One connection: the pragma that lets the edit past SQLite's CHECK constraints is per
    // connection, as a hand edit in the sqlite3 shell would be.
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&server.database_url).await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut db)
        .await
        .unwrap();
    let path = format!("/api/v1/groups/{group}");
    assert_eq!(ada.get(&path).await.0, reqwest::StatusCode::OK);
    for (table, column, good) in [
        ("memberships", "role", "owner"),
        ("memberships", "state", "active"),
        ("groups", "join_policy", "approval"),
    ] {
        refused_while_damaged(&mut db, &ada, &path, table, column, "'bogus'", &format!("'{good}'")).await;
    }
    sqlx::query("UPDATE terminals SET kind = 'bogus'")
        .execute(&mut db)
        .await
        .unwrap();
    let (status, _) = ada.get("/api/v1/me").await;
    assert_eq!(status, reqwest::StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn an_unknown_change_kind_or_a_negative_count_is_an_error_never_read_as_a_valid_value() {
    // The change log's kinds used to be read as `remove` or, for anything else, `upsert`; a
    // negative invite maximum as "unlimited", a negative member limit as the largest one.
    let server = crate::support::TestServer::start().await;
    let ada = server.user("ada").await;
    let group = ada.create_group("Club", "invite_only").await;
    ada.invite(group).await;
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&server.database_url).await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut db)
        .await
        .unwrap();
    for (path, table, column, bad, good) in [
        (
            format!("/api/v1/groups/{group}/changes?since=0"),
            "changes",
            "kind",
            "'bogus'",
            "'upsert'",
        ),
        (
            format!("/api/v1/groups/{group}/invites"),
            "invites",
            "max_uses",
            "-1",
            "NULL",
        ),
        (format!("/api/v1/groups/{group}"), "groups", "member_limit", "-1", "10"),
    ] {
        assert_eq!(ada.get(&path).await.0, reqwest::StatusCode::OK, "{path}");
        refused_while_damaged(&mut db, &ada, &path, table, column, bad, good).await;
    }
}

/// Writes `bad` into `table.column` behind the server's back and checks that `path` then
/// answers 500, never a guess; then writes `good` back and checks that it answers again.
async fn refused_while_damaged(
    db: &mut sqlx::SqliteConnection,
    who: &crate::support::User,
    path: &str,
    table: &str,
    column: &str,
    bad: &str,
    good: &str,
) {
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET {column} = {bad}")))
        .execute(&mut *db)
        .await
        .unwrap();
    let (status, body) = who.get(path).await;
    assert_eq!(
        status,
        reqwest::StatusCode::INTERNAL_SERVER_ERROR,
        "{table}.{column}: {body}"
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET {column} = {good}")))
        .execute(&mut *db)
        .await
        .unwrap();
    assert_eq!(
        who.get(path).await.0,
        reqwest::StatusCode::OK,
        "{table}.{column} restored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_write_permission_and_migrations_and_costs_one_check_per_interval() {
    use roster_server::http::ready::FRESH;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path());
    let store = SqliteStore::connect(&config.database_url).await.unwrap();
    let pool = store.pool().clone();
    let app = Application::build_on(config, Database::Sqlite(store)).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let task = tokio::spawn(app.run_until(std::future::pending()));
    let http = http_client();
    let ask = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = response.status();
            let retry = response.headers().contains_key("retry-after");
            (status, retry, response.text().await.unwrap())
        }
    };
    let settle = || tokio::time::sleep(FRESH + std::time::Duration::from_millis(100));
    let (status, _, body) = ask("/readyz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));

    // Read-only: out of rotation, yet alive.
    on_every_connection(&pool, "PRAGMA query_only = ON").await;
    settle().await;
    let (status, retry, body) = ask("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(retry && body.contains("refuses writes"), "{body}");
    assert_eq!(ask("/healthz").await.0, StatusCode::OK);
    on_every_connection(&pool, "PRAGMA query_only = OFF").await;
    settle().await;
    assert_eq!(ask("/readyz").await.0, StatusCode::OK);

    // A migration missing (a schema an older Roster left): not ready until it is applied.
    sqlx::query("CREATE TABLE saved AS SELECT * FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version IN (SELECT version FROM saved)")
        .execute(&pool)
        .await
        .unwrap();
    settle().await;
    let (status, _, body) = ask("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("1 migrations are not applied"), "{body}");
    sqlx::query("INSERT INTO _sqlx_migrations SELECT * FROM saved")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE saved").execute(&pool).await.unwrap();
    settle().await;
    assert_eq!(ask("/readyz").await.0, StatusCode::OK);

    // Anyone may ask: a burst of 300 costs at most one check per interval.
    let checks = || async {
        let text = ask("/metrics").await.2;
        text.lines()
            .find_map(|line| line.strip_prefix("roster_readiness_checks_total "))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap_or_default()
    };
    settle().await;
    let before = checks().await;
    let started = std::time::Instant::now();
    let burst: Vec<_> = (0..300).map(|_| tokio::spawn(ask("/readyz"))).collect();
    for asked in burst {
        assert_eq!(asked.await.unwrap().0, StatusCode::OK);
    }
    let intervals = (started.elapsed().as_secs_f64() / FRESH.as_secs_f64()).ceil();
    let spent = checks().await - before;
    assert!(
        spent >= 1.0 && spent <= intervals + 1.0,
        "{spent} checks for 300 requests in {intervals} intervals"
    );
    task.abort();
}
