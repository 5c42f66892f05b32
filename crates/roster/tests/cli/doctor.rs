//! `roster doctor` as an operator runs it after a fix of the phone rules: it lists the stored
//! numbers that read differently from what their owners typed, changes nothing until `--fix`,
//! and then stores the corrected cards.

use crate::support::{Server, User};
use serde_json::Value;
use std::process::Command;

fn doctor(database_url: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["doctor", "--database-url", database_url, "--default-region", "DE"])
        .args(extra)
        .env_remove("ROSTER_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "roster doctor {extra:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
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
