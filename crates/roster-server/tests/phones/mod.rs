//! Phone numbers read exactly as libphonenumber reads them: every row of the fixture that
//! `phones/generate.py` wrote with the reference (each region's example numbers of each type,
//! in every notation, under several default regions) must give the same E.164 number, or be
//! refused where the reference refuses it.

use crate::support::{TestServer, User};
use reqwest::StatusCode;
use roster_server::domain::phone::{E164, Region};
use serde_json::json;
use uuid::Uuid;

const FIXTURE: &str = include_str!("conformance.tsv");

/// One answer of the reference that Roster did not give.
struct Mismatch {
    region: String,
    input: String,
    expected: String,
    got: String,
}

#[test]
fn every_notation_reads_as_libphonenumber_reads_it() {
    let mut lines = FIXTURE.lines().filter(|line| !line.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("the fixture has a header").split('\t').collect();
    assert_eq!(header[..4], ["region", "type", "notation", "input"], "fixture columns");
    let defaults = &header[4..];
    assert_eq!(defaults.last(), Some(&"own"));

    let (mut checked, mut valid, mut regions) = (0usize, 0usize, std::collections::BTreeSet::new());
    let mut mismatches = Vec::new();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), header.len(), "malformed fixture row: {line:?}");
        let (number_region, input) = (cols[0], cols[3]);
        regions.insert(number_region);
        for (default, expected) in defaults.iter().zip(&cols[4..]) {
            let default = if *default == "own" { number_region } else { default };
            let region: Region = default.parse().unwrap_or_else(|e| panic!("{e}"));
            let got = match E164::parse(input, region) {
                Ok(number) => number.as_str().to_string(),
                Err(_) => "invalid".to_string(),
            };
            checked += 1;
            valid += usize::from(*expected != "invalid");
            if got != *expected {
                mismatches.push(Mismatch {
                    region: default.to_string(),
                    input: input.to_string(),
                    expected: expected.to_string(),
                    got,
                });
            }
        }
    }
    // The fixture covers the world, not a sample: every region libphonenumber knows (245 in
    // metadata 9.0.33), and both valid and refused readings.
    assert!(regions.len() >= 240, "only {} regions in the fixture", regions.len());
    assert!(checked >= 100_000 && valid >= 60_000, "{checked} checks, {valid} valid");
    let report: Vec<String> = mismatches
        .iter()
        .take(40)
        .map(|m| {
            format!(
                "  {:?} in {}: expected {}, got {}",
                m.input, m.region, m.expected, m.got
            )
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {checked} readings differ from libphonenumber:\n{}",
        mismatches.len(),
        report.join("\n")
    );
}

#[test]
fn the_numbers_of_the_bug_report_keep_their_digits() {
    // Typed in international notation on a server whose default region is another country:
    // libphonenumber keeps every digit after the country code.
    for (input, default, expected) in [
        ("+49 1512 3456789", "US", "+4915123456789"),
        ("+86 131 2345 6789", "US", "+8613123456789"),
        ("+880 1812-345678", "US", "+8801812345678"),
        ("+358 18 1234567", "US", "+358181234567"),
        ("+82 10 1234 5678", "US", "+821012345678"),
        ("+86 138 0013 8000", "US", "+8613800138000"),
        ("+55 11 91234 5678", "CN", "+5511912345678"),
        ("011 82 10 1234 5678", "US", "+821012345678"),
        ("0086 138 0013 8000", "DE", "+8613800138000"),
        ("010-1234-5678", "KR", "+821012345678"),
        ("030 1234567", "DE", "+49301234567"),
        ("(030) 123.45-67", "DE", "+49301234567"),
        ("０３０ １２３４５６７", "DE", "+49301234567"),
    ] {
        let region: Region = default.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            E164::parse(input, region).map(|n| n.as_str().to_string()),
            Ok(expected.to_string()),
            "{input} in {default}"
        );
    }
}

/// Example numbers of many regions (libphonenumber's own), as members type them.
const MEMBERS: [(&str, &str); 10] = [
    ("CN", "+86 131 2345 6789"),
    ("KR", "+82 10-2000-0000"),
    ("DE", "+49 1512 3456789"),
    ("US", "+1 201-555-0123"),
    ("BR", "+55 11 96123-4567"),
    ("AR", "+54 9 11 2345-6789"),
    ("GB", "+44 7400 123456"),
    ("JP", "+81 90-1234-5678"),
    ("IN", "+91 81234 56789"),
    ("SA", "+966 51 234 5678"),
];

/// Every fixture notation that libphonenumber reads as `number` in `DE` (the test server's
/// default region).
fn notations_read_in_de(number: &str) -> Vec<String> {
    let mut lines = FIXTURE.lines().filter(|line| !line.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let de = header.iter().position(|h| *h == "DE").expect("a DE column");
    lines
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|cols| cols[de] == number)
        .map(|cols| cols[3].to_string())
        .collect()
}

async fn search(viewer: &User, group: Uuid, text: &str) -> Vec<String> {
    let path = format!("/api/v1/groups/{group}/directory?limit=100&q={}", url_encode(text));
    let (status, page) = viewer.get(&path).await;
    assert_eq!(status, StatusCode::OK, "search {text:?}: {page}");
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["account_id"].as_str().map(str::to_string))
        .collect()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_finds_a_member_by_any_notation_of_their_number() {
    let server = TestServer::start().await;
    let owner = server.user("owner").await;
    owner.set_card("Owner", "030 1234567").await;
    let group = owner.create_group("World", "open_with_link").await;
    let code = owner.invite(group).await;
    let mut members = Vec::new();
    for (region, typed) in MEMBERS {
        let user = server.user(&format!("member-{}", region.to_lowercase())).await;
        let card = user.set_card(&format!("Member {region}"), typed).await;
        let number = card["card"]["phones"][0]["number"]
            .as_str()
            .expect("stored number")
            .to_string();
        assert_eq!(user.accept(&code).await, "active");
        members.push((region, typed, number, user.id.to_string()));
    }

    for (region, typed, number, id) in &members {
        // Whole numbers, in every notation the reference reads as this number: exactly this
        // member.
        let notations = notations_read_in_de(number);
        assert!(notations.len() >= 6, "{region}: only {notations:?}");
        for text in &notations {
            assert_eq!(
                &search(&owner, group, text).await,
                &vec![id.clone()],
                "{region}: {text:?}"
            );
        }
        // The start of the number, typed with `+`, `00` or full-width digits.
        let head: String = typed.chars().take(7).collect();
        let partial = [
            head.clone(),
            head.replacen('+', "00", 1),
            head.chars()
                .map(|c| c.to_digit(10).map_or(c, |d| char::from_u32(0xFF10 + d).unwrap_or(c)))
                .collect(),
        ];
        for text in &partial {
            assert!(search(&owner, group, text).await.contains(id), "{region}: {text:?}");
        }
    }
    // The German member by national notation, partial, with the trunk prefix.
    let (_, _, _, german) = members.iter().find(|m| m.0 == "DE").expect("DE member");
    assert!(search(&owner, group, "01512 345").await.contains(german));
    assert!(search(&owner, group, "(01512) 3456789").await == vec![german.clone()]);
    // Not a number of anyone here.
    assert!(search(&owner, group, "+49 30 999").await.is_empty());
}

#[tokio::test]
async fn numbers_stored_by_older_rules_are_read_again_and_every_member_told() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("phones.db").display());
    let start = |url: String| TestServer::start_with(move |config| config.database_url = url);

    let first = start(database_url.clone()).await;
    let anna = first.user("anna").await;
    anna.set_card("Anna", "+49 1512 3456789").await;
    let ben = first.user("ben").await;
    ben.set_card("Ben", "030 2222222").await;
    let group = anna.create_group("Class", "open_with_link").await;
    ben.accept(&anna.invite(group).await).await;
    let (_, cursor) = ben.changes(group, 0).await;
    first.stop().await;

    // What the released parser did to this number on a server whose region was US, and a
    // number that no rules read as valid any more; and the rules that read them forgotten.
    let pool = sqlx::SqlitePool::connect(&database_url).await.unwrap();
    let anna_id = anna.id.as_bytes().to_vec();
    let card: String = sqlx::query_scalar("SELECT card FROM cards WHERE account_id = ?")
        .bind(&anna_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&card).unwrap();
    assert_eq!(
        card["phones"][0]["typed"],
        json!({"text": "+49 1512 3456789", "region": "DE"})
    );
    card["phones"][0]["number"] = json!("+495123456789");
    card["phones"][0]["typed"]["region"] = json!("US");
    sqlx::query("UPDATE cards SET card = ? WHERE account_id = ?")
        .bind(card.to_string())
        .bind(&anna_id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM server_keys WHERE name = 'phone_rules'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let second = start(database_url.clone()).await;
    let mut ben = ben.clone();
    ben.base = second.base.clone();
    let (deltas, _) = ben.changes(group, cursor).await;
    let anna_change = deltas
        .iter()
        .find(|d| d["account_id"] == json!(anna.id.to_string()))
        .unwrap_or_else(|| panic!("no change for anna after {cursor}: {deltas:?}"));
    assert_eq!(
        anna_change["card"]["phones"][0]["number"], "+4915123456789",
        "{anna_change}"
    );
    let directory = ben.directory(group).await;
    assert_eq!(directory[&anna.id.to_string()]["phones"][0]["number"], "+4915123456789");
    // Found by the digits she typed, no longer by the wrong ones.
    assert_eq!(search(&ben, group, "01512 3456789").await, vec![anna.id.to_string()]);
    assert!(search(&ben, group, "+49 5123 456789").await.is_empty());

    // Done once: the rules that read the numbers are remembered.
    assert_eq!(second.roster.check_phones_after_upgrade().await.unwrap(), None);
    let report = second.roster.check_phones(false).await.unwrap();
    assert!(report.changed.is_empty() && report.invalid.is_empty(), "{report:?}");
    assert_eq!((report.cards, report.numbers), (2, 2));
}
