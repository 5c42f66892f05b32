//! The bulk seeding path of benchmarks and the load tool leaves what the use cases would: a
//! server on a seeded database lets a seeded account log in with the one password, pages its
//! group's whole directory, searches it by name and phone prefix, and appends the next change
//! at the next version, on SQLite and on PostgreSQL.

use crate::support::TestServer;
use reqwest::StatusCode;
use roster_proto::api::{CardInput, PhoneInput};
use roster_server::app::settings;
use roster_server::config::Config;
use roster_server::domain::card::Card;
use roster_server::domain::share_policy::ShareFields;
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::{Database, Migrate, bulk};
use serde_json::json;

const ACCOUNTS: usize = 25_000;
const MEMBERS: usize = 12_000;

fn card(i: usize) -> Card {
    let input = CardInput {
        formatted_name: format!("Mitglied {i}"),
        phones: vec![PhoneInput {
            number: format!("+49 30 {:07}", 1_000_000 + i),
            kind: None,
        }],
        ..CardInput::default()
    };
    let config = Config::for_tests(std::path::Path::new("unused"));
    Card::parse(&input, &settings(&config, String::new()).card_rules).unwrap()
}

async fn a_seeded_directory_serves_as_if_its_members_had_joined(url: &str) {
    let database = Database::open(url, &Default::default(), Migrate::Yes).await.unwrap();
    let hash = bulk::password_hash("seeded-password").await.unwrap();
    let seeded = bulk::seed(&database, ACCOUNTS, MEMBERS, &hash, card, ShareFields::default_policy())
        .await
        .unwrap();
    assert_eq!(seeded.accounts.len(), ACCOUNTS);
    assert_eq!(seeded.version, MEMBERS as i64);
    let server = TestServer::start_with(|config| config.database_url = url.to_owned()).await;
    let member = server.anonymous().login_as("member7", "seeded-password", "bench").await;
    assert_eq!(member.id, seeded.accounts[7].0);
    let group = seeded.group.0;

    // The whole directory, a page of 1000 at a time: every other member, once each.
    let mut seen = std::collections::BTreeSet::new();
    let mut path = format!("/api/v1/groups/{group}/directory?limit=1000");
    loop {
        let (status, page) = member.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for entry in page["entries"].as_array().unwrap() {
            assert!(seen.insert(entry["account_id"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("/api/v1/groups/{group}/directory?limit=1000&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), MEMBERS - 1);
    assert!(!seen.contains(&member.id.to_string()));
    assert!(!seen.contains(&seeded.accounts[MEMBERS].0.to_string()), "not a member");

    // Search by name and by phone prefix reads the seeded search columns.
    let (_, found) = member
        .get(&format!("/api/v1/groups/{group}/directory?q=mitglied%2011999"))
        .await;
    assert_eq!(found["entries"].as_array().unwrap().len(), 1, "{found}");
    let (_, found) = member
        .get(&format!("/api/v1/groups/{group}/directory?q=%2B4930101199"))
        .await;
    assert_eq!(found["entries"].as_array().unwrap().len(), 10, "{found}");

    // The log: everything since 0 is every member's join, and a card change is the next version.
    let (changes, cursor) = member.changes(group, MEMBERS as i64 - 5).await;
    assert_eq!((changes.len(), cursor), (5, MEMBERS as i64));
    let (status, body) = member
        .put(
            "/api/v1/me/card",
            json!({"formatted_name": "Mitglied Sieben", "phones": [{"number": "+49 30 7777777"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = server.anonymous().login_as("member8", "seeded-password", "bench").await;
    let (changes, cursor) = other.changes(group, MEMBERS as i64).await;
    assert_eq!((changes.len(), cursor), (1, MEMBERS as i64 + 1));
    assert!(changes[0].to_string().contains("Mitglied Sieben"), "{changes:?}");
    // Seeded accounts outside the group log in too, and see no group.
    let outsider = server.anonymous().login_as("member24999", "seeded-password", "x").await;
    let (_, groups) = outsider.get("/api/v1/groups").await;
    assert_eq!(groups.as_array().map_or(0, Vec::len), 0, "{groups}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_seeded_sqlite_directory_serves_as_if_its_members_had_joined() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("seeded.db").display());
    a_seeded_directory_serves_as_if_its_members_had_joined(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_seeded_postgres_directory_serves_as_if_its_members_had_joined() {
    let Some(schema) = TestSchema::from_env("bulk").await else {
        return;
    };
    a_seeded_directory_serves_as_if_its_members_had_joined(schema.url()).await;
}
