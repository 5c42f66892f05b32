//! `roster doctor` as an operator runs it after a fix of the phone rules: it lists the stored
//! numbers that read differently from what their owners typed, changes nothing until `--fix`,
//! and then stores the corrected cards.

use crate::support::{Server, User};
use serde_json::Value;
use std::process::Command;

fn doctor(database_url: &str, extra: &[&str]) -> String {
    let (ok, out, err) = doctor_with(database_url, extra);
    assert!(ok, "roster doctor {extra:?}: {err}");
    out
}

/// Stores what the released parser made of Anna's number on a US server.
async fn corrupt(database_url: &str, account: &str) {
    let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
    let id = uuid::Uuid::parse_str(account).unwrap().as_bytes().to_vec();
    let card: String = sqlx::query_scalar("SELECT card FROM cards WHERE account_id = ?")
        .bind(&id[..])
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut card: Value = serde_json::from_str(&card).unwrap();
    card["phones"][0]["number"] = "+495123456789".into();
    card["phones"][0]["typed"]["region"] = "US".into();
    sqlx::query("UPDATE cards SET card = ? WHERE account_id = ?")
        .bind(card.to_string())
        .bind(&id[..])
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[test]
fn doctor_lists_numbers_that_read_differently_and_fixes_them_on_request() {
    let mut server = Server::start();
    let (anna, id) = User::register(&server, "anna");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 1512 3456789"]);
    server.stop();
    let url = server.database_url();
    tokio::runtime::Runtime::new().unwrap().block_on(corrupt(&url, &id));

    let found = doctor(&url, &[]);
    assert!(found.contains("1 phone numbers on 1 cards read again"), "{found}");
    assert!(
        found.contains(&format!(
            "changed  {id}  \"+49 1512 3456789\" (US): +495123456789 -> +4915123456789"
        )),
        "{found}"
    );
    assert!(found.contains("run again with --fix"), "{found}");
    // Nothing stored without --fix: the same finding again, as JSON.
    let json: Value = serde_json::from_str(&doctor(&url, &["--json"])).unwrap();
    assert_eq!(json["changed"][0]["now"], "+4915123456789", "{json}");
    assert_eq!(json["cards_corrected"], 0);

    let fixed = doctor(&url, &["--fix"]);
    assert!(fixed.contains("1 cards corrected"), "{fixed}");
    let json: Value = serde_json::from_str(&doctor(&url, &["--json"])).unwrap();
    assert_eq!(json["changed"], serde_json::json!([]), "{json}");

    // The server hands out the corrected card.
    server.restart();
    let card = anna.json(&["card", "show"]);
    assert_eq!(card["card"]["phones"][0]["number"], "+4915123456789", "{card}");
}

/// `roster doctor` with its exit status, stdout and stderr.
fn doctor_run(database_url: &str) -> (bool, String, String) {
    doctor_with(database_url, &[])
}

async fn execute(database_url: &str, statement: &'static str) {
    let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
    sqlx::query(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

#[test]
fn doctor_checks_the_database_and_the_bus_one_line_each_and_says_what_to_do() {
    let mut server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 1512 3456789"]);
    server.stop();
    let url = server.database_url();

    let (ok, out, _) = doctor_run(&url);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().take(4).collect();
    assert!(
        lines[0].starts_with("ok    database") && lines[0].contains("SQLite"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("ok    migrations") && lines[1].contains("applied"),
        "{out}"
    );
    assert!(lines[2].starts_with("ok    writes"), "{out}");
    assert!(lines[3].starts_with("ok    bus") && lines[3].contains("local"), "{out}");
    assert!(out.contains("1 phone numbers on 1 cards read again"), "{out}");

    // Opened read-only, the database refuses the probe write; nothing else is tried.
    let (ok, out, err) = doctor_run(&format!("{url}?mode=ro"));
    assert!(!ok, "{out}");
    let writes = out.lines().find(|l| l.contains("writes")).unwrap_or_default();
    assert!(
        writes.starts_with("FAIL  writes") && writes.contains("write access"),
        "{out}"
    );
    assert!(err.contains("1 of 4 checks failed"), "{err}");
    assert!(!out.contains("phone numbers"), "{out}");

    // A migration missing, then one from a newer Roster.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(execute(
        &url,
        "CREATE TABLE saved AS SELECT * FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    ));
    rt.block_on(execute(
        &url,
        "DELETE FROM _sqlx_migrations WHERE version IN (SELECT version FROM saved)",
    ));
    let (ok, out, _) = doctor_run(&url);
    assert!(!ok);
    let line = out.lines().find(|l| l.contains("migrations")).unwrap_or_default();
    assert!(
        line.starts_with("FAIL  migrations") && line.contains("roster serve"),
        "{out}"
    );
    rt.block_on(execute(&url, "INSERT INTO _sqlx_migrations SELECT * FROM saved"));
    rt.block_on(execute(&url, "DROP TABLE saved"));
    assert!(doctor_run(&url).0, "all applied again");
    rt.block_on(execute(
        &url,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    ));
    let (ok, out, _) = doctor_run(&url);
    assert!(!ok);
    let line = out.lines().find(|l| l.contains("migrations")).unwrap_or_default();
    assert!(line.contains("newer Roster"), "{out}");

    // No database at all: the operator learns where it was looked for and how to make one.
    let missing = tempfile::tempdir().unwrap();
    let (ok, out, _) = doctor_run(&format!("sqlite://{}/nothing.db", missing.path().display()));
    assert!(!ok);
    assert!(
        out.lines().next().unwrap_or_default().starts_with("FAIL  database")
            && out.contains("creates the database on its first start"),
        "{out}"
    );
    assert!(
        !missing.path().join("nothing.db").exists(),
        "doctor created no database"
    );
}

/// `roster doctor` with extra arguments, its exit status, stdout and stderr.
fn doctor_with(database_url: &str, extra: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["doctor", "--database-url", database_url, "--default-region", "DE"])
        .args(extra)
        .env_remove("ROSTER_CONFIG")
        .env_remove("ROSTER_BUS")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn doctor_on_postgres_checks_migrations_write_permission_and_the_bus() {
    use roster_server::store::postgres::testing::TestSchema;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = rt.block_on(TestSchema::from_env("doctor")) else {
        return;
    };

    // A schema no server has started on yet: reachable and writable? It has no tables, so
    // the write probe fails too; the migrations line says what to do.
    let (ok, out, err) = doctor_with(schema.url(), &[]);
    assert!(!ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ok    database") && lines[0].contains("PostgreSQL"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("FAIL  migrations") && lines[1].contains("0 of") && lines[1].contains("roster serve"),
        "{out}"
    );
    assert!(err.contains("checks failed"), "{err}");

    // Migrated (as `roster serve` does at start): every check passes, the bus is the
    // database's LISTEN/NOTIFY, and NATS when it is named and runs.
    rt.block_on(async {
        roster_server::store::Database::open(schema.url(), &Default::default(), roster_server::store::Migrate::Yes)
            .await
            .unwrap();
    });
    let (ok, out, err) = doctor_with(schema.url(), &[]);
    assert!(ok, "{out}{err}");
    let lines: Vec<&str> = out.lines().take(4).collect();
    assert!(
        lines[1].starts_with("ok    migrations") && lines[1].contains("applied"),
        "{out}"
    );
    assert!(lines[2].starts_with("ok    writes"), "{out}");
    assert!(
        lines[3].starts_with("ok    bus") && lines[3].contains("LISTEN/NOTIFY"),
        "{out}"
    );
    if let Ok(nats) = std::env::var("ROSTER_TEST_NATS_URL") {
        let (ok, out, err) = doctor_with(schema.url(), &["--bus", &nats]);
        assert!(ok, "{out}{err}");
        assert!(out.lines().nth(3).unwrap_or_default().starts_with("ok    bus"), "{out}");
    }
    let (ok, out, _) = doctor_with(schema.url(), &["--bus", "nats://127.0.0.1:1"]);
    assert!(!ok);
    assert!(out.lines().any(|l| l.starts_with("FAIL  bus")), "{out}");

    // A user who may read but not write (a reporting role, a standby): the write check
    // fails and says to connect to the primary with write privileges.
    let role = format!("{}_reader", schema.name());
    let mut reader_url = url::Url::parse(schema.url()).unwrap();
    reader_url.set_username(&role).unwrap();
    let base = std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
        for statement in [
            format!("CREATE ROLE {role} LOGIN"),
            format!("GRANT USAGE ON SCHEMA {} TO {role}", schema.name()),
            format!("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {role}", schema.name()),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    });
    let (ok, out, _) = doctor_with(reader_url.as_str(), &[]);
    let cleanup = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            for statement in [
                format!("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {role}", schema.name()),
                format!("REVOKE ALL ON SCHEMA {} FROM {role}", schema.name()),
                format!("DROP ROLE {role}"),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }
        });
    };
    cleanup(&rt);
    assert!(!ok, "{out}");
    let writes = out.lines().find(|l| l.contains("writes")).unwrap_or_default();
    assert!(
        writes.starts_with("FAIL  writes") && writes.contains("primary"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("ok    migrations")), "{out}");

    // Nothing answers: the line names the place without its password.
    let (ok, out, _) = doctor_with("postgres://roster:s3cret@127.0.0.1:1/roster", &[]);
    assert!(!ok);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("FAIL  database") && first.contains("127.0.0.1:1") && first.contains("PostgreSQL runs"),
        "{out}"
    );
    assert!(!out.contains("s3cret"), "{out}");
}
