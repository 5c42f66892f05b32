//! The device, account and audience pages over HTTP, with a hand-kept cookie jar: the Apple
//! profile and the DAVx5 QR code really open CardDAV, revoking works at once, user text is
//! escaped, forms without a valid token change nothing, and no app password opens a page.

use crate::support::{TestServer, User};
use crate::web_client::{Browser, Reply, html_unescape};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode};
use roster_server::tls::install_crypto_provider;

/// Every entity askama writes, undone (the shared helper leaves out `<`, `>` and `&`).
fn unescape(text: &str) -> String {
    html_unescape(&text.replace("&#60;", "<").replace("&#62;", ">")).replace("&#38;", "&")
}

/// Whether a page shows `text` as text: escaped in the markup, never as markup.
fn shows_as_text(html: &str, text: &str) -> bool {
    !html.contains(text) && unescape(html).contains(text)
}

/// The value of `attribute` on the element with this id, unescaped.
fn attribute_of(reply: &Reply, id: &str, attribute: &str) -> Option<String> {
    let html = &reply.body;
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag = &html[html[..at].rfind('<')?..at + html[at..].find('>')?];
    let needle = format!(" {attribute}=\"");
    let start = tag.find(&needle)? + needle.len();
    Some(unescape(&tag[start..start + tag[start..].find('"')?]))
}

/// A page that must exist: 200, every message found in the catalogs.
async fn open_page(browser: &Browser, path: &str) -> Reply {
    let reply = browser.get(path).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    assert!(
        !reply.body.contains("Unknown localization key"),
        "{path}: {}",
        reply.body
    );
    reply
}

/// A browser that identifies as `agent`, reading `language`.
fn browser_as(server: &TestServer, agent: &str, language: &str) -> Browser {
    let browser = Browser::new(server);
    {
        let mut headers = browser.headers.lock().unwrap();
        headers.insert(header::USER_AGENT, HeaderValue::from_str(agent).unwrap());
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(language).unwrap());
    }
    browser
}

/// A browser signed in as `user` through the sign-in form.
async fn signed_in(server: &TestServer, user: &User, agent: &str) -> Browser {
    let browser = browser_as(server, agent, "en");
    let reply = browser.sign_in(&user.login, &user.password, "/devices").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location().as_deref(), Some("/devices"));
    browser
}

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// PROPFIND (depth 0) with HTTP Basic credentials; returns the status.
async fn propfind(server: &TestServer, path: &str, user: &str, password: &str) -> StatusCode {
    install_crypto_provider();
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", server.base)
    };
    reqwest::Client::new()
        .request(Method::from_bytes(b"PROPFIND").unwrap(), url)
        .basic_auth(user, Some(password))
        .header("Depth", "0")
        .header(header::CONTENT_TYPE, "application/xml")
        .body(r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
        .send()
        .await
        .unwrap()
        .status()
}

/// The terminal ids listed on `/devices`, with their names.
async fn devices(browser: &Browser) -> Vec<(String, String)> {
    let page = open_page(browser, "/devices").await;
    page.body
        .split("class=\"device\" data-terminal=\"")
        .skip(1)
        .map(|row| {
            let id = row.split('"').next().unwrap().to_string();
            let name = row
                .split("class=\"device-name")
                .nth(1)
                .and_then(|r| r.split_once('>'))
                .map(|(_, rest)| rest.split('<').next().unwrap().to_string())
                .unwrap();
            (id, name)
        })
        .collect()
}

#[tokio::test]
async fn the_apple_profile_opens_the_home_set() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let browser = signed_in(&server, &anna, IPHONE).await;
    let new = open_page(&browser, "/devices/new").await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    // The iPhone is offered the profile first, and all four ways.
    let apple = new.body.find("id=\"setup-apple\"").unwrap();
    for other in ["setup-android", "setup-desktop", "setup-cli"] {
        assert!(new.body.find(&format!("id=\"{other}\"")).unwrap() > apple, "{other}");
    }
    assert!(
        new.body
            .contains(&format!("roster login --server {} anna", server.base))
    );

    let download = browser
        .submit("/devices/new", "/devices/apple", &[("name", "Anna’s iPhone")])
        .await;
    assert_eq!(download.status, StatusCode::OK, "{}", download.body);
    let header = |name: header::HeaderName| download.headers.get(name).unwrap().to_str().unwrap().to_string();
    assert_eq!(header(header::CONTENT_TYPE), "application/x-apple-aspen-config");
    assert_eq!(
        header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"roster.mobileconfig\""
    );
    assert_eq!(header(header::CACHE_CONTROL), "no-store");

    let profile = plist::Value::from_reader_xml(download.body.as_bytes())
        .unwrap()
        .into_dictionary()
        .unwrap();
    assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
    let payload = profile["PayloadContent"].as_array().unwrap()[0]
        .as_dictionary()
        .unwrap();
    assert_eq!(payload["PayloadType"].as_string(), Some("com.apple.carddav.account"));
    let base = url::Url::parse(&server.base).unwrap();
    assert_eq!(payload["CardDAVHostName"].as_string(), base.host_str());
    assert_eq!(payload["CardDAVPort"].as_signed_integer(), base.port().map(i64::from));
    assert_eq!(payload["CardDAVUseSSL"].as_boolean(), Some(false));
    assert_eq!(
        payload["CardDAVAccountDescription"].as_string(),
        Some(format!("Roster — {}", base.host_str().unwrap()).as_str())
    );
    let user = payload["CardDAVUsername"].as_string().unwrap();
    let password = payload["CardDAVPassword"].as_string().unwrap();
    assert_eq!(user, "anna");
    let principal = payload["CardDAVPrincipalURL"].as_string().unwrap();
    assert_eq!(principal, format!("{}/dav/principals/anna/", server.base));

    assert_eq!(
        propfind(&server, principal, user, password).await,
        StatusCode::MULTI_STATUS
    );
    assert_eq!(
        propfind(&server, "/dav/addressbooks/anna/", user, password).await,
        StatusCode::MULTI_STATUS
    );
    // The device is listed under its name.
    assert!(devices(&browser).await.iter().any(|(_, name)| name == "Anna’s iPhone"));
}

#[tokio::test]
async fn the_davx5_qr_code_decodes_to_the_link() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let browser = signed_in(&server, &anna, ANDROID).await;
    let new = open_page(&browser, "/devices/new").await;
    let android = new.body.find("id=\"setup-android\"").unwrap();
    assert!(new.body.find("id=\"setup-apple\"").unwrap() > android);

    let page = browser
        .submit("/devices/new", "/devices/android", &[("name", "Pixel")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let link = attribute_of(&page, "davx5-link", "href").unwrap();
    let password = attribute_of(&page, "app-password", "value").unwrap();
    let user = attribute_of(&page, "carddav-user", "value").unwrap();
    let url = attribute_of(&page, "carddav-url", "value").unwrap();
    assert_eq!(user, "anna");
    assert!(link.starts_with("carddav://anna:"), "{link}");
    assert!(page.body.contains("class=\"copy"));
    assert!(page.body.contains("/static/copy.js"));

    let src = attribute_of(&page, "davx5-qr", "src").unwrap();
    let png = STANDARD
        .decode(src.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(image.width() as usize, image.height() as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, link);

    // What the link carries opens CardDAV, as does what the page shows.
    let parsed = url::Url::parse(&link).unwrap();
    assert_eq!(parsed.password(), Some(password.as_str()));
    assert_eq!(
        propfind(&server, &url, &user, &password).await,
        StatusCode::MULTI_STATUS
    );
}

#[tokio::test]
async fn a_revoked_device_stops_working_at_once() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let browser = signed_in(&server, &anna, DESKTOP).await;
    let page = browser
        .submit("/devices/new", "/devices/desktop", &[("name", "Thunderbird")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let password = attribute_of(&page, "app-password", "value").unwrap();
    assert_eq!(
        propfind(&server, "/dav/addressbooks/anna/", "anna", &password).await,
        StatusCode::MULTI_STATUS
    );
    let (id, _) = devices(&browser)
        .await
        .into_iter()
        .find(|(_, name)| name == "Thunderbird")
        .unwrap();

    // The group-books choice of an app password is saved.
    let saved = browser
        .submit("/devices", &format!("/devices/{id}/books"), &[("books", "on")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let list = open_page(&browser, "/devices").await.body;
    assert!(list.contains("<option value=\"on\" selected>"), "{list}");

    let revoked = browser.submit("/devices", &format!("/devices/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(
        propfind(&server, "/dav/addressbooks/anna/", "anna", &password).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(!devices(&browser).await.iter().any(|(i, _)| *i == id));

    // Revoking this browser's own session signs it out.
    let list = open_page(&browser, "/devices").await.body;
    let me = list
        .split("class=\"device\" data-terminal=\"")
        .skip(1)
        .find(|row| row.split_once('>').unwrap().0.contains("data-current=\"true\""))
        .and_then(|row| row.split('"').next())
        .unwrap()
        .to_string();
    let out = browser.submit("/devices", &format!("/devices/{me}/revoke"), &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location().as_deref(), Some("/login"));
    let again = browser.get("/devices").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(
        again.location().unwrap_or_default().starts_with("/login"),
        "{:?}",
        again.location()
    );
}

#[tokio::test]
async fn pages_show_user_text_as_text() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let evil = "<img src=x onerror=alert(1)>";
    let browser = signed_in(&server, &anna, DESKTOP).await;

    let page = browser
        .submit("/devices/new", "/devices/desktop", &[("name", evil)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(shows_as_text(&page.body, evil), "{}", page.body);
    let list = open_page(&browser, "/devices").await.body;
    assert!(shows_as_text(&list, evil), "{list}");
    let cli = browser
        .submit("/devices/new", "/devices/cli", &[("name", evil)])
        .await
        .body;
    assert!(shows_as_text(&cli, evil), "{cli}");

    // Names reach the account and audience pages escaped too.
    let saved = browser
        .submit("/account", "/account/name", &[("display_name", evil)])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let account = open_page(&browser, "/account").await.body;
    assert!(shows_as_text(&account, evil), "{account}");

    let (status, _) = ben
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(serde_json::json!({"display_name": evil})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    anna.set_card("Anna", "030 1234567").await;
    let club = anna.create_group(evil, "invite_only").await;
    ben.accept(&anna.invite(club).await).await;
    let audience = open_page(&browser, "/me/audience").await;
    assert_eq!(audience.status, StatusCode::OK);
    assert!(shows_as_text(&audience.body, evil), "{}", audience.body);
    assert!(audience.body.contains("class=\"audience-group\""));
    assert!(
        audience
            .body
            .contains(&format!("class=\"audience-member\" data-account=\"{}\"", ben.id))
    );
}

#[tokio::test]
async fn forms_without_a_valid_token_change_nothing() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let browser = signed_in(&server, &anna, DESKTOP).await;
    let page = browser
        .submit("/devices/new", "/devices/desktop", &[("name", "Laptop")])
        .await;
    let password = attribute_of(&page, "app-password", "value").unwrap();
    let before = devices(&browser).await;
    let (laptop, _) = before.iter().find(|(_, n)| n == "Laptop").unwrap().clone();

    // Another browser's token is as good as none.
    let other = browser_as(&server, DESKTOP, "en");
    let foreign = other.get("/login").await.csrf();
    let attempts: [(String, Vec<(&str, &str)>); 6] = [
        ("/devices/desktop".into(), vec![("name", "Sneaky")]),
        ("/devices/apple".into(), vec![("name", "Sneaky")]),
        ("/devices/android".into(), vec![("name", "Sneaky")]),
        (format!("/devices/{laptop}/revoke"), vec![]),
        ("/account/name".into(), vec![("display_name", "Mallory")]),
        ("/account/delete".into(), vec![("password", &anna.password)]),
    ];
    for (action, fields) in &attempts {
        for csrf in [None, Some("bm9wZQ"), Some(foreign.as_str())] {
            let mut form = fields.clone();
            if let Some(token) = csrf {
                form.push(("csrf", token));
            }
            let answer = browser.post_form(action, &form).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{action} with {csrf:?}");
        }
    }
    assert_eq!(devices(&browser).await, before);
    assert_eq!(
        propfind(&server, "/dav/addressbooks/anna/", "anna", &password).await,
        StatusCode::MULTI_STATUS
    );
    let (_, me) = anna.get("/api/v1/me").await;
    assert_eq!(me["display_name"], "anna");
}

#[tokio::test]
async fn no_app_password_or_api_token_opens_the_pages() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let (status, created) = anna
        .post("/api/v1/app-passwords", serde_json::json!({"name": "phone"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let app_password = created["password"].as_str().unwrap().to_string();
    for credential in [app_password.as_str(), anna.token.as_str()] {
        for path in ["/devices", "/devices/new", "/account", "/me/audience"] {
            let browser = browser_as(&server, DESKTOP, "en");
            browser.set_cookie("roster_session", credential);
            let answer = browser.get(path).await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
            assert!(answer.location().unwrap_or_default().starts_with("/login"), "{path}");
            // HTTP Basic with the app password does not sign a page in either.
            install_crypto_provider();
            let basic = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(format!("{}{path}", server.base))
                .basic_auth("anna", Some(credential))
                .send()
                .await
                .unwrap();
            assert_eq!(basic.status(), StatusCode::SEE_OTHER, "{path}");
        }
    }
}

#[tokio::test]
async fn account_settings_change_the_name_the_password_and_delete() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let browser = signed_in(&server, &anna, DESKTOP).await;
    let page = open_page(&browser, "/account").await;
    for id in ["display-name-form", "password-form", "delete-form"] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }

    let saved = browser
        .submit("/account", "/account/name", &[("display_name", " Anna S. ")])
        .await;
    assert_eq!(saved.location().as_deref(), Some("/account?done=name"));
    let (_, me) = anna.get("/api/v1/me").await;
    assert_eq!(me["display_name"], "Anna S.");
    let bad = browser
        .submit("/account", "/account/name", &[("display_name", "  ")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"display-name-error\""));

    // A wrong current password is told at the form, and nothing changes.
    let wrong = browser
        .submit(
            "/account",
            "/account/password",
            &[("current_password", "not it"), ("new_password", "a new password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("id=\"password-error\""));
    let changed = browser
        .submit(
            "/account",
            "/account/password",
            &[("current_password", &anna.password), ("new_password", "a new password")],
        )
        .await;
    assert_eq!(
        changed.location().as_deref(),
        Some("/account?done=password"),
        "{}",
        changed.body
    );
    // This browser stays signed in; the API terminal was signed out.
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);
    assert_eq!(anna.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let anna = anna.login_as("anna", "a new password", "again").await;

    // An owner whose group has other members must hand it over first: told at the form.
    let club = anna.create_group("Club", "invite_only").await;
    let ben = server.user("ben").await;
    ben.accept(&anna.invite(club).await).await;
    let owner = browser
        .submit("/account", "/account/delete", &[("password", &anna.password)])
        .await;
    assert_eq!(owner.status, StatusCode::CONFLICT, "{}", owner.body);
    assert!(owner.body.contains("id=\"delete-error\""));
    let (status, _) = ben.delete(&format!("/api/v1/groups/{club}/membership")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let refused = browser
        .submit("/account", "/account/delete", &[("password", "not it")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("id=\"delete-error\""));
    let deleted = browser
        .submit("/account", "/account/delete", &[("password", &anna.password)])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(deleted.location().as_deref(), Some("/login"));
    assert_eq!(browser.cookie("roster_session"), None);
    let (status, _) = anna
        .send(
            Method::POST,
            "/api/v1/sessions",
            Some(serde_json::json!({"login": "anna", "password": "a new password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_page_reads_in_chinese() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna", "030 1234567").await;
    let club = anna.create_group("Club", "invite_only").await;
    ben.accept(&anna.invite(club).await).await;
    let browser = signed_in(&server, &anna, ANDROID).await;
    browser
        .headers
        .lock()
        .unwrap()
        .insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("zh-CN,zh;q=0.9"));
    for path in ["/devices", "/devices/new", "/account", "/me/audience"] {
        let page = open_page(&browser, path).await;
        assert!(page.body.contains("lang=\"zh-Hans\""), "{path}");
    }
    assert!(
        open_page(&browser, "/me/audience")
            .await
            .body
            .contains("1 位成员可以看到")
    );
    for (action, marker) in [
        ("/devices/android", "在 DAVx⁵ 中打开"),
        ("/devices/desktop", "Thunderbird"),
        ("/devices/cli", "roster login"),
    ] {
        let page = browser.submit("/devices/new", action, &[("name", "手机")]).await;
        assert_eq!(page.status, StatusCode::OK, "{action}");
        assert!(page.body.contains(marker), "{action}: {}", page.body);
    }
    let bad = browser
        .submit("/account", "/account/name", &[("display_name", " ")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"display-name-error\""));
    assert!(
        !bad.body.contains("control characters"),
        "the field error is in Chinese"
    );
    let profile = browser
        .submit("/devices/new", "/devices/apple", &[("name", "iPad")])
        .await;
    assert!(
        profile.body.contains("通讯录"),
        "the profile describes itself in the reader's language"
    );
}
