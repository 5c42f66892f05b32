//! Backups and restores, as an operator runs them: a backup taken while writes go on is a
//! consistent snapshot holding every write acknowledged before it began; a restore into an
//! empty database brings the installation back, and every terminal that had gone further —
//! JSON cursor, stream, CardDAV token — is told to resync instead of silently missing what the
//! backup does not have. Scheduled backups are taken once per period, however many servers
//! share the database, and pruned; the server backs up a SQLite database before migrating it.

use crate::carddav::{Dav, setup};
use crate::stream::Terminal;
use crate::support::TestServer;
use reqwest::StatusCode;
use roster_server::store::backup::{self, RESTORE_JUMP, Schedule};
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::{Database, Migrate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use uuid::Uuid;

async fn open(url: &str) -> Database {
    Database::open(url, &Default::default(), Migrate::No).await.unwrap()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Every group's log in a SQLite file is whole: versions floor+1..=version, each once.
async fn logs_are_gap_free(path: &Path) {
    assert!(
        !PathBuf::from(format!("{}-wal", path.display())).exists(),
        "a backup is one file"
    );
    let pool = sqlx::SqlitePool::connect(&format!("{}?mode=ro", sqlite_url(path)))
        .await
        .unwrap();
    let groups: Vec<(Uuid, i64, i64)> = sqlx::query_as("SELECT id, version, floor FROM groups")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(!groups.is_empty());
    for (group, version, floor) in groups {
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM changes WHERE group_id = ? AND version > ? ORDER BY version")
                .bind(group)
                .bind(floor)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(versions, ((floor + 1)..=version).collect::<Vec<_>>(), "group {group}");
    }
    pool.close().await;
}

fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|dir| dir.map(|e| e.unwrap().file_name().into_string().unwrap()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

async fn ben_phone(user: &crate::support::User, group: Uuid, ben: Uuid) -> String {
    let directory = user.directory(group).await;
    directory[&ben.to_string()]["phones"][0]["number"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_and_every_terminal_ahead_of_it_resyncs() {
    let s = setup().await;
    let database = open(&s.server.database_url).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nightly.db");
    // Anna's phone was set up before the backup (a device paired later must pair again).
    let dav = Dav::for_user(&s.anna).await;

    // Ben writes his card again and again while the backup is taken.
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let writer = {
        let ben = s.ben.clone();
        let acknowledged = acknowledged.clone();
        tokio::spawn(async move {
            for i in 1..=40usize {
                ben.set_card("Ben Meyer", &format!("030 {:07}", 5_000_000 + i)).await;
                acknowledged.store(i, Ordering::SeqCst);
            }
        })
    };
    while acknowledged.load(Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before_backup = acknowledged.load(Ordering::SeqCst);
    let made = backup::backup(&database, &s.server.database_url, &file).await.unwrap();
    writer.await.unwrap();
    assert_eq!(made.path, file);
    assert_eq!((made.accounts, made.groups), (3, 2));
    assert!(made.bytes > 0 && std::fs::metadata(&file).unwrap().len() == made.bytes);
    assert!(
        !names(dir.path()).iter().any(|n| n.ends_with(".partial")),
        "{:?}",
        names(dir.path())
    );
    logs_are_gap_free(&file).await;
    // Never over an existing file, not even its own.
    let refused = backup::backup(&database, &s.server.database_url, &file)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("exists"), "{refused}");

    // After the backup the installation goes on: Cara changes; Anna's terminals follow.
    s.cara.set_card("Cara Vogel", "0151 44444444").await;
    let (_, cursor_after) = s.anna.changes(s.choir, 0).await;
    let (_, token_after) = dav.sync("contacts", "").await;
    let mut terminal = Terminal::connect(&s.anna).await;
    terminal.until(s.choir, Some(cursor_after)).await;
    terminal.disconnect().await;
    let app_password = dav.password.clone();
    s.server.stop().await;

    // The data folder is lost; the backup comes back into a new one.
    let data = tempfile::tempdir().unwrap();
    let target = data.path().join("roster.db");
    let restored = backup::restore(&file, &sqlite_url(&target)).await.unwrap();
    assert_eq!((restored.accounts, restored.groups), (3, 2));
    assert_eq!(names(data.path()), ["roster.db"], "no work files left behind");
    let server = TestServer::start_with(|config| config.database_url = sqlite_url(&target)).await;
    let anna = s.anna.clone_at(&server.base);
    let ben = s.ben.clone_at(&server.base);

    // The backup holds every write acknowledged before it began, and Cara's later one is gone.
    let phone = ben_phone(&anna, s.choir, s.ben.id).await;
    let written: usize = phone[phone.len() - 7..].parse::<usize>().unwrap() - 5_000_000;
    assert!(
        written >= before_backup,
        "{phone}: {before_backup} writes were acknowledged first"
    );
    let cara = &anna.directory(s.choir).await[&s.cara.id.to_string()];
    assert_eq!(cara["phones"][0]["number"], "+4915133333333", "{cara}");

    // JSON: the cursor from after the backup (ahead of the restored log) gets a resync, and
    // so does one from before; the new cursor then goes on incrementally.
    for since in [cursor_after, 1] {
        let (status, page) = anna
            .get(&format!("/api/v1/groups/{}/changes?since={since}", s.choir))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["resync"], true, "since {since}: {page}");
        assert!(page["cursor"].as_i64().unwrap() > RESTORE_JUMP, "{page}");
    }
    let (_, fresh) = anna.changes(s.choir, 0).await;
    ben.set_card("Ben Meyer", "030 7777777").await;
    let (changes, next) = anna.changes(s.choir, fresh).await;
    assert_eq!(next, fresh + 1);
    assert_eq!(changes.len(), 1, "{changes:?}");

    // CardDAV: the token from after the backup is refused with DAV:valid-sync-token, so the
    // phone starts again; its new token is then answered incrementally.
    let dav = Dav::with_password(&anna, &app_password);
    let body = format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token_after}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let answer = dav.report(&dav.book("contacts"), &body).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains("<D:valid-sync-token/>"), "{}", answer.body);
    let (full, token) = dav.sync("contacts", "").await;
    assert_eq!(full.responses().len(), 2, "{}", full.body);
    ben.set_card("Ben Meyer", "030 8888888").await;
    let (one, _) = dav.sync("contacts", &token).await;
    assert_eq!(one.responses().len(), 1, "{}", one.body);

    // The stream: the terminal comes back with its cursors from after the backup, is told to
    // resync, and ends up holding exactly the restored directory.
    terminal.user = anna.clone();
    terminal.reconnect().await;
    let (_, now) = anna.changes(s.choir, 0).await;
    terminal.until(s.choir, Some(now)).await;
    assert!(terminal.replica.resyncs >= 1, "{:?}", terminal.frames);
    let expected: std::collections::BTreeMap<Uuid, roster_proto::api::CardView> = anna
        .directory(s.choir)
        .await
        .into_iter()
        .map(|(id, card)| (id.parse().unwrap(), serde_json::from_value(card).unwrap()))
        .collect();
    assert_eq!(terminal.replica.cards[&s.choir], expected);
    server.stop().await;

    // The same restore again finds the folder in use and changes nothing.
    let refused = backup::restore(&file, &sqlite_url(&target)).await.unwrap_err();
    assert!(format!("{refused:#}").contains("exists"), "{refused:#}");
}

#[tokio::test]
async fn a_restore_refuses_what_is_not_a_whole_roster_backup() {
    let server = TestServer::start().await;
    server.user("ada").await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    backup::backup(&open(&server.database_url).await, &server.database_url, &good)
        .await
        .unwrap();
    let target = |name: &str| sqlite_url(&dir.path().join(name).join("roster.db"));

    let text = dir.path().join("notes.db");
    std::fs::write(&text, "not a database at all\n").unwrap();
    let cut = dir.path().join("cut.db");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let other = dir.path().join("other.db");
    let pool = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", sqlite_url(&other)))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE photos (id INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let missing = dir.path().join("missing.db");
    for (bad, name) in [(&text, "text"), (&cut, "cut"), (&other, "other"), (&missing, "missing")] {
        let refused = backup::restore(bad, &target(name)).await.unwrap_err();
        assert!(
            format!("{refused:#}").contains("not a usable Roster backup"),
            "{name}: {refused:#}"
        );
        assert!(
            !dir.path().join(name).join("roster.db").exists(),
            "{name}: nothing written"
        );
    }
    // A backup written by a newer Roster (a migration this build does not know).
    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    let pool = sqlx::SqlitePool::connect(&sqlite_url(&newer)).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let refused = backup::restore(&newer, &target("newer")).await.unwrap_err();
    assert!(format!("{refused:#}").contains("newer Roster"), "{refused:#}");
    // The good one restores.
    backup::restore(&good, &target("good")).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_are_taken_once_per_period_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("backups");
    std::fs::create_dir_all(&folder).unwrap();
    for old in [
        "roster-20200101T000000Z.db",
        "roster-20200102T000000Z.db",
        "roster-20200103T000000Z.db",
    ] {
        std::fs::write(folder.join(old), b"old").unwrap();
    }
    std::fs::write(folder.join("keep-me.txt"), b"mine").unwrap();
    let schedule = Schedule {
        every: Duration::from_secs(3600),
        keep: 2,
        folder: folder.clone(),
    };
    let mut server = TestServer::start().await;
    server.user("ada").await;
    {
        let schedule = schedule.clone();
        server.restart_with(move |config| config.backup = Some(schedule)).await;
    }
    // The first is due at once: the server takes it, then deletes all but the newest two.
    let mut waited = 0;
    let taken = loop {
        let taken: Vec<String> = names(&folder)
            .into_iter()
            .filter(|n| n.starts_with("roster-") && !n.starts_with("roster-2020"))
            .collect();
        if !taken.is_empty() && !names(&folder).iter().any(|n| n.ends_with(".partial")) {
            break taken;
        }
        waited += 1;
        assert!(waited < 200, "no scheduled backup within 10 s: {:?}", names(&folder));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        names(&folder),
        vec![
            "keep-me.txt".to_string(),
            "roster-20200103T000000Z.db".to_string(),
            taken[0].clone()
        ]
    );
    // Within the period nobody takes another: not this server after a restart, not a second
    // process asking the database.
    server
        .restart_with(move |config| config.backup = Some(schedule.clone()))
        .await;
    let database = open(&server.database_url).await;
    let again = backup::scheduled(
        &database,
        &server.database_url,
        &Schedule {
            every: Duration::from_secs(3600),
            keep: 2,
            folder: folder.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(again, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(names(&folder).len(), 3, "{:?}", names(&folder));
    // The scheduled backup restores like any other.
    let restored = backup::restore(&folder.join(&taken[0]), &sqlite_url(&dir.path().join("r/roster.db")))
        .await
        .unwrap();
    assert_eq!(restored.accounts, 1);
    server.stop().await;
}

#[tokio::test]
async fn the_server_backs_up_a_sqlite_database_before_migrating_it() {
    let mut server = TestServer::start().await;
    let ada = server.user("ada").await;
    ada.set_card("Ada", "030 1234567").await;
    let folder = server.dir.path().join("backups");
    assert!(names(&folder).is_empty(), "nothing to back up for a new database");
    // Make the database look as an older Roster left it: its newest migration undone.
    let pool = sqlx::SqlitePool::connect(&server.database_url).await.unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        newest, 13,
        "this test undoes migration 13 (refetches); update it with the next one"
    );
    sqlx::query("DROP TABLE refetches").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 13")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    server.restart_with(|_| {}).await;
    let made = names(&folder);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with("before-migration-0012-"), "{made:?}");
    let before = sqlx::SqlitePool::connect(&sqlite_url(&folder.join(&made[0])))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&before)
        .await
        .unwrap();
    assert!(
        !tables.contains(&"refetches".to_string()),
        "the copy is as it was: {tables:?}"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(&before)
        .await
        .unwrap();
    assert_eq!(accounts, 1);
    before.close().await;
    // The server migrated and serves; a start with nothing to migrate takes no backup.
    assert_eq!(
        ada.clone_at(&server.base).get("/api/v1/me/card").await.0,
        StatusCode::OK
    );
    server.restart_with(|_| {}).await;
    assert_eq!(names(&folder), made);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_installation_backs_up_to_a_file_and_restores_into_an_empty_database() {
    let Some(source) = TestSchema::from_env("backup_from").await else {
        return;
    };
    let Some(target) = TestSchema::from_env("backup_to").await else {
        return;
    };
    let s = crate::carddav::setup_with(|config| config.database_url = source.url().to_owned()).await;
    let (_, cursor) = s.anna.changes(s.choir, 0).await;
    let before = s.anna.directory(s.choir).await;
    let database = open(source.url()).await;
    // Two instances asking for the scheduled backup at once: one takes it.
    let dir = tempfile::tempdir().unwrap();
    let schedule = Schedule {
        every: Duration::from_secs(3600),
        keep: 3,
        folder: dir.path().to_path_buf(),
    };
    let (a, b) = tokio::join!(
        backup::scheduled(&database, source.url(), &schedule),
        backup::scheduled(&database, source.url(), &schedule)
    );
    let made: Vec<PathBuf> = [a.unwrap(), b.unwrap()].into_iter().flatten().map(|m| m.path).collect();
    assert_eq!(made.len(), 1, "{made:?}");
    logs_are_gap_free(&made[0]).await;

    let restored = backup::restore(&made[0], target.url()).await.unwrap();
    assert_eq!((restored.accounts, restored.groups), (3, 2));
    // Not twice into the same database.
    let refused = backup::restore(&made[0], target.url()).await.unwrap_err();
    assert!(format!("{refused:#}").contains("already holds data"), "{refused:#}");
    let server = TestServer::start_with(|config| config.database_url = target.url().to_owned()).await;
    let anna = s.anna.clone_at(&server.base);
    assert_eq!(anna.directory(s.choir).await, before);
    let (status, page) = anna
        .get(&format!("/api/v1/groups/{}/changes?since={cursor}", s.choir))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["resync"], json!(true), "{page}");
    assert_eq!(page["cursor"], Value::from(cursor + RESTORE_JUMP), "{page}");
    server.stop().await;
    s.server.stop().await;
}
