//! CardDAV at the protocol level: raw HTTP requests with XML bodies against the real server,
//! asserting on status lines, headers and the XML and vCards that come back.

mod interop;
mod listings;
mod many_properties;
mod paging;

use crate::support::{TestServer, User, http_client};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

/// A CardDAV client for one account: Basic auth with an app password.
pub(crate) struct Dav {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) login: String,
    pub(crate) password: String,
}

/// What came back: status, headers and body text.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The `<D:response>` elements, one string each.
    pub(crate) fn responses(&self) -> Vec<&str> {
        self.body.split("<D:response>").skip(1).collect()
    }

    /// The response for an href, if any.
    pub(crate) fn response_for(&self, href: &str) -> Option<&str> {
        self.responses()
            .into_iter()
            .find(|r| r.contains(&format!("<D:href>{href}</D:href>")))
    }
}

impl Dav {
    /// Creates an app password for `user` and a client using it.
    pub(crate) async fn for_user(user: &User) -> Dav {
        let (status, body) = user.post("/api/v1/app-passwords", json!({"name": "phone"})).await;
        assert_eq!(status, StatusCode::CREATED, "app password: {body}");
        Dav::with_password(user, body["password"].as_str().unwrap())
    }

    pub(crate) fn with_password(user: &User, password: &str) -> Dav {
        roster_server::tls::install_crypto_provider();
        Dav {
            base: user.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            login: user.login.clone(),
            password: password.to_string(),
        }
    }

    pub(crate) async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.login, Some(&self.password))
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).unwrap());
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn propfind(&self, path: &str, depth: &str, body: &str) -> Answer {
        self.request(
            "PROPFIND",
            path,
            &[("Depth", depth), ("Content-Type", "application/xml")],
            body,
        )
        .await
    }

    pub(crate) async fn report(&self, path: &str, body: &str) -> Answer {
        self.request(
            "REPORT",
            path,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            body,
        )
        .await
    }

    pub(crate) fn home(&self) -> String {
        format!("/dav/addressbooks/{}/", self.login)
    }

    pub(crate) fn book(&self, book: &str) -> String {
        format!("{}{book}/", self.home())
    }

    pub(crate) fn card(&self, book: &str, subject: Uuid) -> String {
        format!("{}{subject}.vcf", self.book(book))
    }

    /// A sync-collection REPORT; returns the answer and the new token.
    pub(crate) async fn sync(&self, book: &str, token: &str) -> (Answer, String) {
        let body = format!(
            r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        );
        let answer = self.report(&self.book(book), &body).await;
        assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
        let token = between(&answer.body, "<D:sync-token>", "</D:sync-token>").to_string();
        (answer, token)
    }

    /// GET of a card: status, ETag, body.
    pub(crate) async fn get_card(&self, book: &str, subject: Uuid) -> Answer {
        self.request("GET", &self.card(book, subject), &[], "").await
    }
}

pub(crate) fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("no {start} in {text}"));
    let to = text[from..]
        .find(end)
        .map(|i| from + i)
        .unwrap_or_else(|| panic!("no {end} in {text}"));
    &text[from..to]
}

/// Three people: anna and ben in group "Choir" and "Club", cara only in "Choir".
pub(crate) struct Setup {
    pub(crate) server: TestServer,
    pub(crate) anna: User,
    pub(crate) ben: User,
    pub(crate) cara: User,
    pub(crate) choir: Uuid,
    pub(crate) club: Uuid,
}

pub(crate) async fn setup() -> Setup {
    setup_with(|_| {}).await
}

pub(crate) async fn setup_with(tweak: impl FnOnce(&mut roster_server::Config)) -> Setup {
    let server = TestServer::start_with(tweak).await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    anna.set_card("Anna Schmidt", "030 1111111").await;
    let (status, body) = ben
        .put(
            "/api/v1/me/card",
            json!({"formatted_name": "Ben Meyer", "phones": [{"number": "030 2222222"}],
                   "emails": [{"address": "ben@example.org"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cara.set_card("Cara Vogel", "0151 33333333").await;
    let choir = anna.create_group("Choir", "invite_only").await;
    let club = anna.create_group("Club", "invite_only").await;
    for user in [&ben, &cara] {
        user.accept(&anna.invite(choir).await).await;
    }
    ben.accept(&anna.invite(club).await).await;
    // Ben shows his e-mail only to the club; the choir sees name and phones (the default).
    let (status, body) = ben
        .put(
            &format!("/api/v1/groups/{club}/share-policy"),
            json!({"fields": ["name", "phones", "emails"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Setup {
        server,
        anna,
        ben,
        cara,
        choir,
        club,
    }
}

#[tokio::test]
async fn discovery_leads_from_the_well_known_url_to_the_books() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;

    let redirect = dav
        .request("PROPFIND", "/.well-known/carddav", &[("Depth", "0")], "")
        .await;
    assert_eq!(redirect.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(redirect.header("location"), "/dav/");

    let options = dav.request("OPTIONS", "/dav/principals/anna/", &[], "").await;
    assert_eq!(options.status, StatusCode::OK);
    assert_eq!(options.header("dav"), "1, 3, access-control, addressbook, webdav-push");

    let body = r#"<propfind xmlns="DAV:"><prop><current-user-principal/><displayname/></prop></propfind>"#;
    for root in ["/", "/dav/"] {
        let answer = dav.propfind(root, "0", body).await;
        assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{root}: {}", answer.body);
        assert!(
            answer.body.contains(
                "<D:current-user-principal><D:href>/dav/principals/anna/</D:href></D:current-user-principal>"
            ),
            "{}",
            answer.body
        );
    }

    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><C:addressbook-home-set/><principal-URL/><displayname/></prop></propfind>"#;
    let principal = dav.propfind("/dav/principals/anna/", "0", body).await;
    assert!(
        principal
            .body
            .contains("<C:addressbook-home-set><D:href>/dav/addressbooks/anna/</D:href></C:addressbook-home-set>"),
        "{}",
        principal.body
    );
    assert!(
        principal
            .body
            .contains("<D:principal-URL><D:href>/dav/principals/anna/</D:href>")
    );

    // The home set lists `contacts` and `me`; per-group books only once enabled.
    let home = dav.propfind(&dav.home(), "1", "").await;
    assert_eq!(home.status, StatusCode::MULTI_STATUS, "{}", home.body);
    assert_eq!(home.responses().len(), 3, "{}", home.body);
    assert!(home.response_for("/dav/addressbooks/anna/contacts/").is_some());
    assert!(home.response_for("/dav/addressbooks/anna/me/").is_some());
    let me_card = format!(
        "<CS:me-card><D:href>/dav/addressbooks/anna/me/{}.vcf</D:href></CS:me-card>",
        s.anna.id
    );
    assert!(home.body.contains(&me_card), "{}", home.body);

    let (status, body) = s.anna.get("/api/v1/me/directory-settings").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"list_group_books": false})));
    let (status, _) = s
        .anna
        .put("/api/v1/me/directory-settings", json!({"list_group_books": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let home = dav.propfind(&dav.home(), "1", "").await;
    assert_eq!(home.responses().len(), 5, "{}", home.body);
    let choir = home.response_for(&dav.book(&s.choir.to_string())).unwrap();
    assert!(choir.contains("<D:displayname>Choir</D:displayname>"), "{choir}");
    assert!(choir.contains("<C:addressbook/>"));
    // Apple clients get the merged book only, whatever the setting.
    let apple = dav
        .request(
            "PROPFIND",
            &dav.home(),
            &[("Depth", "1"), ("User-Agent", "iOS/18.2 (22C152) dataaccessd/1.0")],
            "",
        )
        .await;
    assert_eq!(apple.responses().len(), 3, "{}", apple.body);
    assert!(apple.response_for(&dav.book(&s.choir.to_string())).is_none());
}

/// How many books a device's home set lists (the home itself not counted).
async fn listed_books(dav: &Dav, user_agent: Option<&str>) -> usize {
    let mut headers = vec![("Depth", "1")];
    if let Some(agent) = user_agent {
        headers.push(("User-Agent", agent));
    }
    let home = dav.request("PROPFIND", &dav.home(), &headers, "").await;
    assert_eq!(home.status, StatusCode::MULTI_STATUS, "{}", home.body);
    home.responses().len() - 1
}

#[tokio::test]
async fn each_device_is_offered_its_own_books() {
    let s = setup().await;
    const IOS: &str = "iOS/18.2 (22C152) dataaccessd/1.0";
    // Two groups: with them listed a home has contacts, me, choir and club.
    let (status, body) = s
        .anna
        .post("/api/v1/app-passwords", json!({"name": "laptop", "group_books": true}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["terminal"]["group_books"], json!(true));
    let laptop = Dav::with_password(&s.anna, body["password"].as_str().unwrap());
    let (status, body) = s.anna.post("/api/v1/app-passwords", json!({"name": "tablet"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let tablet_id = body["terminal"]["id"].as_str().unwrap().to_string();
    let tablet = Dav::with_password(&s.anna, body["password"].as_str().unwrap());
    let (_, body) = s.anna.post("/api/v1/app-passwords", json!({"name": "iPhone"})).await;
    let iphone_id = body["terminal"]["id"].as_str().unwrap().to_string();
    let iphone = Dav::with_password(&s.anna, body["password"].as_str().unwrap());

    // The account's default is off: only the device that asked lists the group books.
    assert_eq!(listed_books(&laptop, None).await, 4);
    assert_eq!(listed_books(&tablet, None).await, 2);

    // The account's default on: every device follows it but the Apple one, which keeps the
    // merged book even on requests that do not name the client.
    let (status, _) = s
        .anna
        .put("/api/v1/me/directory-settings", json!({"list_group_books": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed_books(&tablet, None).await, 4);
    assert_eq!(listed_books(&iphone, Some(IOS)).await, 2);
    assert_eq!(listed_books(&iphone, None).await, 2);
    let (_, terminals) = s.anna.get("/api/v1/terminals").await;
    let seen = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(iphone_id))
        .unwrap();
    assert_eq!(seen["client"], json!(IOS), "{terminals}");

    // Each device's choice can be changed, and given back to the account.
    let books = |id: &str| format!("/api/v1/terminals/{id}/books");
    let (status, body) = s.anna.put(&books(&tablet_id), json!({"group_books": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["group_books"], json!(false));
    assert_eq!(listed_books(&tablet, None).await, 2);
    let (status, _) = s.anna.put(&books(&tablet_id), json!({"group_books": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed_books(&tablet, None).await, 4);
    let (status, _) = s.anna.put(&books(&iphone_id), json!({"group_books": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed_books(&iphone, Some(IOS)).await, 4);

    // Only the account's own app passwords have books to choose.
    let session = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["current"] == json!(true))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = s.anna.put(&books(&session), json!({"group_books": true})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = s.ben.put(&books(&tablet_id), json!({"group_books": true})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.anna.put(&books(&Uuid::new_v4().to_string()), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(listed_books(&tablet, None).await, 4);
}

#[tokio::test]
async fn only_app_passwords_open_carddav_and_failures_are_limited() {
    let server = TestServer::start_with(|c| c.rates.logins_per_minute = 3).await;
    let anna = server.user("anna").await;
    let dav = Dav::for_user(&anna).await;
    let path = "/dav/principals/anna/";

    // The app password is a terminal like any other.
    let (_, terminals) = anna.get("/api/v1/terminals").await;
    let kinds: Vec<&str> = terminals
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"app_password"), "{terminals}");

    assert_eq!(dav.propfind(path, "0", "").await.status, StatusCode::MULTI_STATUS);

    // A request without credentials is a challenge with a fixed realm.
    let anonymous = http_client()
        .request(
            Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{}{path}", server.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"].to_str().unwrap(),
        "Basic realm=\"Roster\", charset=\"UTF-8\""
    );

    // Neither the main password nor a session token is an app password.
    for secret in [anna.password.as_str(), anna.token.as_str()] {
        let answer = Dav::with_password(&anna, secret).propfind(path, "0", "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    // The right app password under another login is no good either.
    let mut wrong_login = Dav::with_password(&anna, &dav.password);
    wrong_login.login = "ben".into();
    assert_eq!(
        wrong_login.propfind(path, "0", "").await.status,
        StatusCode::UNAUTHORIZED
    );

    // Three failures from this client (the three above) and its further guesses are
    // refused, whatever the login; the app password itself still works, because app
    // passwords are checked first and no failure count stands in their way (issue 11).
    let answer = Dav::with_password(&anna, "guess").propfind(path, "0", "").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!answer.header("retry-after").is_empty());
    let mut unknown = Dav::with_password(&anna, "guess");
    unknown.login = "nobody".into();
    assert_eq!(
        unknown.propfind(path, "0", "").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let answer = dav.propfind(path, "0", "").await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);

    // Revoking the terminal revokes the password.
    let server2 = TestServer::start().await;
    let ben = server2.user("ben").await;
    let dav = Dav::for_user(&ben).await;
    let (_, terminals) = ben.get("/api/v1/terminals").await;
    let id = terminals
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "app_password")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ben.delete(&format!("/api/v1/terminals/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.propfind("/dav/principals/ben/", "0", "").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_operator_may_allow_the_main_password() {
    let server = TestServer::start_with(|c| c.carddav_main_password = true).await;
    let anna = server.user("anna").await;
    let dav = Dav::with_password(&anna, &anna.password.clone());
    assert_eq!(
        dav.propfind("/dav/principals/anna/", "0", "").await.status,
        StatusCode::MULTI_STATUS
    );
    let other = Dav::with_password(&anna, "wrong password");
    assert_eq!(
        other.propfind("/dav/principals/anna/", "0", "").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn propfind_on_a_book_lists_cards_and_answers_unknown_properties_404() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let body = r#"<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:x="urn:example">
  <d:prop><d:resourcetype/><d:getetag/><cs:getctag/><d:sync-token/><d:current-user-privilege-set/><x:color/></d:prop>
</d:propfind>"#;
    let answer = dav.propfind(&dav.book("contacts"), "1", body).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    assert!(answer.header("content-type").starts_with("application/xml"));
    // The book itself and Ben and Cara, once each.
    assert_eq!(answer.responses().len(), 3, "{}", answer.body);
    let book = answer.response_for(&dav.book("contacts")).unwrap();
    // Thunderbird keeps a book only if the first status is exactly this.
    let first_status = between(book, "<D:status>", "</D:status>");
    assert_eq!(first_status, "HTTP/1.1 200 OK");
    let token = between(book, "<D:sync-token>", "</D:sync-token>");
    assert!(token.starts_with("urn:"), "{token}");
    assert_eq!(between(book, "<CS:getctag>", "</CS:getctag>"), token);
    assert!(book.contains("<C:addressbook/>"));
    assert!(!book.contains("write"), "contacts is read-only: {book}");
    assert!(
        book.contains(r#"<color xmlns="urn:example"/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status>"#),
        "{book}"
    );

    let ben_href = dav.card("contacts", s.ben.id);
    let ben = answer.response_for(&ben_href).unwrap();
    let etag = between(ben, "<D:getetag>", "</D:getetag>");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(ben.contains("<D:resourcetype/>"), "{ben}");

    // GET gives the same strong ETag, vCard 3.0 unless 4.0 is asked for.
    let get = dav.get_card("contacts", s.ben.id).await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.header("etag"), etag);
    assert!(get.header("content-type").starts_with("text/vcard"));
    assert!(get.body.contains("VERSION:3.0"), "{}", get.body);
    assert!(get.body.contains("FN:Ben Meyer"));
    assert!(get.body.contains("+49302222222"));
    assert!(get.body.contains(&format!("UID:{}", s.ben.id)));
    let v4 = dav
        .request("GET", &ben_href, &[("Accept", "text/vcard; version=4.0")], "")
        .await;
    assert!(v4.body.contains("VERSION:4.0"), "{}", v4.body);
    let unchanged = dav.request("GET", &ben_href, &[("If-None-Match", etag)], "").await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    let head = dav.request("HEAD", &ben_href, &[], "").await;
    assert_eq!(
        (head.status, head.header("etag"), head.body.as_str()),
        (StatusCode::OK, etag, "")
    );

    // Strangers and oneself are not in the book.
    assert_eq!(
        dav.get_card("contacts", Uuid::new_v4()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(dav.get_card("contacts", s.anna.id).await.status, StatusCode::NOT_FOUND);
    // Another account's tree is not there for anna.
    let other = dav.propfind("/dav/addressbooks/ben/contacts/", "0", "").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_are_refused_cleanly() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let book = dav.book("contacts");
    let infinity = dav.propfind(&book, "infinity", "").await;
    assert_eq!(infinity.status, StatusCode::FORBIDDEN);
    assert!(
        infinity.body.contains("<D:propfind-finite-depth/>"),
        "{}",
        infinity.body
    );
    assert_eq!(dav.propfind(&book, "2", "").await.status, StatusCode::BAD_REQUEST);
    for bad in [
        "<propfind xmlns=\"DAV:\"><prop>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><propfind xmlns=\"DAV:\">&a;</propfind>",
        "not xml at all",
    ] {
        assert_eq!(
            dav.propfind(&book, "0", bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
        assert_eq!(dav.report(&book, bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let unknown_report = dav.report(&book, r#"<x:frobnicate xmlns:x="urn:example"/>"#).await;
    assert_eq!(unknown_report.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        dav.propfind(&dav.book(&Uuid::new_v4().to_string()), "0", "")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "a group anna is not in"
    );
    let too_big = "x".repeat(2 * 1024 * 1024);
    assert_eq!(dav.report(&book, &too_big).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn contacts_merge_shared_groups_and_group_books_follow_each_policy() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    // In contacts: Ben once, with the union of both groups' fields and both names.
    let ben = dav.get_card("contacts", s.ben.id).await.body;
    assert!(ben.contains("ben@example.org"), "{ben}");
    assert!(ben.contains("+49302222222"));
    assert!(ben.contains("CATEGORIES:Choir,Club"), "{ben}");
    // The choir's book shows what the choir may see, exactly as the JSON directory does.
    let choir = s.choir.to_string();
    let in_choir = dav.get_card(&choir, s.ben.id).await.body;
    assert!(in_choir.contains("+49302222222"), "{in_choir}");
    assert!(!in_choir.contains("ben@example.org"), "{in_choir}");
    let directory = s.anna.directory(s.choir).await;
    assert!(
        directory[&s.ben.id.to_string()]["emails"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let in_club = dav.get_card(&s.club.to_string(), s.ben.id).await.body;
    assert!(in_club.contains("ben@example.org"));
    // Cara is only in the choir: in contacts with one category, absent from the club book.
    let cara = dav.get_card("contacts", s.cara.id).await.body;
    assert!(cara.contains("CATEGORIES:Choir\r\n"), "{cara}");
    assert_eq!(
        dav.get_card(&s.club.to_string(), s.cara.id).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn multiget_and_query_reports() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let book = dav.book("contacts");
    let missing = dav.card("contacts", Uuid::new_v4());
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/><C:address-data/></D:prop>
<D:href>{}</D:href><D:href>{missing}</D:href><D:href>{}{}</D:href></C:addressbook-multiget>"#,
        dav.card("contacts", s.ben.id),
        s.server.base,
        dav.card("contacts", s.cara.id),
    );
    let answer = dav.report(&book, &body).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    assert_eq!(answer.responses().len(), 3, "{}", answer.body);
    let ben = answer.response_for(&dav.card("contacts", s.ben.id)).unwrap();
    assert!(ben.contains("<C:address-data>BEGIN:VCARD\r\nVERSION:3.0"), "{ben}");
    assert!(ben.contains("FN:Ben Meyer"));
    let gone = answer.response_for(&missing).unwrap();
    assert!(gone.contains("<D:status>HTTP/1.1 404 Not Found</D:status>"), "{gone}");
    assert!(!gone.contains("propstat"));
    assert!(
        answer.body.contains("FN:Cara Vogel"),
        "an absolute href names the same card"
    );

    let v4 = body.replace(
        "<C:address-data/>",
        r#"<C:address-data content-type="text/vcard" version="4.0"/>"#,
    );
    assert!(dav.report(&book, &v4).await.body.contains("VERSION:4.0"));

    let query = |prop: &str, text: &str, limit: &str| {
        format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="{prop}"><C:text-match match-type="contains">{text}</C:text-match></C:prop-filter></C:filter>{limit}</C:addressbook-query>"#
        )
    };
    let by_name = dav.report(&book, &query("FN", "vogel", "")).await;
    assert_eq!(by_name.responses().len(), 1, "{}", by_name.body);
    assert!(by_name.response_for(&dav.card("contacts", s.cara.id)).is_some());
    let by_phone = dav.report(&book, &query("TEL", "2222222", "")).await;
    assert!(by_phone.response_for(&dav.card("contacts", s.ben.id)).is_some());
    assert_eq!(by_phone.responses().len(), 1);
    let by_email = dav.report(&book, &query("EMAIL", "example.org", "")).await;
    assert_eq!(by_email.responses().len(), 1);
    // Through the choir alone, Ben's e-mail is hidden, so it cannot be searched either.
    let choir_email = dav
        .report(&dav.book(&s.choir.to_string()), &query("EMAIL", "example.org", ""))
        .await;
    assert_eq!(choir_email.responses().len(), 0, "{}", choir_email.body);
    let limited = dav
        .report(
            &book,
            &query("FN", "e", "<C:limit><C:nresults>1</C:nresults></C:limit>"),
        )
        .await;
    let responses = limited.responses();
    assert_eq!(responses.len(), 2, "{}", limited.body);
    assert!(
        responses[1].contains("HTTP/1.1 507 Insufficient Storage"),
        "{}",
        limited.body
    );
}

/// A listing is kept for the multigets that follow it: every change to what the book shows
/// (a card, a share policy, a group's name in CATEGORIES) must still reach them at once.
#[tokio::test]
async fn a_listed_book_follows_every_change() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let book = dav.book("contacts");
    let listing = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#;
    let multiget = |subject: Uuid| {
        format!(
            r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>{}</D:href></C:addressbook-multiget>"#,
            dav.card("contacts", subject)
        )
    };
    let etag_in = |answer: &Answer, subject: Uuid| {
        let response = answer.response_for(&dav.card("contacts", subject)).unwrap();
        between(response, "<D:getetag>", "</D:getetag>").to_string()
    };
    let listed = dav.propfind(&book, "1", listing).await;
    let cara_etag = etag_in(&listed, s.cara.id);
    let ben_etag = etag_in(&listed, s.ben.id);

    s.cara.set_card("Cara Vogel", "0151 44444444").await;
    let fetched = dav.report(&book, &multiget(s.cara.id)).await;
    assert!(fetched.body.contains("+4915144444444"), "{}", fetched.body);
    assert_ne!(etag_in(&fetched, s.cara.id), cara_etag);
    assert_ne!(etag_in(&dav.propfind(&book, "1", listing).await, s.cara.id), cara_etag);

    let (status, body) = s
        .ben
        .put(
            &format!("/api/v1/groups/{}/share-policy", s.club),
            json!({"fields": ["name", "phones"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ben = dav.get_card("contacts", s.ben.id).await;
    assert!(!ben.body.contains("ben@example.org"), "{}", ben.body);
    assert_ne!(ben.header("etag"), ben_etag);

    let listed = dav.propfind(&book, "1", listing).await;
    let ben_etag = etag_in(&listed, s.ben.id);
    let (status, body) = s
        .anna
        .send(
            Method::PATCH,
            &format!("/api/v1/groups/{}", s.club),
            Some(json!({"name": "Tennis"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fetched = dav.report(&book, &multiget(s.ben.id)).await;
    assert!(fetched.body.contains("CATEGORIES:Choir,Tennis"), "{}", fetched.body);
    assert_ne!(etag_in(&fetched, s.ben.id), ben_etag);
    assert_ne!(etag_in(&dav.propfind(&book, "1", listing).await, s.ben.id), ben_etag);
}

#[tokio::test]
async fn sync_collection_reports_updates_and_removals() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let (first, token) = dav.sync("contacts", "").await;
    assert_eq!(first.responses().len(), 2, "{}", first.body);
    assert!(token.starts_with("urn:"));

    // Nothing changed: nothing reported, same token.
    let (same, again) = dav.sync("contacts", &token).await;
    assert_eq!(same.responses().len(), 0, "{}", same.body);
    assert_eq!(again, token);

    // A phone change shows up as that one card with its new ETag.
    let old_etag = dav.get_card("contacts", s.cara.id).await.header("etag").to_string();
    s.cara.set_card("Cara Vogel", "0151 44444444").await;
    let (changed, token) = dav.sync("contacts", &token).await;
    assert_eq!(changed.responses().len(), 1, "{}", changed.body);
    let cara = changed.response_for(&dav.card("contacts", s.cara.id)).unwrap();
    let new_etag = between(cara, "<D:getetag>", "</D:getetag>");
    assert_ne!(new_etag, old_etag);
    assert_eq!(dav.get_card("contacts", s.cara.id).await.header("etag"), new_etag);

    // Ben leaves the club but stays in the choir: still there, without the club's fields.
    assert_eq!(
        s.ben.delete(&format!("/api/v1/groups/{}/membership", s.club)).await.0,
        StatusCode::NO_CONTENT
    );
    let (left_one, token) = dav.sync("contacts", &token).await;
    let ben = left_one.response_for(&dav.card("contacts", s.ben.id)).unwrap();
    assert!(ben.contains("HTTP/1.1 200 OK"), "{ben}");
    let card = dav.get_card("contacts", s.ben.id).await.body;
    assert!(
        card.contains("CATEGORIES:Choir\r\n") && !card.contains("ben@example.org"),
        "{card}"
    );
    // ...and out of the club's book, as a bare 404.
    let club = s.club.to_string();
    let (club_sync, _) = dav.sync(&club, "").await;
    assert_eq!(club_sync.responses().len(), 0, "{}", club_sync.body);

    // Leaving the last shared group removes him.
    assert_eq!(
        s.ben.delete(&format!("/api/v1/groups/{}/membership", s.choir)).await.0,
        StatusCode::NO_CONTENT
    );
    let (left_all, token) = dav.sync("contacts", &token).await;
    let ben = left_all.response_for(&dav.card("contacts", s.ben.id)).unwrap();
    assert!(ben.contains("<D:status>HTTP/1.1 404 Not Found</D:status>"), "{ben}");
    assert!(!ben.contains("propstat"), "{ben}");
    assert_eq!(dav.get_card("contacts", s.ben.id).await.status, StatusCode::NOT_FOUND);

    // Anna leaving the choir empties her contacts book, reported as removals.
    assert_eq!(
        s.anna.delete(&format!("/api/v1/groups/{}/membership", s.choir)).await.0,
        StatusCode::CONFLICT,
        "the owner cannot just leave"
    );
    let (_, still) = dav.sync("contacts", &token).await;
    assert_eq!(still, token);
}

#[tokio::test]
async fn group_books_sync_by_group_version_and_joining_fills_contacts() {
    let s = setup().await;
    let dav = Dav::for_user(&s.cara).await;
    let (first, token) = dav.sync("contacts", "").await;
    assert_eq!(first.responses().len(), 2, "anna and ben: {}", first.body);
    // Cara joins the club: nobody new, but Ben's card now carries the club's fields.
    s.cara.accept(&s.anna.invite(s.club).await).await;
    let (joined, _) = dav.sync("contacts", &token).await;
    let ben = joined.response_for(&dav.card("contacts", s.ben.id)).unwrap();
    assert!(ben.contains("HTTP/1.1 200 OK"), "{}", joined.body);
    assert!(
        dav.get_card("contacts", s.ben.id)
            .await
            .body
            .contains("ben@example.org")
    );

    let choir = s.choir.to_string();
    let (_, token) = dav.sync(&choir, "").await;
    s.ben.set_card("Ben Meyer", "030 5555555").await;
    let (changed, _) = dav.sync(&choir, &token).await;
    assert_eq!(changed.responses().len(), 1, "{}", changed.body);
    assert!(changed.response_for(&dav.card(&choir, s.ben.id)).is_some());
}

#[tokio::test]
async fn an_unknown_sync_token_asks_for_a_fresh_start() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let body = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>urn:x-roster:sync:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let answer = dav.report(&dav.book("contacts"), body).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains("<D:valid-sync-token/>"), "{}", answer.body);
    // Thunderbird recovers only from 400.
    let thunderbird = dav
        .request(
            "REPORT",
            &dav.book("contacts"),
            &[("User-Agent", "Mozilla/5.0 Thunderbird/140.0")],
            body,
        )
        .await;
    assert_eq!(thunderbird.status, StatusCode::BAD_REQUEST);
    assert!(thunderbird.body.contains("<D:valid-sync-token/>"));
    // A token from another book is no good here either.
    let (_, me_token) = dav.sync("me", "").await;
    let foreign = body.replace("urn:x-roster:sync:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &me_token);
    assert_eq!(
        dav.report(&dav.book("contacts"), &foreign).await.status,
        StatusCode::FORBIDDEN
    );
    let garbage = body.replace("urn:x-roster:sync:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "http://x/1");
    assert_eq!(
        dav.report(&dav.book("contacts"), &garbage).await.status,
        StatusCode::FORBIDDEN
    );
}

const ANNA_VCARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:whatever\r\nFN:Anna S.\r\nN:S.;Anna;;;\r\n\
TEL;TYPE=cell:+49 30 9999999\r\nEMAIL:anna@example.org\r\nEND:VCARD\r\n";

#[tokio::test]
async fn my_card_is_written_through_me_and_reaches_the_directory() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let me = dav.book("me");
    let privileges = dav
        .propfind(
            &me,
            "0",
            r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>"#,
        )
        .await;
    assert!(privileges.body.contains("<D:write-content/>"), "{}", privileges.body);

    let (list, token) = dav.sync("me", "").await;
    assert_eq!(list.responses().len(), 1);
    let href = dav.card("me", s.anna.id);
    let etag = dav.get_card("me", s.anna.id).await.header("etag").to_string();
    assert_eq!(etag, "\"1\"", "the card's revision, as in the JSON API");

    let put = |if_match: &str, body: &str| {
        let dav = &dav;
        let href = href.clone();
        let headers = [
            ("If-Match", if_match.to_string()),
            ("Content-Type", "text/vcard".to_string()),
        ];
        let body = body.to_string();
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            dav.request("PUT", &href, &headers, &body).await
        }
    };
    assert_eq!(put("\"7\"", ANNA_VCARD).await.status, StatusCode::PRECONDITION_FAILED);
    let written = put(&etag, ANNA_VCARD).await;
    assert_eq!(written.status, StatusCode::NO_CONTENT, "{}", written.body);
    assert_eq!(written.header("etag"), "", "normalised: no ETag");

    // Ben's JSON directory shows the new number.
    let directory = s.ben.directory(s.choir).await;
    let anna = &directory[&s.anna.id.to_string()];
    assert_eq!(anna["phones"][0]["number"], "+49309999999", "{anna}");
    assert_eq!(anna["formatted_name"], "Anna S.");

    let (changed, _) = dav.sync("me", &token).await;
    assert_eq!(changed.responses().len(), 1, "{}", changed.body);
    let mine = dav.get_card("me", s.anna.id).await;
    assert!(mine.body.contains("anna@example.org"), "{}", mine.body);
    assert_eq!(mine.header("etag"), "\"2\"");

    // A vCard that is not one, and one the card rules refuse.
    let garbage = put("\"2\"", "hello").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(garbage.body.contains("<C:valid-address-data/>"), "{}", garbage.body);
    let no_phone = ANNA_VCARD.replace("TEL;TYPE=cell:+49 30 9999999\r\n", "TEL:not a number\r\n");
    let refused = put("\"2\"", &no_phone).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("<C:valid-address-data/>"), "{}", refused.body);
    assert!(refused.body.contains("phones"), "{}", refused.body);

    // If-None-Match: * means "create", but the card exists.
    let create = dav.request("PUT", &href, &[("If-None-Match", "*")], ANNA_VCARD).await;
    assert_eq!(create.status, StatusCode::PRECONDITION_FAILED);
    // No other card may be added to `me`, and mine may not be deleted.
    let other = dav
        .request("PUT", &dav.card("me", Uuid::new_v4()), &[], ANNA_VCARD)
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains("<D:need-privileges>"));
    let delete = dav.request("DELETE", &href, &[], "").await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    assert!(delete.body.contains("<D:need-privileges>"));
}

#[tokio::test]
async fn writes_to_read_only_books_need_privileges() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let choir = s.choir.to_string();
    let (_, token) = dav.sync("contacts", "").await;
    for book in ["contacts", choir.as_str()] {
        let href = dav.card(book, s.ben.id);
        for (method, body) in [("PUT", ANNA_VCARD), ("DELETE", "")] {
            let answer = dav.request(method, &href, &[], body).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {href}");
            assert!(answer.body.contains("<D:need-privileges>"), "{}", answer.body);
            assert!(answer.body.contains("<D:write-content/>"), "{}", answer.body);
        }
        let privileges = dav
            .propfind(
                &dav.book(book),
                "0",
                r#"<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>"#,
            )
            .await;
        assert!(privileges.body.contains("<D:read/>"), "{}", privileges.body);
        assert!(!privileges.body.contains("write"), "{}", privileges.body);
        let options = dav.request("OPTIONS", &dav.book(book), &[], "").await;
        assert!(!options.header("allow").contains("PUT"));
    }
    // Ben's card is unchanged, and reported again so that clients overwrite their edit.
    assert!(dav.get_card("contacts", s.ben.id).await.body.contains("FN:Ben Meyer"));
    let (again, _) = dav.sync("contacts", &token).await;
    assert_eq!(again.responses().len(), 1, "{}", again.body);
    assert!(again.response_for(&dav.card("contacts", s.ben.id)).is_some());
    // Apple's me-card may be "set" (it always is the card in `me`); other properties not.
    let patch = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:set><D:prop><CS:me-card><D:href>/x</D:href></CS:me-card></D:prop></D:set></D:propertyupdate>"#;
    let answer = dav.request("PROPPATCH", &dav.home(), &[], patch).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert!(answer.body.contains("HTTP/1.1 200 OK"), "{}", answer.body);
    let other = patch.replace("CS:me-card", "D:displayname");
    let answer = dav.request("PROPPATCH", &dav.book("contacts"), &[], &other).await;
    assert!(answer.body.contains("HTTP/1.1 403 Forbidden"), "{}", answer.body);
}

#[tokio::test]
async fn a_token_older_than_the_compacted_log_expires() {
    let s = setup_with(|c| {
        c.log_keep_versions = 0;
        c.log_keep_for = std::time::Duration::ZERO;
    })
    .await;
    let dav = Dav::for_user(&s.anna).await;
    let (_, old) = dav.sync("contacts", "").await;
    s.ben.set_card("Ben Meyer", "030 7777777").await;
    s.cara.set_card("Cara Vogel", "0151 77777777").await;
    assert!(s.server.roster.compact_log().await.unwrap() > 0);
    let body = format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{old}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    );
    let expired = dav.report(&dav.book("contacts"), &body).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN, "{}", expired.body);
    assert!(expired.body.contains("<D:valid-sync-token/>"));
    // Starting again from an empty token works and gives a token that works.
    let (fresh, token) = dav.sync("contacts", "").await;
    assert_eq!(fresh.responses().len(), 2);
    let (nothing, _) = dav.sync("contacts", &token).await;
    assert_eq!(nothing.responses().len(), 0, "{}", nothing.body);
}

#[tokio::test]
async fn a_forged_or_borrowed_sync_token_is_refused_and_lists_nobody() {
    let s = setup().await;
    // Dora is in no group with anyone; she knows the choir's id (ids are not secrets).
    let dora = s.server.user("dora").await;
    dora.set_card("Dora", "030 4444444").await;
    let dav = Dav::for_user(&dora).await;
    let (_, honest) = dav.sync("contacts", "").await;

    // A token in the unsigned layout naming the choir at version 0: before tokens were signed,
    // this listed the choir's members as removals.
    use base64::Engine;
    let mut forged = vec![1u8, 0];
    forged.extend_from_slice(&1u32.to_be_bytes());
    forged.extend_from_slice(s.choir.as_bytes());
    forged.extend_from_slice(&0i64.to_be_bytes());
    forged.extend_from_slice(&0u64.to_be_bytes());
    let unsigned = format!(
        "urn:x-roster:sync:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&forged)
    );
    // The same with the current format byte and a made-up MAC, and Dora's own token edited.
    let mut with_mac = forged.clone();
    with_mac[0] = 2;
    with_mac.extend_from_slice(&[0u8; 16]);
    let made_up = format!(
        "urn:x-roster:sync:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&with_mac)
    );
    let mut edited = honest.clone();
    edited.replace_range(edited.len() - 3.., "AAA");
    // Anna's real token of the contacts book, replayed by Dora.
    let anna = Dav::for_user(&s.anna).await;
    let (_, borrowed) = anna.sync("contacts", "").await;
    for token in [unsigned, made_up, edited, borrowed] {
        let body = format!(
            r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        );
        let answer = dav.report(&dav.book("contacts"), &body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{token}: {}", answer.body);
        assert!(answer.body.contains("<D:valid-sync-token/>"), "{}", answer.body);
        for member in [s.anna.id, s.ben.id, s.cara.id] {
            assert!(!answer.body.contains(&member.to_string()), "{token} leaks {member}");
        }
    }
    // Her honest token still works.
    let (again, _) = dav.sync("contacts", &honest).await;
    assert!(again.responses().is_empty(), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_edit_is_reported_again_by_whichever_instance_answers_the_next_sync() {
    let Some(schema) = roster_server::store::postgres::testing::TestSchema::from_env("refetch").await else {
        return;
    };
    let url = schema.url().to_owned();
    let one = TestServer::start_with(|c| c.database_url = url.clone()).await;
    let two = TestServer::start_with(|c| c.database_url = url.clone()).await;
    let anna = one.user("anna").await;
    let ben = one.user("ben").await;
    anna.set_card("Anna", "030 1111111").await;
    ben.set_card("Ben Meyer", "030 2222222").await;
    let group = anna.create_group("Choir", "invite_only").await;
    ben.accept(&anna.invite(group).await).await;
    let dav = Dav::for_user(&anna).await;
    let (_, token) = dav.sync("contacts", "").await;
    // Anna's phone edits Ben's card through the first instance: refused.
    let refused = dav.request("PUT", &dav.card("contacts", ben.id), &[], ANNA_VCARD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Its next sync reaches the second instance, which reports Ben's card again.
    let elsewhere = Dav::with_password(&anna.clone_at(&two.base), &dav.password);
    let (again, token) = elsewhere.sync("contacts", &token).await;
    assert_eq!(again.responses().len(), 1, "{}", again.body);
    assert!(again.response_for(&dav.card("contacts", ben.id)).is_some());
    // Once: the sync after that has nothing, on either instance.
    let (after, _) = dav.sync("contacts", &token).await;
    assert_eq!(after.responses().len(), 0, "{}", after.body);
    two.stop().await;
    one.stop().await;
}
