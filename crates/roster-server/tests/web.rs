//! The web door over HTTP: the invite story from the link to the directory, the card form's
//! validation, CSRF, escaping, sessions, headers and languages. (A real browser runs the same
//! story in the `browser` test target.)

use crate::support::TestServer;
use crate::web_client::Browser;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The account id of the one pending request of a group, as its admin reads the member list.
async fn pending_request(admin: &crate::support::User, group: uuid::Uuid) -> String {
    let members: serde_json::Value = admin
        .expect(
            Method::GET,
            &format!("/api/v1/groups/{group}/members"),
            None,
            StatusCode::OK,
        )
        .await;
    let pending: Vec<String> = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "pending")
        .map(|m| m["account_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pending.len(), 1, "one pending request: {members}");
    pending[0].clone()
}

#[tokio::test]
async fn an_invite_link_leads_from_sign_up_through_card_and_sharing_to_the_directory() {
    let server = TestServer::start().await;
    let admin = server.user("ada").await;
    admin.set_card("Ada Admin", "+49 30 1234567").await;
    let group = admin.create_group("Class 3b", "approval").await;
    let (status, _) = admin
        .send(
            Method::PATCH,
            &format!("/api/v1/groups/{group}"),
            Some(json!({"description": "Parents of class 3b"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let code = admin.invite(group).await;

    let browser = Browser::new(&server);
    let invite = browser.get(&format!("/join/{code}")).await;
    assert_eq!(invite.status, StatusCode::OK, "{}", invite.body);
    assert_eq!(invite.text_of("invite-group-name").as_deref(), Some("Class 3b"));
    assert_eq!(
        invite.text_of("invite-description").as_deref(),
        Some("Parents of class 3b")
    );
    assert_eq!(invite.text_of("invite-members").as_deref(), Some("One member"));
    assert!(invite.has_id("invite-approval"), "approval is announced");
    assert!(invite.has_id("signup-form") && invite.has_id("invite-signin"));

    // Signing up from the invite goes straight on to the card step.
    let next = format!("/join/{code}/card");
    let signed_up = browser.sign_up("bea", "Bea Parent", &code, &next).await;
    assert_eq!(signed_up.status, StatusCode::SEE_OTHER, "{}", signed_up.body);
    assert_eq!(signed_up.location().as_deref(), Some(next.as_str()));
    assert!(browser.cookie("roster_session").is_some(), "signed in");
    let card_step = browser.get(&next).await;
    assert_eq!(card_step.status, StatusCode::OK);
    assert_eq!(card_step.value_of("card-formatted-name").as_deref(), Some(""));

    // One invalid number first: the error is at the field, nothing is saved.
    let share = format!("/join/{code}/share");
    let refused = browser.save_card("Bea Parent", "12", "DE", &share).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has_id("card-phone-0-error"), "{}", refused.body);
    assert_eq!(
        refused.value_of("card-phone-0").as_deref(),
        Some("12"),
        "what was typed stays"
    );
    assert_eq!(refused.value_of("card-formatted-name").as_deref(), Some("Bea Parent"));
    let (status, _) = server.anonymous().get("/api/v1/me/card").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A national number is read in the picked country (not the server's DE).
    let saved = browser.save_card("Bea Parent", "(415) 555-2671", "US", &share).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location().as_deref(), Some(share.as_str()));
    let card = browser.get("/me/card").await;
    assert_eq!(card.value_of("card-phone-0").as_deref(), Some("+1 415-555-2671"));

    // What the group sees: name and phones by default, shown in the preview.
    let choose = browser.get(&share).await;
    assert!(choose.body.contains(r#"id="share-name" data-field="name" checked"#));
    assert!(choose.body.contains(r#"id="share-phones" data-field="phones" checked"#));
    assert!(!choose.body.contains(r#"id="share-emails" data-field="emails" checked"#));
    assert!(choose.body.contains("+1 415-555-2671"), "the preview shows the number");

    // Ask to join with the name only.
    let joined = browser.submit(&share, &share, &[("field", "name")]).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    let waiting = format!("/groups/{group}/waiting");
    assert_eq!(joined.location().as_deref(), Some(waiting.as_str()));
    let (_, page) = browser.open(&format!("/groups/{group}")).await;
    assert!(page.has_id("waiting"), "a pending member waits");

    // The admin approves; the waiting page moves on to the directory.
    let bea = pending_request(&admin, group).await;
    let (status, body) = admin
        .post(&format!("/api/v1/groups/{group}/members/{bea}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (path, directory) = browser.open(&waiting).await;
    assert_eq!(path, format!("/groups/{group}"));
    assert!(directory.body.contains("Ada Admin") && directory.body.contains("+49 30 1234567"));

    // The admin sees the name only, as chosen.
    let cards = admin.directory(group).await;
    let seen = &cards[&bea];
    assert_eq!(seen["formatted_name"], "Bea Parent");
    assert!(seen.get("phones").is_none(), "phones were not shared: {seen}");

    // Later the member shares phones too, from the group's share page.
    let share_page = format!("/groups/{group}/share");
    let saved = browser
        .submit(&share_page, &share_page, &[("field", "name"), ("field", "phones")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let cards = admin.directory(group).await;
    assert_eq!(cards[&bea]["phones"][0]["number"], "+14155552671");
}

#[tokio::test]
async fn used_up_expired_and_withdrawn_invites_say_so_plainly() {
    let server = TestServer::start().await;
    let admin = server.user("ada").await;
    let group = admin.create_group("Choir", "open_with_link").await;
    let browser = Browser::new(&server);

    let (status, body) = admin
        .post(&format!("/api/v1/groups/{group}/invites"), json!({"max_uses": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let once = body["code"].as_str().unwrap().to_string();
    server.user("first").await.accept(&once).await;
    let used = browser.get(&format!("/join/{once}")).await;
    assert_eq!(used.status, StatusCode::GONE);
    assert!(used.has_id("invite-unusable"));
    assert!(used.body.contains("Choir"), "names the group");
    assert!(!used.has_id("signup-form"));

    let (status, body) = admin.post(&format!("/api/v1/groups/{group}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let withdrawn = body["code"].as_str().unwrap().to_string();
    let id = body["id"].as_str().unwrap().to_string();
    let (status, _) = admin.delete(&format!("/api/v1/groups/{group}/invites/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = browser.get(&format!("/join/{withdrawn}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.has_id("invite-unusable"));
    assert!(gone.headers["content-type"].to_str().unwrap().starts_with("text/html"));

    let made_up = browser.get("/join/inv_doesnotexist").await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND);
    assert!(made_up.has_id("invite-unusable"));

    // Steps after the link check the invite too.
    browser.sign_up("late", "Late Comer", "", "/groups").await;
    let step = browser.get(&format!("/join/{once}/share")).await;
    assert_eq!(step.status, StatusCode::GONE);

    // An expired invite: the clock is moved past its end in the database.
    let (status, body) = admin
        .post(&format!("/api/v1/groups/{group}/invites"), json!({"expires_in": 60}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let short = body["code"].as_str().unwrap().to_string();
    let pool = sqlx::SqlitePool::connect(&server.database_url).await.unwrap();
    sqlx::query("UPDATE invites SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    let expired = browser.get(&format!("/join/{short}")).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.has_id("invite-unusable"));
}

#[tokio::test]
async fn a_form_without_a_valid_token_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let browser = Browser::new(&server);
    // Signing in without a token: 403, no session.
    server.user("ada").await;
    browser.get("/login").await;
    let refused = browser
        .post_form("/login", &[("login", "ada"), ("password", "ada-password")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(browser.cookie("roster_session").is_none());
    let signed = browser.sign_in("ada", "ada-password", "").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert!(browser.cookie("roster_session").is_some());

    // A token of another browser (or of before signing in) does not do.
    let other = Browser::new(&server);
    let foreign = other.get("/login").await.csrf();
    let stale = browser.post_form("/me/card", &[("csrf", foreign.as_str())]).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    let wrong = browser
        .post_multipart(
            "/me/card",
            &[
                ("csrf", "AAAA"),
                ("formatted_name", "Mallory"),
                ("phone_0", "+49 30 1234567"),
            ],
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let missing = browser
        .post_multipart(
            "/me/card",
            &[("formatted_name", "Mallory"), ("phone_0", "+49 30 1234567")],
            &[],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.has_id("error-message"), "a page that says why");
    let card = browser.get("/me/card").await;
    assert_eq!(
        card.value_of("card-formatted-name").as_deref(),
        Some(""),
        "nothing saved"
    );

    // Signing out needs the token too.
    let out = browser.post_form("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/groups").await.status, StatusCode::OK);
}

#[tokio::test]
async fn what_people_typed_is_shown_as_text_on_every_page() {
    let server = TestServer::start().await;
    let evil = "<img src=x onerror=alert(1)>";
    let admin = server.user("ada").await;
    admin.set_card(evil, "+49 30 1234567").await;
    let group = admin.create_group(evil, "open_with_link").await;
    let code = admin.invite(group).await;
    let browser = Browser::new(&server);
    let invite = browser.get(&format!("/join/{code}")).await;
    browser.sign_up("bea", evil, "", "/groups").await;
    browser.save_card(evil, "+49 30 7654321", "DE", "").await;
    browser
        .submit(
            &format!("/join/{code}/share"),
            &format!("/join/{code}/share"),
            &[("field", "name")],
        )
        .await;
    let pages = [
        invite,
        browser.get("/groups").await,
        browser.get(&format!("/groups/{group}")).await,
        browser.get(&format!("/groups/{group}/share")).await,
        browser.get("/me/card").await,
    ];
    for page in pages {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("<img src=x"), "unescaped: {}", page.body);
        let escaped = [
            "&lt;img src=x onerror=alert(1)&gt;",
            "&#60;img src=x onerror=alert(1)&#62;",
        ];
        assert!(escaped.iter().any(|e| page.body.contains(e)), "{}", page.body);
    }
}

#[tokio::test]
async fn a_revoked_web_session_is_signed_out_at_once_and_no_other_credential_opens_the_pages() {
    let server = TestServer::start().await;
    let ada = server.user("ada").await;
    let browser = Browser::new(&server);
    browser.sign_in("ada", "ada-password", "").await;
    assert_eq!(browser.get("/groups").await.status, StatusCode::OK);

    // The session is a terminal of kind `web`, listed with the others.
    let terminals: serde_json::Value = ada.expect(Method::GET, "/api/v1/terminals", None, StatusCode::OK).await;
    let web = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "web")
        .expect("a web terminal")
        .clone();
    // Its cookie is no bearer token.
    let token = browser.cookie("roster_session").unwrap();
    let (status, _) = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = ada
        .delete(&format!("/api/v1/terminals/{}", web["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = browser.get("/groups").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location().as_deref(), Some("/login?next=%2Fgroups"));
    assert!(browser.cookie("roster_session").is_none(), "the cookie is dropped");

    // Neither a CLI session token nor an app password opens a page.
    let other = Browser::new(&server);
    other.set_cookie("roster_session", &ada.token);
    assert_eq!(other.get("/groups").await.status, StatusCode::SEE_OTHER);
    let (status, body) = ada.post("/api/v1/app-passwords", json!({"name": "phone"})).await;
    assert_eq!(status, StatusCode::CREATED);
    other.set_cookie("roster_session", body["password"].as_str().unwrap());
    assert_eq!(other.get("/groups").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn pages_carry_security_headers_and_speak_the_readers_language() {
    let server = TestServer::start().await;
    let browser = Browser::new(&server);
    let login = browser.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert_eq!(login.headers["referrer-policy"], "same-origin");
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(!login.body.contains("<script>"), "no inline script");
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("roster_csrf="))
        .expect("the pre-session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(login.body.contains(r#"<html lang="en">"#));

    let chinese = Browser::new(&server);
    chinese
        .headers
        .lock()
        .unwrap()
        .insert("accept-language", "zh-CN,zh;q=0.9,en;q=0.8".parse().unwrap());
    let page = chinese.get("/login").await;
    assert!(page.body.contains(r#"<html lang="zh-Hans">"#));
    assert!(page.body.contains("登录"), "{}", page.body);
    // Errors at fields are in the reader's language too.
    let refused = chinese.sign_up("x", "名字", "", "/groups").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = refused.text_of("signup-login-error").expect("an error at the login");
    assert!(error.contains("登录名"), "{error}");
    // The switch on the page keeps the choice.
    let switched = chinese.get("/lang?to=en&next=/login").await;
    assert_eq!(switched.location().as_deref(), Some("/login"));
    assert_eq!(chinese.cookie("roster_lang").as_deref(), Some("en"));
    assert!(chinese.get("/login").await.body.contains(r#"<html lang="en">"#));
    // Never a redirect to another site.
    let away = chinese.get("/lang?to=en&next=//evil.example/").await;
    assert_eq!(away.location().as_deref(), Some("/"));
}

#[tokio::test]
async fn pages_stay_light() {
    let server = TestServer::start().await;
    let admin = server.user("ada").await;
    let group = admin.create_group("Big", "open_with_link").await;
    let code = admin.invite(group).await;
    for i in 0..60 {
        let member = server.user(&format!("member{i}")).await;
        member
            .set_card(&format!("Member {i}"), &format!("+49 30 {:07}", 1_000_000 + i))
            .await;
        member.accept(&code).await;
    }
    let browser = Browser::new(&server);
    let login = browser.get("/login").await;
    assert!(login.body.len() < 100 * 1024);
    browser.sign_in("ada", "ada-password", "").await;
    for path in [
        "/groups",
        "/me/card",
        &format!("/groups/{group}"),
        "/static/roster.css",
        "/static/roster.js",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.len() < 100 * 1024, "{path}: {} bytes", page.body.len());
    }
    // The directory is paged: 50 a page, then a link to the rest.
    let first = browser.get(&format!("/groups/{group}")).await;
    assert_eq!(first.body.matches(r#"class="member""#).count(), 50);
    let next = first.value_of("directory-next");
    assert!(next.is_none(), "a link, not an input");
    assert!(first.has_id("directory-next"));
}

#[tokio::test]
async fn a_page_follows_its_group_only_over_a_ticket_from_its_session() {
    use futures_util::{SinkExt, StreamExt};
    use roster_proto::stream::{ClientFrame, ServerFrame};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start().await;
    let ada = server.user("ada").await;
    ada.set_card("Ada", "+49 30 1234567").await;
    let shown = ada.create_group("Shown", "open_with_link").await;
    let other = ada.create_group("Other", "open_with_link").await;
    let bea = server.user("bea").await;
    bea.set_card("Bea", "+49 30 7654321").await;
    bea.accept(&ada.invite(shown).await).await;
    bea.accept(&ada.invite(other).await).await;

    let browser = Browser::new(&server);
    browser.sign_in("ada", "ada-password", "").await;
    let page = browser.get(&format!("/groups/{shown}")).await;
    let version: i64 = page
        .body
        .split(r#"data-version=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|v| v.parse().ok())
        .expect("the page names its version");

    // The ticket needs the page's form token in a header.
    let refused = browser.post_form("/web/ticket", &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    browser
        .headers
        .lock()
        .unwrap()
        .insert("x-csrf-token", page.csrf().parse().unwrap());
    let ticket = browser.post_form("/web/ticket", &[]).await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.body);
    let ticket: serde_json::Value = serde_json::from_str(&ticket.body).unwrap();
    let url = format!(
        "{}/api/v1/stream?ticket={}",
        server.base.replacen("http", "ws", 1),
        ticket["ticket"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("stream opens");
    let watch = ClientFrame::Watch {
        cursors: [(shown, version)].into_iter().collect(),
    };
    socket
        .send(Message::text(serde_json::to_string(&watch).unwrap()))
        .await
        .unwrap();
    // A change of Bea's card reaches both groups; the page hears of its group only.
    bea.set_card("Bea B.", "+49 30 7654321").await;
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout_at(deadline, socket.next()).await {
        let frame: ServerFrame = serde_json::from_str(&text).unwrap();
        let done = matches!(frame, ServerFrame::Cursor { cursor, .. } if cursor > version);
        frames.push(frame);
        if done {
            break;
        }
    }
    assert!(
        frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Upsert { group, .. } if *group == shown)),
        "{frames:?}"
    );
    for frame in &frames {
        let group = match frame {
            ServerFrame::Joined { group, .. }
            | ServerFrame::Left { group }
            | ServerFrame::Resync { group }
            | ServerFrame::Upsert { group, .. }
            | ServerFrame::Remove { group, .. }
            | ServerFrame::Cursor { group, .. } => *group,
            _ => shown,
        };
        assert_eq!(group, shown, "only the watched group: {frames:?}");
    }
}

#[tokio::test]
async fn leaving_a_group_takes_a_confirmation() {
    let server = TestServer::start().await;
    let ada = server.user("ada").await;
    let group = ada.create_group("Club", "open_with_link").await;
    let bea = server.user("bea").await;
    bea.accept(&ada.invite(group).await).await;
    let browser = Browser::new(&server);
    browser.sign_in("bea", "bea-password", "").await;
    let page = format!("/groups/{group}");
    let leave = format!("/groups/{group}/leave");
    let unconfirmed = browser.submit(&page, &leave, &[]).await;
    assert_eq!(unconfirmed.location().as_deref(), Some(page.as_str()));
    assert_eq!(browser.get(&page).await.status, StatusCode::OK, "still a member");
    let confirmed = browser.submit(&page, &leave, &[("confirm", "yes")]).await;
    assert_eq!(confirmed.location().as_deref(), Some("/groups"));
    let after = browser.get(&page).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert!(after.has_id("error-message"));
}

/// A PNG of the given size.
fn png(width: u32, height: u32) -> Vec<u8> {
    let picture = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[tokio::test]
async fn the_card_form_marks_every_bad_field_saves_nothing_and_takes_a_photo() {
    let server = TestServer::start_with(|config| {
        config.photo_max_bytes = 400 * 1024;
        config.max_body_bytes = 2 * 1024 * 1024;
    })
    .await;
    let ada = server.user("ada").await;
    let browser = Browser::new(&server);
    browser.sign_in("ada", "ada-password", "").await;
    let csrf = browser.get("/me/card").await.csrf();
    let base = [
        ("csrf", csrf.as_str()),
        ("formatted_name", "Ada Lovelace"),
        ("phone_0", "030 1234567"),
        ("phone_region_0", "DE"),
        ("phone_1", "+86 138 0013 8000"),
        ("phone_region_1", "DE"),
    ];

    // Several bad fields at once: each is marked at its field, nothing is stored.
    let mut bad = base.to_vec();
    bad.extend([
        ("phone_2", "0800 NOT A NUMBER"),
        ("phone_region_2", "GB"),
        ("email_0", "not an address"),
        ("birthday", "1990-02-30"),
    ]);
    let refused = browser
        .post_multipart("/me/card", &bad, &[("photo", "x.png", b"not an image")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    for id in [
        "card-phone-2-error",
        "card-email-0-error",
        "card-birthday-error",
        "card-photo-error",
    ] {
        assert!(refused.has_id(id), "{id} marked: {}", refused.body);
    }
    assert!(!refused.has_id("card-phone-0-error") && !refused.has_id("card-phone-1-error"));
    assert!(refused.has_id("card-errors"));
    let (status, _) = ada.get("/api/v1/me/card").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing half-saved");

    // Valid, with a large PNG: stored as a JPEG of at most 512 pixels; numbers in E.164.
    let saved = browser
        .post_multipart("/me/card", &base, &[("photo", "me.png", &png(1400, 1000))])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location().as_deref(), Some("/me/card?saved=1"));
    let page = browser.get("/me/card?saved=1").await;
    assert!(page.has_id("card-saved"));
    assert_eq!(page.value_of("card-phone-0").as_deref(), Some("+49 30 1234567"));
    assert_eq!(page.value_of("card-phone-1").as_deref(), Some("+86 138 0013 8000"));
    let photo = page
        .body
        .split(r#"src="data:image/jpeg;base64,"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the stored photo is shown");
    use base64::Engine;
    let stored = base64::engine::general_purpose::STANDARD
        .decode(crate::web_client::html_unescape(photo))
        .unwrap();
    let decoded = image::load_from_memory(&stored).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 366));

    // Saving again without a new file keeps the photo; ticking "remove" drops it.
    let csrf = browser.get("/me/card").await.csrf();
    let mut again = base.to_vec();
    again[0] = ("csrf", csrf.as_str());
    browser.post_multipart("/me/card", &again, &[]).await;
    assert!(browser.get("/me/card").await.has_id("card-photo-remove"), "photo kept");
    again.push(("photo_remove", "1"));
    browser.post_multipart("/me/card", &again, &[]).await;
    assert!(
        !browser.get("/me/card").await.has_id("card-photo-remove"),
        "photo removed"
    );

    // A photo over the limit is refused at its field.
    let noise: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let csrf = browser.get("/me/card").await.csrf();
    let mut big = base.to_vec();
    big[0] = ("csrf", csrf.as_str());
    let too_big = browser
        .post_multipart("/me/card", &big, &[("photo", "big.png", &noise)])
        .await;
    assert_eq!(too_big.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_big.has_id("card-photo-error"), "{}", too_big.body);
}

#[tokio::test]
async fn on_an_invite_only_server_the_invite_page_signs_up_and_the_share_choice_still_applies() {
    use roster_server::domain::account::Registration;
    let mut server = TestServer::start().await;
    let ada = server.user("ada").await;
    let group = ada.create_group("Team", "approval").await;
    let code = ada.invite(group).await;
    server.restart_with(|c| c.registration = Registration::InviteOnly).await;
    let ada = ada.clone_at(&server.base);

    let browser = Browser::new(&server);
    // Without the invite, no account.
    let refused = browser.sign_up("eve", "Eve", "", "/groups").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has_id("signup-invite-error"), "{}", refused.body);
    // From the invite page: the account is created together with the request to join.
    let next = format!("/join/{code}/card");
    let signed = browser.sign_up("bea", "Bea", &code, &next).await;
    assert_eq!(signed.location().as_deref(), Some(next.as_str()), "{}", signed.body);
    let share = format!("/join/{code}/share");
    browser.save_card("Bea", "+49 30 7654321", "DE", &share).await;
    let joined = browser.submit(&share, &share, &[("field", "phones")]).await;
    assert_eq!(
        joined.location().as_deref(),
        Some(format!("/groups/{group}/waiting").as_str()),
        "{}",
        joined.body
    );
    let bea = pending_request(&ada, group).await;
    let (status, _) = ada
        .post(&format!("/api/v1/groups/{group}/members/{bea}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The choice made while waiting holds: phones, no name.
    let cards = ada.directory(group).await;
    assert_eq!(cards[&bea]["phones"][0]["number"], "+49307654321");
    assert!(cards[&bea].get("formatted_name").is_none(), "{}", cards[&bea]);
}

#[tokio::test]
async fn admins_hear_of_join_requests_on_the_stream_and_members_do_not() {
    use futures_util::{SinkExt, StreamExt};
    use roster_proto::stream::{ClientFrame, ServerFrame};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start().await;
    let ada = server.user("ada").await;
    let group = ada.create_group("Board", "approval").await;
    let code = ada.invite(group).await;
    let (status, _) = ada.post(&format!("/api/v1/groups/{group}/invites"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    // Bea is a plain member (approved earlier).
    let bea = server.user("bea").await;
    bea.accept(&code).await;
    let (status, _) = ada
        .post(&format!("/api/v1/groups/{group}/members/{}/approve", bea.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    async fn watching(user: &crate::support::User, group: uuid::Uuid) -> crate::stream::Socket {
        let mut socket = crate::stream::open(user, "", true).await.expect("stream opens");
        let watch = ClientFrame::Watch {
            cursors: [(group, 0)].into_iter().collect(),
        };
        socket
            .send(Message::text(serde_json::to_string(&watch).unwrap()))
            .await
            .unwrap();
        socket
    }
    async fn frames_for(socket: &mut crate::stream::Socket, wait: std::time::Duration) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout_at(deadline, socket.next()).await {
            frames.push(serde_json::from_str(&text).unwrap());
        }
        frames
    }
    let mut admin_socket = watching(&ada, group).await;
    let mut member_socket = watching(&bea, group).await;
    frames_for(&mut admin_socket, std::time::Duration::from_millis(500)).await;
    frames_for(&mut member_socket, std::time::Duration::from_millis(500)).await;

    server.user("cyd").await.accept(&code).await;
    let admin_frames = frames_for(&mut admin_socket, std::time::Duration::from_secs(2)).await;
    assert!(
        admin_frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Requests { group: g } if *g == group)),
        "{admin_frames:?}"
    );
    let member_frames = frames_for(&mut member_socket, std::time::Duration::from_millis(700)).await;
    assert!(
        !member_frames.iter().any(|f| matches!(f, ServerFrame::Requests { .. })),
        "{member_frames:?}"
    );
}
