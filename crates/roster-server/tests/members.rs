//! What members learn about each other beyond the cards they are shown (issue 11, items 7
//! and 8): names in the members list, who left before one joined, paging that follows only
//! visible fields, and the per-account limits that keep one member from flooding the others.

use crate::carddav::{Dav, setup};
use crate::support::{TestServer, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) async fn share(user: &User, group: Uuid, fields: &[&str]) {
    let (status, body) = user
        .put(
            &format!("/api/v1/groups/{group}/share-policy"),
            json!({"fields": fields}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["account_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_members_list_names_only_those_who_share_their_name() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let group = anna.create_group("Club", "open_with_link").await;
    let code = anna.invite(group).await;
    let mut others = Vec::new();
    for login in ["ben", "cara", "dora", "emil"] {
        let user = server.user(login).await;
        user.accept(&code).await;
        others.push(user);
    }
    // Ben and Dora hide their names from the club.
    share(&others[0], group, &["phones"]).await;
    share(&others[2], group, &[]).await;

    let (status, list) = anna.get(&format!("/api/v1/groups/{group}/members")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let text = list.to_string();
    assert!(!text.contains("\"ben\"") && !text.contains("\"dora\""), "{list}");
    assert!(text.contains("\"cara\"") && text.contains("\"emil\""), "{list}");
    for member in list.as_array().unwrap() {
        if [others[0].id, others[2].id].contains(&member["account_id"].as_str().unwrap().parse().unwrap()) {
            assert!(
                member["display_name"].as_str().unwrap().starts_with("Member "),
                "{member}"
            );
        }
    }
    // The order follows account ids, not names a member may hide.
    let listed = ids(&list);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    // Everyone still sees their own name.
    let (_, list) = others[0].get(&format!("/api/v1/groups/{group}/members")).await;
    assert!(list.to_string().contains("\"ben\""), "{list}");
    server.stop().await;
}

#[tokio::test]
async fn a_new_member_does_not_learn_who_left_before_they_joined() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    anna.set_card("Anna", "030 1111111").await;
    let group = anna.create_group("Club", "open_with_link").await;
    let code = anna.invite(group).await;
    let ben = server.user("ben").await;
    let dora = server.user("dora").await;
    for user in [&ben, &dora] {
        user.set_card("Someone", "030 2222222").await;
        user.accept(&code).await;
    }
    // Ben leaves before Cara joins; Dora leaves after.
    let membership = format!("/api/v1/groups/{group}/membership");
    assert_eq!(ben.delete(&membership).await.0, StatusCode::NO_CONTENT);
    let cara = server.user("cara").await;
    cara.accept(&code).await;
    let (before, cursor) = cara.changes(group, 0).await;
    assert_eq!(dora.delete(&membership).await.0, StatusCode::NO_CONTENT);
    let text = serde_json::to_string(&before).unwrap();
    assert!(!text.contains(&ben.id.to_string()), "{text}");
    assert!(text.contains(&dora.id.to_string()), "{text}");
    // Dora's departure happened while Cara was a member: she must hear of it, however she syncs.
    for since in [0, cursor] {
        let (changes, _) = cara.changes(group, since).await;
        let text = serde_json::to_string(&changes).unwrap();
        assert!(!text.contains(&ben.id.to_string()), "since {since}: {text}");
        assert!(
            changes
                .iter()
                .any(|c| c["op"] == "remove" && c["account_id"] == dora.id.to_string()),
            "since {since}: {text}"
        );
    }
    // Anna, there all along, hears of both.
    let (changes, _) = anna.changes(group, 0).await;
    let text = serde_json::to_string(&changes).unwrap();
    assert!(
        text.contains(&ben.id.to_string()) && text.contains(&dora.id.to_string()),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn directory_paging_never_hints_at_hidden_fields() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let group = anna.create_group("Club", "open_with_link").await;
    let code = anna.invite(group).await;
    let mut users = Vec::new();
    for i in 0..5 {
        let user = server.user(&format!("user{i}")).await;
        user.accept(&code).await;
        users.push(user);
    }
    users.sort_by_key(|u| u.id);
    // The first by id shows a name with "Berta"; the others have "Berta" only in a name they
    // hide from the group.
    users[0].set_card("Berta Visible", "030 1000000").await;
    for user in &users[1..] {
        user.set_card("Berta Hidden", "030 2000000").await;
        share(user, group, &["phones"]).await;
    }
    let (status, page) = anna
        .get(&format!("/api/v1/groups/{group}/directory?q=berta&limit=1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    assert!(
        page["next_cursor"].is_null(),
        "a next page hints at hidden names: {page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn card_writes_member_lists_multigets_and_streams_are_limited_per_account() {
    let server = TestServer::start_with(|c| {
        c.rates.card_writes_per_minute = 3;
        c.rates.reads_per_minute = 3;
        c.rates.multiget_cards_per_minute = 4;
        c.rates.stream_connects_per_minute = 3;
        c.rates.streams_per_account = 2;
    })
    .await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    for _ in 0..3 {
        anna.set_card("Anna", "030 1111111").await;
    }
    let card = json!({"formatted_name": "Anna", "phones": [{"number": "030 1111111"}]});
    let (status, body) = anna.put("/api/v1/me/card", card.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Per account: Ben is not held back by Anna.
    let (status, _) = ben.put("/api/v1/me/card", card).await;
    assert_eq!(status, StatusCode::OK);

    let group = ben.create_group("Club", "open_with_link").await;
    let members = format!("/api/v1/groups/{group}/members");
    for _ in 0..3 {
        assert_eq!(ben.get(&members).await.0, StatusCode::OK);
    }
    assert_eq!(ben.get(&members).await.0, StatusCode::TOO_MANY_REQUESTS);

    let dav = Dav::for_user(&anna).await;
    let hrefs: String = (0..5)
        .map(|_| format!("<D:href>{}</D:href>", dav.card("contacts", Uuid::new_v4())))
        .collect();
    let multiget = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>{hrefs}</C:addressbook-multiget>"#
    );
    let answer = dav.report(&dav.book("contacts"), &multiget).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{}", answer.body);

    // Two open streams at most; the third is refused before the upgrade.
    let first = crate::stream::open(&anna, "", true).await.unwrap();
    let second = crate::stream::open(&anna, "", true).await.unwrap();
    let refused = crate::stream::open(&anna, "", true).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("a third stream opened: {:?}", other.map(|_| ())),
    }
    drop((first, second));
    // (Re)connections count too: three per minute here, all used.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    match crate::stream::open(&anna, "", true).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("a fourth connection in a minute opened: {:?}", other.map(|_| ())),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_refused_edit_of_a_read_only_card_bothers_nobody_else() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let other_device = Dav::for_user(&s.anna).await;
    let (_, token) = dav.sync("contacts", "").await;
    let (_, other_token) = other_device.sync("contacts", "").await;
    let (_, cara_cursor) = s.cara.changes(s.choir, 0).await;
    let (_, group) = s.anna.get(&format!("/api/v1/groups/{}", s.choir)).await;
    let version = group["version"].clone();

    let href = dav.card("contacts", s.ben.id);
    let edited = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Not Ben\r\nTEL:+49301234567\r\nEND:VCARD\r\n";
    let answer = dav.request("PUT", &href, &[], edited).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("<D:need-privileges>"), "{}", answer.body);

    // Nothing was appended to the group's log: other members have nothing to sync.
    let (_, group) = s.anna.get(&format!("/api/v1/groups/{}", s.choir)).await;
    assert_eq!(group["version"], version, "{group}");
    let (changes, _) = s.cara.changes(s.choir, cara_cursor).await;
    assert!(changes.is_empty(), "{changes:?}");
    let (nothing, _) = other_device.sync("contacts", &other_token).await;
    assert!(nothing.responses().is_empty(), "{}", nothing.body);
    // The device that tried the edit gets Ben's card reported again, once.
    let (again, _) = dav.sync("contacts", &token).await;
    assert_eq!(again.responses().len(), 1, "{}", again.body);
    assert!(again.response_for(&href).is_some(), "{}", again.body);
    let (once, _) = dav.sync("contacts", &token).await;
    assert!(once.responses().is_empty(), "{}", once.body);
}
