//! The whole story of a three-person group, over HTTP.

use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn three_people_share_their_numbers_and_follow_every_change() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    let anna_phone = anna.another_terminal("anna's phone").await;
    let ben_phone = ben.another_terminal("ben's phone").await;
    let _cara_phone = cara.another_terminal("cara's phone").await;

    // Each account has two terminals, the current one marked.
    let (status, terminals) = anna.get("/api/v1/terminals").await;
    assert_eq!(status, StatusCode::OK);
    let terminals = terminals.as_array().unwrap();
    assert_eq!(terminals.len(), 2);
    assert_eq!(terminals.iter().filter(|t| t["current"] == true).count(), 1);

    anna.set_card("Anna Schmidt", "030 1111111").await;
    ben.set_card("Ben Meyer", "+49 30 2222222").await;
    cara.set_card("Cara Vogel", "0151 33333333").await;

    // Anna runs an approval group: invites, requests, approvals.
    let group = anna.create_group("Class 3b parents", "approval").await;
    let code = anna.invite(group).await;
    assert_eq!(ben.accept(&code).await, "pending");
    assert_eq!(cara.accept(&code).await, "pending");
    // Pending members see nothing yet.
    let (status, body) = ben.get(&format!("/api/v1/groups/{group}/directory")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("+4930"), "{body}");
    let (_, members) = anna.get(&format!("/api/v1/groups/{group}/members")).await;
    assert_eq!(
        members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] == "pending")
            .count(),
        2
    );
    for user in [&ben, &cara] {
        let (status, body) = anna
            .post(
                &format!("/api/v1/groups/{group}/members/{}/approve", user.id),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    // Every terminal of every member sees the two others, never itself.
    for (viewer, others) in [
        (&anna, [&ben, &cara]),
        (&anna_phone, [&ben, &cara]),
        (&ben_phone, [&anna, &cara]),
    ] {
        let directory = viewer.directory(group).await;
        assert_eq!(directory.len(), 2);
        assert!(!directory.contains_key(&viewer.id.to_string()));
        for other in others {
            assert!(directory.contains_key(&other.id.to_string()));
        }
    }
    let anna_view = anna.directory(group).await;
    assert_eq!(anna_view[&ben.id.to_string()]["phones"][0]["number"], "+49302222222");
    assert_eq!(anna_view[&cara.id.to_string()]["phones"][0]["number"], "+4915133333333");
    assert_eq!(anna_view[&cara.id.to_string()]["formatted_name"], "Cara Vogel");

    // Incremental sync from zero yields the same directory.
    let (all, cursor) = anna.changes(group, 0).await;
    assert_eq!(all.iter().filter(|c| c["op"] == "upsert").count(), 2);

    // Ben changes his number: Anna's next incremental read has exactly that.
    ben.set_card("Ben Meyer", "030 4444444").await;
    let (delta, cursor) = anna.changes(group, cursor).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!(delta[0]["op"], "upsert");
    assert_eq!(delta[0]["account_id"], ben.id.to_string());
    assert_eq!(delta[0]["card"]["phones"][0]["number"], "+49304444444");
    // Nothing new: an empty answer at the same cursor.
    let (none, same) = anna.changes(group, cursor).await;
    assert!(none.is_empty());
    assert_eq!(same, cursor);

    // Cara hides her name from the group: an upsert without it.
    let (status, _) = cara
        .put(
            &format!("/api/v1/groups/{group}/share-policy"),
            json!({"fields": ["phones"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (delta, cursor) = anna.changes(group, cursor).await;
    assert_eq!(delta.len(), 1);
    assert_eq!(delta[0]["op"], "upsert");
    assert!(delta[0]["card"].get("formatted_name").is_none(), "{delta:?}");
    assert_eq!(delta[0]["card"]["phones"][0]["number"], "+4915133333333");

    // Ben leaves: a removal for the others; Ben no longer reads the group.
    let ben_cursor = ben.changes(group, 0).await.1;
    let (status, _) = ben.delete(&format!("/api/v1/groups/{group}/membership")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (delta, _) = anna.changes(group, cursor).await;
    assert_eq!(delta, vec![json!({"op": "remove", "account_id": ben.id.to_string()})]);
    let (delta, _) = cara.changes(group, ben_cursor).await;
    assert!(delta.contains(&json!({"op": "remove", "account_id": ben.id.to_string()})));
    assert!(!anna.directory(group).await.contains_key(&ben.id.to_string()));
    let (status, _) = ben.get(&format!("/api/v1/groups/{group}/changes?since=0")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Anna revokes her phone terminal; its token stops working at once; then she logs out.
    let phone_id = anna_phone.get("/api/v1/me").await.0;
    assert_eq!(phone_id, StatusCode::OK);
    let (_, terminals) = anna.get("/api/v1/terminals").await;
    let phone = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "anna's phone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        anna.delete(&format!("/api/v1/terminals/{phone}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(anna_phone.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(anna.delete("/api/v1/sessions/current").await.0, StatusCode::NO_CONTENT);
    assert_eq!(anna.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn invites_expire_run_out_and_respect_the_member_limit() {
    let server = TestServer::start().await;
    let owner = server.user("owner").await;
    let group = owner.create_group("Team", "invite_only").await;
    let (status, invite) = owner
        .post(&format!("/api/v1/groups/{group}/invites"), json!({"max_uses": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        invite["url"]
            .as_str()
            .unwrap()
            .ends_with(invite["code"].as_str().unwrap())
    );
    let code = invite["code"].as_str().unwrap();
    let first = server.user("first").await;
    let second = server.user("second").await;
    // A whole link works as well as the bare code.
    let link = invite["url"].as_str().unwrap().replace('/', "%2F");
    assert_eq!(first.accept(&link).await, "active");
    let (status, body) = second.post(&format!("/api/v1/invites/{code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A used-up invite has its own problem type, so that clients need not read the detail.
    assert_eq!(body["type"], "urn:x-roster:problem:invite-unusable", "{body}");
    let (status, _) = first.post(&format!("/api/v1/invites/{code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // An ordinary member may not invite in an invite-only group.
    let (status, _) = first.post(&format!("/api/v1/groups/{group}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Limit 2 reached: a new invite cannot add a third member.
    let (status, _) = owner
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/groups/{group}"),
            Some(json!({"member_limit": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, invite) = owner.post(&format!("/api/v1/groups/{group}/invites"), json!({})).await;
    let code = invite["code"].as_str().unwrap();
    let (status, body) = second.post(&format!("/api/v1/invites/{code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A full group is another conflict, not an unusable invite.
    assert_eq!(body["type"], "about:blank", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("limit"));

    // A revoked invite is gone.
    let (_, invites) = owner.get(&format!("/api/v1/groups/{group}/invites")).await;
    assert_eq!(invites.as_array().unwrap().len(), 2);
    assert!(
        invites.as_array().unwrap().iter().all(|i| i.get("code").is_none()),
        "codes are shown once"
    );
    let id = invite["id"].as_str().unwrap();
    assert_eq!(
        owner.delete(&format!("/api/v1/groups/{group}/invites/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = second.post(&format!("/api/v1/invites/{code}/accept"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn roles_ownership_removal_and_deletion() {
    let server = TestServer::start().await;
    let owner = server.user("owner").await;
    let admin = server.user("admin").await;
    let member = server.user("member").await;
    member.set_card("Member", "030 5555555").await;
    let group = owner.create_group("Club", "open_with_link").await;
    // In open-with-link groups any member may invite.
    let code = owner.invite(group).await;
    admin.accept(&code).await;
    let code = admin.invite(group).await;
    member.accept(&code).await;

    let promote = json!({"role": "admin"});
    let path = format!("/api/v1/groups/{group}/members/{}", admin.id);
    assert_eq!(
        admin.send(reqwest::Method::PATCH, &path, Some(promote.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner.send(reqwest::Method::PATCH, &path, Some(promote)).await.0,
        StatusCode::NO_CONTENT
    );

    // The owner cannot leave; an admin cannot remove the owner.
    assert_eq!(
        owner.delete(&format!("/api/v1/groups/{group}/membership")).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin
            .delete(&format!("/api/v1/groups/{group}/members/{}", owner.id))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // The admin removes the member, whose card disappears from the others' directories.
    assert!(owner.directory(group).await.contains_key(&member.id.to_string()));
    assert_eq!(
        admin
            .delete(&format!("/api/v1/groups/{group}/members/{}", member.id))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert!(!owner.directory(group).await.contains_key(&member.id.to_string()));
    assert_eq!(
        member.get(&format!("/api/v1/groups/{group}")).await.0,
        StatusCode::NOT_FOUND
    );

    // Ownership moves; the former owner becomes an admin and may now leave.
    let (status, _) = owner
        .post(
            &format!("/api/v1/groups/{group}/transfer"),
            json!({"account_id": admin.id}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, view) = admin.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(view["role"], "owner");
    assert_eq!(view["owner_id"], admin.id.to_string());
    assert_eq!(
        owner.delete(&format!("/api/v1/groups/{group}/membership")).await.0,
        StatusCode::NO_CONTENT
    );

    // Deleting an account that owns a group with members is refused; alone, it works.
    let (status, _) = owner.get("/api/v1/groups").await;
    assert_eq!(status, StatusCode::OK);
    let wrong = json!({"password": "wrong password"});
    assert_eq!(
        admin.send(reqwest::Method::DELETE, "/api/v1/me", Some(wrong)).await.0,
        StatusCode::FORBIDDEN
    );
    let right = json!({"password": admin.password});
    assert_eq!(
        admin.send(reqwest::Method::DELETE, "/api/v1/me", Some(right)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(admin.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // The owner deletes a group; it is gone for everybody.
    let other = owner.create_group("Temporary", "invite_only").await;
    assert_eq!(
        owner.delete(&format!("/api/v1/groups/{other}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        owner.get(&format!("/api/v1/groups/{other}")).await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn search_finds_by_name_and_phone_prefix_only_on_visible_fields() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    ben.set_card("Ben Meyer", "030 2222222").await;
    cara.set_card("Cara Vogel", "040 3333333").await;
    let group = anna.create_group("Office", "invite_only").await;
    let code = anna.invite(group).await;
    ben.accept(&code).await;
    cara.accept(&code).await;
    let search = |q: &str| format!("/api/v1/groups/{group}/directory?q={}", urlencode(q));
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["account_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&anna.get(&search("meyer")).await.1), vec![ben.id.to_string()]);
    assert_eq!(ids(&anna.get(&search("+49 40")).await.1), vec![cara.id.to_string()]);
    assert_eq!(ids(&anna.get(&search("030 22")).await.1), vec![ben.id.to_string()]);
    // Ben hides his name: a name search no longer finds him, a phone search still does.
    ben.put(
        &format!("/api/v1/groups/{group}/share-policy"),
        json!({"fields": ["phones"]}),
    )
    .await;
    assert!(ids(&anna.get(&search("meyer")).await.1).is_empty());
    assert_eq!(ids(&anna.get(&search("030")).await.1), vec![ben.id.to_string()]);
    server.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
