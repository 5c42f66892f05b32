//! "Who can see my card" (`GET /api/v1/me/audience`) against what every other member's
//! directory actually shows, after joins, a pending request, a leave and policy changes; and
//! the display-name change of `PATCH /api/v1/me`.

use crate::members::share;
use crate::support::{TestServer, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The share-policy fields a directory card shows.
fn fields_of(card: &Value) -> BTreeSet<String> {
    let present = |key: &str| match &card[key] {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        _ => true,
    };
    let mut fields = BTreeSet::new();
    for (field, keys) in [
        ("name", &["formatted_name", "name"][..]),
        ("phones", &["phones"]),
        ("emails", &["emails"]),
        ("organization", &["organization", "title"]),
        ("address", &["address"]),
        ("birthday", &["birthday"]),
        ("note", &["note"]),
        ("photo", &["photo"]),
    ] {
        if keys.iter().any(|k| present(k)) {
            fields.insert(field.to_string());
        }
    }
    fields
}

/// group → (fields, receivers) as the audience endpoint says for `user`.
async fn audience(user: &User) -> BTreeMap<Uuid, (BTreeSet<String>, BTreeSet<Uuid>)> {
    let (status, body) = user.get("/api/v1/me/audience").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let fields = g["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            let members = g["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["account_id"].as_str().unwrap().parse().unwrap())
                .collect();
            (g["group_id"].as_str().unwrap().parse().unwrap(), (fields, members))
        })
        .collect()
}

/// Every account's audience agrees with every other account's directory of every group.
async fn assert_agrees(users: &[&User], groups: &[Uuid]) {
    // Who sees whom, with which fields, from the directories.
    let mut seen: BTreeMap<(Uuid, Uuid), BTreeMap<Uuid, BTreeSet<String>>> = BTreeMap::new();
    for viewer in users {
        for group in groups {
            let (status, _) = viewer.get(&format!("/api/v1/groups/{group}/directory")).await;
            if status != StatusCode::OK {
                continue;
            }
            for (subject, card) in viewer.directory(*group).await {
                seen.entry((subject.parse().unwrap(), *group))
                    .or_default()
                    .insert(viewer.id, fields_of(&card));
            }
        }
    }
    for subject in users {
        let told = audience(subject).await;
        for group in groups {
            let viewers = seen.remove(&(subject.id, *group)).unwrap_or_default();
            let Some((fields, receivers)) = told.get(group) else {
                assert!(
                    viewers.is_empty(),
                    "{} is seen in {group} but not told so",
                    subject.login
                );
                continue;
            };
            let seen_by: BTreeSet<Uuid> = viewers.keys().copied().collect();
            assert_eq!(&seen_by, receivers, "{}'s receivers in {group}", subject.login);
            for (viewer, shown) in viewers {
                assert_eq!(&shown, fields, "what {viewer} sees of {} in {group}", subject.login);
            }
        }
    }
}

#[tokio::test]
async fn the_audience_matches_every_directory() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    let dora = server.user("dora").await;
    let (status, body) = anna
        .put(
            "/api/v1/me/card",
            json!({"formatted_name": "Anna", "phones": [{"number": "030 1234567"}],
                   "emails": [{"address": "anna@example.org"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ben.set_card("Ben", "030 2345678").await;
    dora.set_card("Dora", "030 4567890").await;
    // Cara has no card at all.

    let club = anna.create_group("Club", "invite_only").await;
    let choir = anna.create_group("Choir", "approval").await;
    let club_code = anna.invite(club).await;
    let choir_code = anna.invite(choir).await;
    for user in [&ben, &cara, &dora] {
        assert_eq!(user.accept(&club_code).await, "active");
    }
    assert_eq!(ben.accept(&choir_code).await, "pending");
    assert_eq!(dora.accept(&choir_code).await, "pending");
    let (status, body) = anna
        .post(&format!("/api/v1/groups/{choir}/members/{}/approve", ben.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let users = [&anna, &ben, &cara, &dora];
    let groups = [club, choir];
    assert_agrees(&users, &groups).await;

    // Anna's default policy: name and phones, not her e-mail; Cara receives though she
    // has no card; Dora's request is pending, so she receives nothing in the choir.
    let anna_sees = audience(&anna).await;
    let (fields, receivers) = &anna_sees[&club];
    assert_eq!(fields, &BTreeSet::from(["name".to_string(), "phones".to_string()]));
    assert_eq!(receivers, &BTreeSet::from([ben.id, cara.id, dora.id]));
    assert_eq!(anna_sees[&choir].1, BTreeSet::from([ben.id]));
    // Nothing of a missing card reaches anyone, and a pending request has no audience.
    let cara_sees = audience(&cara).await;
    assert!(cara_sees[&club].0.is_empty() && cara_sees[&club].1.is_empty());
    assert!(!audience(&dora).await.contains_key(&choir));

    // Policy changes, a leave.
    share(&anna, club, &["emails", "birthday"]).await;
    share(&ben, club, &[]).await;
    share(&ben, choir, &["phones"]).await;
    let (status, body) = dora.delete(&format!("/api/v1/groups/{club}/membership")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_agrees(&users, &groups).await;

    let anna_sees = audience(&anna).await;
    assert_eq!(anna_sees[&club].0, BTreeSet::from(["emails".to_string()]));
    assert_eq!(anna_sees[&club].1, BTreeSet::from([ben.id, cara.id]));
    assert!(audience(&ben).await[&club].1.is_empty());
    assert!(!audience(&dora).await.contains_key(&club));
}

#[tokio::test]
async fn receivers_who_hide_their_name_are_listed_neutrally() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna", "030 1234567").await;
    let club = anna.create_group("Club", "invite_only").await;
    ben.accept(&anna.invite(club).await).await;
    share(&ben, club, &["phones"]).await;
    let (_, body) = anna.get("/api/v1/me/audience").await;
    let name = body[0]["members"][0]["display_name"].as_str().unwrap();
    assert!(name.starts_with("Member ") && !name.contains("ben"), "{body}");
}

#[tokio::test]
async fn the_display_name_changes_and_is_checked() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let (status, body) = anna
        .send(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(json!({"display_name": "  Anna S.  "})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["display_name"], "Anna S.");
    let (_, me) = anna.get("/api/v1/me").await;
    assert_eq!(me["display_name"], "Anna S.");

    for bad in [json!(""), json!("a\u{7}b"), json!("x".repeat(101))] {
        let (status, body) = anna
            .send(reqwest::Method::PATCH, "/api/v1/me", Some(json!({"display_name": bad})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["errors"][0]["field"], "display_name", "{body}");
    }
    let (_, me) = anna.get("/api/v1/me").await;
    assert_eq!(me["display_name"], "Anna S.");

    // Fellow members see the new name in the member list.
    let club = anna.create_group("Club", "invite_only").await;
    let ben = server.user("ben").await;
    ben.accept(&anna.invite(club).await).await;
    let (_, members) = ben.get(&format!("/api/v1/groups/{club}/members")).await;
    assert!(members.to_string().contains("Anna S."), "{members}");

    // An app password cannot change the account.
    let (status, created) = anna.post("/api/v1/app-passwords", json!({"name": "phone"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let phone = User {
        token: created["password"].as_str().unwrap().to_string(),
        ..anna.clone()
    };
    let (status, _) = phone
        .send(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(json!({"display_name": "Mallory"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
