//! `migrate-store` moves a whole installation: after the move a server on the target shows
//! every directory and change as before, credentials still open it, and a CardDAV client's
//! sync token taken before the move is answered incrementally. A move into a database that
//! holds anything, or from a schema this build does not know, is refused before a row is
//! written; a move read back from its target gives the same checksum for every table.

use crate::carddav::{Dav, Setup, setup};
use crate::support::{TestServer, User};
use reqwest::StatusCode;
use roster_server::store;
use roster_server::store::migrate::{Moved, migrate_store};
use roster_server::store::postgres::testing::TestSchema;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What every user sees: each group's directory and change log, and each one's own card.
type Views = BTreeMap<String, Value>;

async fn views(users: &[&User], groups: &[Uuid]) -> Views {
    let mut seen = Views::new();
    for user in users {
        let (status, me) = user.get("/api/v1/me/card").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        seen.insert(format!("{} card", user.login), me);
        for group in groups {
            let (status, _) = user.get(&format!("/api/v1/groups/{group}/directory")).await;
            if status != StatusCode::OK {
                seen.insert(format!("{} {group}", user.login), json!(status.as_u16()));
                continue;
            }
            let directory = user.directory(*group).await;
            seen.insert(format!("{} {group} directory", user.login), json!(directory));
            let (changes, cursor) = user.changes(*group, 0).await;
            seen.insert(
                format!("{} {group} changes", user.login),
                json!({"changes": changes, "cursor": cursor}),
            );
        }
    }
    seen
}

/// The shared setup (three people, two groups, share policies) and more: a name in Cyrillic
/// that left the choir, a pending join, a failed login, and rows in every other table, so
/// that every table and every kind of column (NULL or not) takes part in the move.
async fn seeded() -> (Setup, User, Uuid) {
    let s = setup().await;
    let dmitri = s.server.user("dmitri").await;
    dmitri.set_card("Дмитрий Иванов", "+7 495 123-45-67").await;
    dmitri.accept(&s.anna.invite(s.choir).await).await;
    assert_eq!(
        dmitri.delete(&format!("/api/v1/groups/{}/membership", s.choir)).await.0,
        StatusCode::NO_CONTENT
    );
    let asking = s.anna.create_group("合唱团 Approval", "approval").await;
    assert_eq!(dmitri.accept(&s.anna.invite(asking).await).await, "pending");
    let (status, _) = s
        .server
        .anonymous()
        .post(
            "/api/v1/sessions",
            json!({"login": "cara", "password": "wrong", "terminal_name": "guess"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = s
        .ben
        .put("/api/v1/me/directory-settings", json!({"list_group_books": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s
        .cara
        .post("/api/v1/app-passwords", json!({"name": "tablet", "group_books": false}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pool = sqlx::SqlitePool::connect(&s.server.database_url).await.unwrap();
    let (terminal,): (Uuid,) = sqlx::query_as("SELECT id FROM terminals WHERE account_id = ? LIMIT 1")
        .bind(s.anna.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO refetches (terminal_id, book, subject_id, added_at) VALUES (?, 'contacts', ?, 1700000000)",
    )
    .bind(terminal)
    .bind(s.ben.id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO stream_tickets (ticket_hash, terminal_id, expires_at) VALUES (?, ?, 4102444800)")
        .bind(vec![7u8; 32])
        .bind(terminal)
        .execute(&pool)
        .await
        .unwrap();
    for (book, group, told) in [
        ("contacts".to_string(), None, None),
        (s.choir.to_string(), Some(s.choir), Some("urn:told")),
    ] {
        sqlx::query(
            "INSERT INTO push_registrations (id, terminal_id, account_id, book, group_id, push_resource, \
             public_key, auth_secret, created_at, expires_at, told_token, told_at_ms) \
             VALUES (?, ?, ?, ?, ?, 'http://127.0.0.1:9/push', ?, ?, 1700000000, 4102444800, ?, ?)",
        )
        .bind(Uuid::new_v4())
        .bind(terminal)
        .bind(s.anna.id)
        .bind(book)
        .bind(group)
        .bind(vec![4u8; 65])
        .bind(vec![5u8; 16])
        .bind(told)
        .bind(told.map(|_| 1_700_000_000_123i64))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    (s, dmitri, asking)
}

async fn moved(from: &str, to: &str) -> anyhow::Result<Moved> {
    migrate_store(from, to, &mut |_| {}).await
}

/// Moves a seeded installation to `target` and checks that a server there carries on.
async fn the_installation_carries_on_at(target: &str) -> Moved {
    let (s, dmitri, asking) = seeded().await;
    let dav = Dav::for_user(&s.anna).await;
    let (first, token) = dav.sync("contacts", "").await;
    assert_eq!(first.responses().len(), 2, "{}", first.body);
    let users = [&s.anna, &s.ben, &s.cara, &dmitri];
    let groups = [s.choir, s.club, asking];
    let before = views(&users, &groups).await;

    let report = moved(&s.server.database_url, target).await.unwrap();
    for table in &report.tables {
        assert!(table.rows > 0, "the seed leaves rows in every table: {table:?}");
        assert_eq!(table.checksum.len(), 64);
    }
    assert_eq!(report.directories, 3);
    // Read back from the target into a new SQLite file: every table the same, row for row.
    let dir = tempfile::tempdir().unwrap();
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    assert_eq!(moved(target, &back).await.unwrap().tables, report.tables);

    let server = TestServer::start_with(|config| config.database_url = target.to_owned()).await;
    let moved_users: Vec<User> = users.iter().map(|user| user.clone_at(&server.base)).collect();
    let after = views(&moved_users.iter().collect::<Vec<_>>(), &groups).await;
    assert_eq!(after, before, "every directory, change log and card as before");
    // The main password still logs in; the app password still opens CardDAV, and the token
    // from before the move is answered incrementally: nothing, then exactly the one change.
    moved_users[2].another_terminal("laptop").await;
    let dav = Dav::with_password(&moved_users[0], &dav.password);
    let (same, again) = dav.sync("contacts", &token).await;
    assert_eq!(same.responses().len(), 0, "{}", same.body);
    assert_eq!(again, token);
    moved_users[2].set_card("Cara Vogel", "0151 55555555").await;
    let (changed, _) = dav.sync("contacts", &token).await;
    assert_eq!(changed.responses().len(), 1, "{}", changed.body);
    assert!(changed.response_for(&dav.card("contacts", s.cara.id)).is_some());
    // Its versions carry on from where the source left them: the change log has no gap.
    let (changes, cursor) = moved_users[0].changes(s.choir, 0).await;
    let old_cursor = before[&format!("anna {} changes", s.choir)]["cursor"].as_i64().unwrap();
    assert_eq!(cursor, old_cursor + 1, "{changes:?}");
    server.stop().await;
    s.server.stop().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_another_sqlite_file_and_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let target = format!("sqlite://{}", dir.path().join("moved.db").display());
    the_installation_carries_on_at(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_postgres_and_a_second_move_into_it_is_refused() {
    let Some(schema) = TestSchema::from_env("moved").await else {
        return;
    };
    the_installation_carries_on_at(schema.url()).await;
    // A second move into the same PostgreSQL schema is refused, and leaves it as it was.
    let dir = tempfile::tempdir().unwrap();
    let now = format!("sqlite://{}", dir.path().join("now.db").display());
    let before = moved(schema.url(), &now).await.unwrap();
    let refused = moved(&now, schema.url()).await.unwrap_err().to_string();
    assert!(refused.contains("already holds data"), "{refused}");
    let check = format!("sqlite://{}", dir.path().join("check.db").display());
    assert_eq!(moved(schema.url(), &check).await.unwrap(), before);
}

#[tokio::test]
async fn a_target_with_rows_or_an_unknown_schema_is_refused_before_anything_is_written() {
    let source = TestServer::start().await;
    source.user("ada").await;
    // A target that a server already started on holds its keys: refused.
    let used = TestServer::start().await;
    let refused = moved(&source.database_url, &used.database_url)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("already holds data"), "{refused}");
    let (accounts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
        .fetch_one(&sqlx::SqlitePool::connect(&used.database_url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(accounts, 0, "nothing was written");

    // A column this build does not know (a newer schema, a hand edit): refused, naming it.
    let dir = tempfile::tempdir().unwrap();
    let newer = format!("sqlite://{}", dir.path().join("newer.db").display());
    let pool = store::sqlite::SqliteStore::connect(&newer)
        .await
        .unwrap()
        .pool()
        .clone();
    sqlx::query("ALTER TABLE accounts ADD COLUMN nickname TEXT")
        .execute(&pool)
        .await
        .unwrap();
    let target = format!("sqlite://{}", dir.path().join("target.db").display());
    let refused = moved(&newer, &target).await.unwrap_err().to_string();
    assert!(refused.contains("nickname"), "{refused}");
    // A table this build does not know.
    let other = format!("sqlite://{}", dir.path().join("other.db").display());
    let pool = store::sqlite::SqliteStore::connect(&other)
        .await
        .unwrap()
        .pool()
        .clone();
    sqlx::query("CREATE TABLE notes (id INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    let refused = moved(&other, &target).await.unwrap_err().to_string();
    assert!(refused.contains("notes"), "{refused}");

    // The same database on both sides, and a source that does not exist.
    let refused = moved(&source.database_url, &source.database_url)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("same database"), "{refused}");
    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    assert!(moved(&missing, &target).await.is_err());
    assert!(!dir.path().join("missing.db").exists(), "the source is never created");
}
