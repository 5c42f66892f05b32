//! The group admin pages over HTTP (issue 12, item 6): forms posted by the test browser of
//! `web_client` against the real server, their effects checked through the JSON API.

use crate::support::{TestServer, User};
use crate::web_client::{Browser, html_unescape};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use uuid::Uuid;

const XSS: &str = "<img src=x onerror=alert(1)>";

/// Signs in through the login form.
async fn signed_in(server: &TestServer, user: &User) -> Browser {
    let browser = Browser::new(server);
    let reply = browser.sign_in(&user.login, &user.password, "/groups").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "sign in: {}", reply.body);
    browser
}

/// The value of `attribute` in the first tag that contains `marker` (e.g. a class).
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let key = format!("{attribute}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(html_unescape(&tag[from..from + len]))
}

/// Whether user-typed markup appears only escaped.
fn assert_escaped(html: &str, what: &str) {
    assert!(!html.contains(XSS), "{what} shows the markup unescaped: {html}");
    assert!(
        !html.contains("<img src=x"),
        "{what} shows the markup unescaped: {html}"
    );
}

/// The group id at the end of a `/groups/{id}` location.
fn group_of(location: &str) -> Uuid {
    location.trim_start_matches("/groups/").parse().unwrap()
}

/// An admin with a group made through the form.
async fn admin_with_group(server: &TestServer, name: &str, policy: &str) -> (User, Browser, Uuid) {
    let admin = server.user("ada").await;
    let browser = signed_in(server, &admin).await;
    let answer = browser
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("name", name),
                ("description", "Parents of class 4b"),
                ("join_policy", policy),
                ("member_limit", "30"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "create: {}", answer.body);
    let group = group_of(&answer.location().unwrap());
    (admin, browser, group)
}

/// Creates an invite through the form; returns its link as shown.
async fn invite_link(browser: &Browser, group: Uuid, fields: &[(&str, &str)]) -> (String, String) {
    let path = format!("/groups/{group}/invites");
    let answer = browser.submit(&path, &path, fields).await;
    assert_eq!(answer.status, StatusCode::OK, "invite: {}", answer.body);
    let link = attribute_after(&answer.body, "class=\"invite-link\"", "value").unwrap();
    (link, answer.body)
}

#[tokio::test]
async fn a_group_made_through_the_form_has_the_given_settings() {
    let server = TestServer::start().await;
    let (admin, _browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    let (status, body) = admin.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Class 4b");
    assert_eq!(body["description"], "Parents of class 4b");
    assert_eq!(body["join_policy"], "approval");
    assert_eq!(body["member_limit"], 30);
}

#[tokio::test]
async fn bad_fields_are_marked_and_nothing_is_made() {
    let server = TestServer::start().await;
    let admin = server.user("ada").await;
    let browser = signed_in(&server, &admin).await;
    let answer = browser
        .submit(
            "/groups/new",
            "/groups/new",
            &[("name", " "), ("join_policy", "approval"), ("member_limit", "lots")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer.body.contains("id=\"group-member-limit-error\""),
        "{}",
        answer.body
    );
    let answer = browser
        .submit(
            "/groups/new",
            "/groups/new",
            &[("name", " "), ("join_policy", "approval")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("id=\"group-name-error\""), "{}", answer.body);
    let (_, groups) = admin.get("/api/v1/groups").await;
    assert_eq!(groups.as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn settings_change_the_group() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    let path = format!("/groups/{group}/settings");
    let answer = browser
        .submit(
            &path,
            &path,
            &[
                ("name", "Class 5b"),
                ("description", ""),
                ("join_policy", "open"),
                ("member_limit", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let page = browser.get(&answer.location().unwrap()).await;
    assert!(page.body.contains("value=\"Class 5b\""), "{}", page.body);
    let (_, body) = admin.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(body["name"], "Class 5b");
    assert_eq!(body["description"], "");
    assert_eq!(body["join_policy"], "invite_only");
}

#[tokio::test]
async fn an_invite_link_and_its_qr_code_lead_to_the_join_page_until_revoked() {
    let server = TestServer::start().await;
    let (_admin, browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    let (link, page) = invite_link(&browser, group, &[("expires_days", "3"), ("max_uses", "5")]).await;
    let public_url = server.roster.settings().public_url.trim_end_matches('/').to_string();
    let code = link
        .strip_prefix(&format!("{public_url}/join/"))
        .unwrap_or_else(|| panic!("{link} is not under {public_url}/join/"));
    assert!(page.contains("class=\"invite-uses\""), "{page}");

    let qr = attribute_after(&page, "class=\"invite-qr", "src").unwrap();
    let png = STANDARD
        .decode(qr.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, decoded) = grids[0].decode().unwrap();
    assert_eq!(decoded, link);

    let stranger = Browser::new(&server);
    let join = stranger.get(&format!("/join/{code}")).await;
    assert_eq!(join.status, StatusCode::OK, "{}", join.body);
    assert!(join.body.contains("id=\"invite-group-name\""));

    // Revoke from the list: the link's page now says it cannot be used.
    let list = browser.get(&format!("/groups/{group}/invites")).await;
    let invite_id = attribute_after(&list.body, "data-invite=", "data-invite").unwrap();
    let answer = browser
        .submit(
            &format!("/groups/{group}/invites"),
            &format!("/groups/{group}/invites/{invite_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let join = stranger.get(&format!("/join/{code}")).await;
    assert!(
        matches!(join.status, StatusCode::NOT_FOUND | StatusCode::GONE),
        "{}",
        join.status
    );
    assert!(join.body.contains("id=\"invite-unusable\""), "{}", join.body);
    let list = browser.get(&format!("/groups/{group}/invites")).await;
    assert!(
        !list.body.contains(&format!("data-invite=\"{invite_id}\"")),
        "{invite_id} is still listed: {}",
        list.body
    );
}

/// A member who joined the admin's group with an API invite; `pending` in approval groups.
async fn joiner(server: &TestServer, admin: &User, group: Uuid, login: &str, name: &str) -> User {
    let password = format!("{login}-password");
    let (status, body) = server
        .anonymous()
        .post(
            "/api/v1/accounts",
            serde_json::json!({"login": login, "password": password, "display_name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "register {login}: {body}");
    let mut member = server.anonymous().login_as(login, &password, "phone").await;
    member.password = password;
    let code = admin.invite(group).await;
    member.accept(&code).await;
    member
}

async fn state_of(admin: &User, group: Uuid, member: &User) -> Option<(String, String)> {
    let (_, list) = admin.get(&format!("/api/v1/groups/{group}/members")).await;
    list.as_array()?
        .iter()
        .find(|m| m["account_id"] == member.id.to_string())
        .map(|m| {
            (
                m["state"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
}

#[tokio::test]
async fn pending_requests_are_approved_and_denied() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    let ben = joiner(&server, &admin, group, "ben", "Ben").await;
    let cleo = joiner(&server, &admin, group, "cleo", "Cleo").await;
    let members = format!("/groups/{group}/members");
    let page = browser.get(&members).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("class=\"pending\" data-account=\"{}\"", ben.id))
    );

    let approve = format!("/groups/{group}/members/{}/approve", ben.id);
    assert_eq!(
        browser.submit(&members, &approve, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let deny = format!("/groups/{group}/members/{}/deny", cleo.id);
    assert_eq!(browser.submit(&members, &deny, &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(state_of(&admin, group, &ben).await.unwrap().0, "active");
    assert_eq!(state_of(&admin, group, &cleo).await, None);
    let page = browser.get(&members).await;
    assert!(
        page.body
            .contains(&format!("class=\"member-row\" data-account=\"{}\"", ben.id))
    );
}

#[tokio::test]
async fn roles_change_members_are_removed_and_ownership_moves_after_confirmation() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, "Class 4b", "open").await;
    let ben = joiner(&server, &admin, group, "ben", "Ben").await;
    let cleo = joiner(&server, &admin, group, "cleo", "Cleo").await;
    let members = format!("/groups/{group}/members");

    let role = format!("/groups/{group}/members/{}/role", ben.id);
    let answer = browser.submit(&members, &role, &[("role", "admin")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(state_of(&admin, group, &ben).await.unwrap().1, "admin");

    // Removing asks first; the question names the member and changes nothing.
    let remove = format!("/groups/{group}/members/{}/remove", cleo.id);
    let question = browser.get(&remove).await;
    assert_eq!(question.status, StatusCode::OK);
    assert!(question.body.contains("Cleo") && question.body.contains("id=\"confirm-submit\""));
    assert_eq!(state_of(&admin, group, &cleo).await.unwrap().0, "active");
    assert_eq!(
        browser.submit(&remove, &remove, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(state_of(&admin, group, &cleo).await, None);

    let transfer = format!("/groups/{group}/members/{}/transfer", ben.id);
    assert_eq!(
        browser.submit(&transfer, &transfer, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(state_of(&admin, group, &ben).await.unwrap().1, "owner");
    assert_eq!(state_of(&admin, group, &admin).await.unwrap().1, "admin");
}

#[tokio::test]
async fn a_group_is_deleted_only_with_the_box_ticked() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    let settings = format!("/groups/{group}/settings");
    let delete = format!("/groups/{group}/delete");
    let answer = browser.submit(&settings, &delete, &[]).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("id=\"group-delete-confirm-error\""));
    assert_eq!(admin.get(&format!("/api/v1/groups/{group}")).await.0, StatusCode::OK);

    let answer = browser.submit(&settings, &delete, &[("confirm", "yes")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get(&format!("/api/v1/groups/{group}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, "Class 4b", "open").await;
    let ben = joiner(&server, &admin, group, "ben", "Ben").await;
    let id = ben.id;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/groups/new".into(), vec![("name", "Other"), ("join_policy", "open")]),
        (
            format!("/groups/{group}/settings"),
            vec![("name", "Renamed"), ("join_policy", "open")],
        ),
        (format!("/groups/{group}/delete"), vec![("confirm", "yes")]),
        (format!("/groups/{group}/invites"), vec![("expires_days", "1")]),
        (format!("/groups/{group}/members/{id}/role"), vec![("role", "admin")]),
        (format!("/groups/{group}/members/{id}/remove"), vec![]),
        (format!("/groups/{group}/members/{id}/transfer"), vec![]),
    ];
    for (path, fields) in &posts {
        assert_eq!(
            browser.post_form(path, fields).await.status,
            StatusCode::FORBIDDEN,
            "{path} without"
        );
        let mut wrong = vec![("csrf", "not-the-token")];
        wrong.extend_from_slice(fields);
        assert_eq!(
            browser.post_form(path, &wrong).await.status,
            StatusCode::FORBIDDEN,
            "{path} wrong"
        );
    }
    let (_, body) = admin.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(body["name"], "Class 4b");
    assert_eq!(
        state_of(&admin, group, &ben).await.unwrap(),
        ("active".into(), "member".into())
    );
    let (_, invites) = admin.get(&format!("/api/v1/groups/{group}/invites")).await;
    // Only the invite the joiner used.
    assert_eq!(invites.as_array().map(Vec::len), Some(1));
    let (_, groups) = admin.get("/api/v1/groups").await;
    assert_eq!(groups.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_member_who_is_not_an_admin_gets_403_pages_and_changes_nothing() {
    let server = TestServer::start().await;
    let (admin, _browser, group) = admin_with_group(&server, "Class 4b", "open").await;
    let ben = joiner(&server, &admin, group, "ben", "Ben").await;
    let bens = signed_in(&server, &ben).await;
    let csrf = bens.get("/groups/new").await.csrf();
    for page in ["settings", "invites", "members"] {
        let answer = bens.get(&format!("/groups/{group}/{page}")).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{page}");
        assert!(answer.body.contains("<html"), "{page} answers a page");
    }
    let id = admin.id;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/groups/{group}/settings"),
            vec![("name", "Mine"), ("join_policy", "open")],
        ),
        (format!("/groups/{group}/delete"), vec![("confirm", "yes")]),
        (format!("/groups/{group}/invites"), vec![("expires_days", "1")]),
        (format!("/groups/{group}/members/{id}/role"), vec![("role", "member")]),
        (format!("/groups/{group}/members/{id}/remove"), vec![]),
        (format!("/groups/{group}/members/{id}/transfer"), vec![]),
    ];
    for (path, fields) in &posts {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        assert_eq!(bens.post_form(path, &all).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, body) = admin.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(body["name"], "Class 4b");
    assert_eq!(state_of(&admin, group, &admin).await.unwrap().1, "owner");
    let (_, invites) = admin.get(&format!("/api/v1/groups/{group}/invites")).await;
    assert_eq!(invites.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn names_typed_by_users_are_escaped_on_every_admin_page() {
    let server = TestServer::start().await;
    let (admin, browser, group) = admin_with_group(&server, XSS, "approval").await;
    let member = joiner(&server, &admin, group, "ben", XSS).await;
    // The member's name shows only if shared with the group (the default policy shares it).
    let (_, list) = admin.get(&format!("/api/v1/groups/{group}/members")).await;
    assert!(list.to_string().contains("onerror"), "the name is shown: {list}");

    let (_, invite_page) = invite_link(&browser, group, &[("expires_days", "1")]).await;
    assert_escaped(&invite_page, "the invite page after creation");
    let id = member.id;
    for path in [
        format!("/groups/{group}/settings"),
        format!("/groups/{group}/invites"),
        format!("/groups/{group}/members"),
    ] {
        let answer = browser.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.body.contains("&#60;img"), "{path} shows the name escaped");
        assert_escaped(&answer.body, &path);
    }
    let approve = format!("/groups/{group}/members/{id}/approve");
    let members = format!("/groups/{group}/members");
    assert_eq!(
        browser.submit(&members, &approve, &[]).await.status,
        StatusCode::SEE_OTHER
    );
    for action in ["remove", "transfer"] {
        let answer = browser.get(&format!("/groups/{group}/members/{id}/{action}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{action}");
        assert_escaped(&answer.body, action);
    }
    let answer = browser.get(&members).await;
    assert_escaped(&answer.body, "the members page");
}

#[tokio::test]
async fn the_admin_pages_speak_the_readers_language() {
    let server = TestServer::start().await;
    let (_admin, browser, group) = admin_with_group(&server, "Class 4b", "approval").await;
    browser.headers.lock().unwrap().insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("zh-CN,zh;q=0.9"),
    );
    for (path, words) in [
        (format!("/groups/{group}/settings"), "加入方式"),
        (format!("/groups/{group}/invites"), "创建邀请"),
        (format!("/groups/{group}/members"), "加入申请"),
        ("/groups/new".to_string(), "新建群组"),
    ] {
        let reply = browser.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.body.contains(words), "{path} is in Chinese: {}", reply.body);
    }
    // A bad field is explained in Chinese too, next to the field.
    let reply = browser
        .submit("/groups/new", "/groups/new", &[("name", ""), ("join_policy", "open")])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("请输入 1 到 100 个字符的名称"), "{}", reply.body);
}
