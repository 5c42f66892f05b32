//! `roster migrate-store` as an operator moves up: stop the SQLite server, copy into
//! PostgreSQL, start `roster serve` there at the same address; the terminals carry on where
//! they were, with their credentials and their cursors.

use crate::support::{Server, User, wait_ready};
use roster_server::store::postgres::testing::TestSchema;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The cursor the client's cache keeps for each group, by group id.
fn cursors(book: &Path) -> Vec<(String, i64)> {
    let url = format!("sqlite://{}", book.join(".roster-cache.sqlite").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as("SELECT group_id, cursor FROM groups ORDER BY group_id")
            .fetch_all(&mut db)
            .await
            .unwrap()
    })
}

/// A `roster serve` process, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn migrate(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["migrate-store", "--from", from, "--to", to])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

#[test]
fn a_sqlite_installation_moves_to_postgres_and_its_terminals_carry_on_incrementally() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(schema) = runtime.block_on(TestSchema::from_env("cli_move")) else {
        return;
    };
    let mut server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    let (chen, chen_id) = User::register(&server, "chen");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);
    ben.ok(&["card", "set", "--name", "Ben", "--phone", "+44 20 7946 0958"]);
    chen.ok(&["card", "set", "--name", "陈伟", "--phone", "+86 10 6552 9988"]);
    let (group, link) = anna.create_group("Club", &[]);
    ben.ok(&["group", "join", &link]);
    chen.ok(&["group", "join", &link]);
    assert!(ben.ok(&["sync"]).starts_with("+2 ~0 -0"));
    let before = cursors(&ben.book());
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].0, group);

    // The operator stops the server and moves its database.
    server.stop();
    let out = migrate(&server.database_url(), schema.url());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    for table in [
        "accounts",
        "cards",
        "memberships",
        "changes",
        "terminals",
        "server_keys",
    ] {
        assert!(
            stderr
                .lines()
                .any(|line| line.starts_with(table) && line.contains("sha256 ")),
            "progress names {table}: {stderr}"
        );
    }
    assert!(stdout.contains("directories of 1 groups verified"), "{stdout}");

    // A second run finds the target in use: one line, a failure, nothing written.
    let again = migrate(&server.database_url(), schema.url());
    let refused = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success());
    assert_eq!(refused.lines().count(), 1, "{refused}");
    assert!(refused.contains("already holds data"), "{refused}");

    // `roster serve` on PostgreSQL, at the address the terminals know.
    let address = server.url.trim_start_matches("http://").to_string();
    let data = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--listen", &address, "--database-url", schema.url()])
        .args(["--default-region", "DE"])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serve = Serve(child);
    let port: u16 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    wait_ready(port, &mut serve.0);

    // Nothing changed: nothing to fetch, the cursor stays where it was.
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -0"));
    assert_eq!(cursors(&ben.book()), before);
    // One change: exactly that card, and the cursor moves by one.
    chen.ok(&["card", "set", "--phone", "+86 10 6552 0000"]);
    let out = ben.ok(&["sync"]);
    assert!(out.starts_with("+0 ~1 -0 in 1 group"), "{out}");
    assert_eq!(cursors(&ben.book()), vec![(group.clone(), before[0].1 + 1)]);
    let card = std::fs::read_to_string(ben.book().join(&group).join(format!("{chen_id}.vcf"))).unwrap();
    assert!(card.contains("+861065520000") && card.contains("陈伟"), "{card}");
    drop(serve);
}
