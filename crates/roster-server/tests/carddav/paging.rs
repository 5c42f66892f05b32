//! Big books over CardDAV: streamed listings, sync-collection answers cut into 507 pages
//! (RFC 6578 §3.6) that a client follows to exactly the book while it changes, and group
//! renames reaching tokens and CATEGORIES.
//!
//! Crowds are seeded through the store's own use cases (no password hashing); everything the
//! tests assert on goes over HTTP.

use super::{Answer, Dav, between, setup};
use crate::support::{TestServer, User};
use reqwest::StatusCode;
use roster_proto::api::{CardInput, MembershipState, PhoneInput};
use roster_server::domain::card::Card;
use roster_server::domain::ids::{AccountId, GroupId};
use roster_server::domain::model::Account;
use roster_server::domain::model::Joining;
use roster_server::domain::ports::{AccountStore, DirectoryStore, GroupStore};
use roster_server::domain::share_policy::ShareFields;
use roster_server::store::sqlite::SqliteStore;
use serde_json::json;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Members of one group, seeded next to the server's own connection.
struct Crowd {
    store: SqliteStore,
    group: Uuid,
    members: Vec<Uuid>,
}

fn card(server: &TestServer, name: &str, number: usize, note: Option<&str>) -> Card {
    let input = CardInput {
        formatted_name: name.into(),
        phones: vec![PhoneInput {
            number: format!("+49 30 {:07}", 1_000_000 + number),
            kind: None,
        }],
        note: note.map(str::to_string),
        ..CardInput::default()
    };
    Card::parse(&input, &server.roster.settings().card_rules).unwrap()
}

impl Crowd {
    /// `owner` creates a group named `name` and `count` seeded accounts join it.
    async fn gather(server: &TestServer, owner: &User, name: &str, count: usize) -> Crowd {
        let group = owner.create_group(name, "invite_only").await;
        let store = SqliteStore::connect(&server.database_url).await.unwrap();
        let mut crowd = Crowd {
            store,
            group,
            members: Vec::new(),
        };
        for i in 0..count {
            let member = crowd.join_new(server, &format!("{name} member {i}"), i).await;
            crowd.members.push(member);
        }
        crowd
    }

    /// A new account with a card joins the group; returns its id.
    async fn join_new(&self, server: &TestServer, name: &str, number: usize) -> Uuid {
        let now = OffsetDateTime::now_utc();
        let account = Account {
            id: AccountId::random(),
            login: format!("m{}", Uuid::new_v4().simple()),
            display_name: name.into(),
            created_at: now,
        };
        self.store.create_account(&account, "not a hash").await.unwrap();
        let card = card(server, name, number, None);
        self.store
            .set_card(account.id, &card, 0, ShareFields::ALL, now)
            .await
            .unwrap();
        self.join(account.id.0).await;
        account.id.0
    }

    async fn join(&self, account: Uuid) {
        let joining = Joining {
            group_id: GroupId(self.group),
            account_id: AccountId(account),
            state: MembershipState::Active,
            share: ShareFields::default_policy(),
            invite: None,
            at: OffsetDateTime::now_utc(),
        };
        self.store.join(&joining).await.unwrap();
    }

    async fn set_phone(&self, server: &TestServer, member: Uuid, number: usize) {
        let account = AccountId(member);
        let revision = self.store.card(account).await.unwrap().unwrap().revision;
        let card = card(server, "Changed Phone", number, None);
        self.store
            .set_card(account, &card, revision, ShareFields::ALL, OffsetDateTime::now_utc())
            .await
            .unwrap();
    }

    async fn leave(&self, member: Uuid) {
        self.store
            .end_membership(
                GroupId(self.group),
                AccountId(member),
                MembershipState::Left,
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
    }
}

/// A sync-collection REPORT asking `getetag` (and `address-data` when `data`), with a limit.
async fn sync_page(dav: &Dav, book: &str, token: &str, nresults: Option<usize>, data: bool) -> Answer {
    let limit = nresults.map_or(String::new(), |n| {
        format!("<d:limit><d:nresults>{n}</d:nresults></d:limit>")
    });
    let data = if data { "<c:address-data/>" } else { "" };
    let body = format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>{limit}<d:prop><d:getetag/>{data}</d:prop></d:sync-collection>"#
    );
    let answer = dav.report(&dav.book(book), &body).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    answer
}

/// What a client keeps of a book: href → ETag.
type Kept = BTreeMap<String, String>;

/// Applies one sync answer to what the client keeps; returns the new token, whether the
/// answer was cut short (507 on the book) and how many cards it reported.
fn apply(dav: &Dav, book: &str, answer: &Answer, kept: &mut Kept) -> (String, bool, usize) {
    let mut truncated = false;
    let mut cards = 0;
    for response in answer.responses() {
        let href = between(response, "<D:href>", "</D:href>").to_string();
        if response.contains("<D:status>HTTP/1.1 507 Insufficient Storage</D:status>") {
            assert_eq!(href, dav.book(book), "507 names the request URI");
            assert!(
                response.contains("<D:error><D:number-of-matches-within-limits/></D:error>"),
                "{response}"
            );
            truncated = true;
            continue;
        }
        cards += 1;
        if response.contains("<D:status>HTTP/1.1 404 Not Found</D:status>") && !response.contains("propstat") {
            kept.remove(&href);
        } else {
            kept.insert(href, between(response, "<D:getetag>", "</D:getetag>").to_string());
        }
    }
    let token = between(&answer.body, "<D:sync-token>", "</D:sync-token>").to_string();
    assert!(token.starts_with("urn:x-roster:sync:"), "a token is a URI: {token}");
    (token, truncated, cards)
}

/// The book as a PROPFIND Depth 1 lists it: href → ETag of every card.
async fn listing(dav: &Dav, book: &str) -> Kept {
    let answer = dav
        .propfind(
            &dav.book(book),
            "1",
            r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    answer
        .responses()
        .into_iter()
        .filter(|r| r.contains(".vcf</D:href>"))
        .map(|r| {
            (
                between(r, "<D:href>", "</D:href>").to_string(),
                between(r, "<D:getetag>", "</D:getetag>").to_string(),
            )
        })
        .collect()
}

/// Follows 507 pages from `token` to the end; returns the final token and the page sizes.
async fn follow(dav: &Dav, book: &str, token: &str, nresults: Option<usize>, kept: &mut Kept) -> (String, Vec<usize>) {
    let mut token = token.to_string();
    let mut sizes = Vec::new();
    loop {
        let answer = sync_page(dav, book, &token, nresults, false).await;
        let (next, truncated, cards) = apply(dav, book, &answer, kept);
        sizes.push(cards);
        token = next;
        if !truncated {
            return (token, sizes);
        }
        assert!(sizes.len() < 100, "the pages never end");
    }
}

async fn paged_server(page: usize) -> (TestServer, User, Dav) {
    let server = TestServer::start_with(|c| c.carddav_sync_page = page).await;
    let anna = server.user("anna").await;
    anna.set_card("Anna Schmidt", "030 1111111").await;
    let dav = Dav::for_user(&anna).await;
    (server, anna, dav)
}

#[tokio::test]
async fn a_first_sync_of_a_big_book_comes_in_pages() {
    let (server, anna, dav) = paged_server(10).await;
    let choir = Crowd::gather(&server, &anna, "Choir", 25).await;
    // Five of the choir are in the club too: `contacts` shows them once.
    let club = Crowd::gather(&server, &anna, "Club", 0).await;
    for member in &choir.members[..5] {
        club.join(*member).await;
    }
    for book in ["contacts".to_string(), choir.group.to_string()] {
        let mut kept = Kept::new();
        let (token, sizes) = follow(&dav, &book, "", None, &mut kept).await;
        assert_eq!(sizes, vec![10, 10, 5], "{book}");
        assert_eq!(kept, listing(&dav, &book).await, "{book}");
        assert_eq!(kept.len(), 25);
        // The final token is a normal one: nothing more to say.
        let (_, truncated, cards) = apply(
            &dav,
            &book,
            &sync_page(&dav, &book, &token, None, false).await,
            &mut kept,
        );
        assert_eq!((truncated, cards), (false, 0), "{book}");
    }
    // The first page is ordered by subject and ends with the 507 on the request URI, just
    // before the token.
    let first = sync_page(&dav, "contacts", "", None, false).await;
    let hrefs: Vec<String> = first
        .responses()
        .iter()
        .map(|r| between(r, "<D:href>", "</D:href>").to_string())
        .collect();
    let mut sorted = choir.members.clone();
    sorted.sort();
    let expected: Vec<String> = sorted[..10].iter().map(|m| dav.card("contacts", *m)).collect();
    assert_eq!(hrefs[..10], expected);
    assert_eq!(hrefs[10], dav.book("contacts"));
    assert!(
        first.body.contains("</D:error></D:response><D:sync-token>"),
        "{}",
        first.body
    );
}

#[tokio::test]
async fn changes_between_pages_reach_the_client() {
    let (server, anna, dav) = paged_server(10).await;
    let choir = Crowd::gather(&server, &anna, "Choir", 25).await;
    let mut sorted = choir.members.clone();
    sorted.sort();

    let mut kept = Kept::new();
    let first = sync_page(&dav, "contacts", "", None, false).await;
    let (token, truncated, cards) = apply(&dav, "contacts", &first, &mut kept);
    assert_eq!((truncated, cards), (true, 10));
    // Between pages: someone already sent changes their phone, someone not yet sent leaves,
    // and someone new joins.
    let sent = sorted[3];
    let unsent = sorted[17];
    let old_etag = kept[&dav.card("contacts", sent)].clone();
    choir.set_phone(&server, sent, 999).await;
    choir.leave(unsent).await;
    let joiner = choir.join_new(&server, "New Joiner", 500).await;

    let (token, _) = follow(&dav, "contacts", &token, None, &mut kept).await;
    let book = listing(&dav, "contacts").await;
    assert_eq!(kept, book, "the client ends with exactly the book");
    assert_ne!(kept[&dav.card("contacts", sent)], old_etag);
    assert!(!kept.contains_key(&dav.card("contacts", unsent)));
    assert!(kept.contains_key(&dav.card("contacts", joiner)));
    assert_eq!(kept.len(), 25);

    // Incremental syncs with more changes than a page are paged too, and changes made
    // between those pages arrive as well.
    for (i, member) in sorted[..15].iter().enumerate() {
        if *member != unsent {
            choir.set_phone(&server, *member, 2000 + i).await;
        }
    }
    let answer = sync_page(&dav, "contacts", &token, None, false).await;
    let (token, truncated, cards) = apply(&dav, "contacts", &answer, &mut kept);
    assert_eq!((truncated, cards), (true, 10), "{}", answer.body);
    let sent = sorted[0];
    choir.set_phone(&server, sent, 3000).await;
    choir.leave(sorted[20]).await;
    let (token, _) = follow(&dav, "contacts", &token, None, &mut kept).await;
    assert_eq!(kept, listing(&dav, "contacts").await);
    let (_, truncated, cards) = apply(
        &dav,
        "contacts",
        &sync_page(&dav, "contacts", &token, None, false).await,
        &mut kept,
    );
    assert_eq!((truncated, cards), (false, 0));
}

#[tokio::test]
async fn a_client_limit_is_honoured() {
    let (server, anna, dav) = paged_server(10).await;
    let choir = Crowd::gather(&server, &anna, "Choir", 9).await;
    let mut kept = Kept::new();
    let (_, sizes) = follow(&dav, "contacts", "", Some(4), &mut kept).await;
    assert_eq!(sizes, vec![4, 4, 1]);
    assert_eq!(kept, listing(&dav, "contacts").await);
    // A limit above the server's page size does not lift it.
    for i in 0..12 {
        choir.join_new(&server, &format!("Late {i}"), 100 + i).await;
    }
    let mut kept = Kept::new();
    let (_, sizes) = follow(&dav, "contacts", "", Some(50), &mut kept).await;
    assert_eq!(sizes, vec![10, 10, 1]);
    // No results at all cannot be truncated to: the request fails as RFC 6578 §3.7 says.
    let body = r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:limit><d:nresults>0</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let refused = dav.report(&dav.book("contacts"), body).await;
    assert_eq!(refused.status, StatusCode::INSUFFICIENT_STORAGE, "{}", refused.body);
    assert!(refused.body.contains("<D:number-of-matches-within-limits/>"));
}

/// A DAVx5-style first sync in raw HTTP: sync-collection for ETags with an empty token,
/// multiget of 10 at a time for the cards, each page's token saved, and a restart from the
/// saved token after an interruption; the result is exactly the book, vCards included.
#[tokio::test]
async fn a_davx5_style_client_resumes_from_saved_pages() {
    let (server, anna, dav) = paged_server(10).await;
    let choir = Crowd::gather(&server, &anna, "Choir", 23).await;
    let url = format!("{}{}", dav.base, dav.book("contacts"));
    let http = reqwest::Client::new();
    let report = |body: String| {
        http.request(reqwest::Method::from_bytes(b"REPORT").unwrap(), &url)
            .basic_auth(&dav.login, Some(&dav.password))
            .header("Depth", "0")
            .header("Content-Type", "application/xml; charset=utf-8")
            .header("User-Agent", "DAVx5/4.4.9-ose (dav4jvm; okhttp/4.12.0) Android/14")
            .body(body)
            .send()
    };
    // What the phone stores: href → vCard, and the saved sync state.
    let mut phone: BTreeMap<String, String> = BTreeMap::new();
    let mut saved = String::new();
    let mut pages = 0;
    loop {
        let token = if saved.is_empty() {
            "<sync-token />".to_string()
        } else {
            format!("<sync-token>{saved}</sync-token>")
        };
        let response = report(format!(
            "<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns=\"DAV:\">{token}<sync-level>1</sync-level><prop><getetag /></prop></sync-collection>"
        ))
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::MULTI_STATUS);
        let body = response.text().await.unwrap();
        let mut more = false;
        let mut changed = Vec::new();
        for part in body.split("<D:response>").skip(1) {
            let href = between(part, "<D:href>", "</D:href>").to_string();
            if href == dav.book("contacts") {
                more = part.contains("HTTP/1.1 507 ");
            } else if part.contains("404 Not Found") {
                phone.remove(&href);
            } else {
                changed.push(href);
            }
        }
        for batch in changed.chunks(10) {
            let hrefs: String = batch.iter().map(|h| format!("<href>{h}</href>")).collect();
            let response = report(format!(
                "<?xml version='1.0' encoding='UTF-8' ?><CARD:addressbook-multiget xmlns=\"DAV:\" xmlns:CARD=\"urn:ietf:params:xml:ns:carddav\"><prop><getcontenttype /><getetag /><CARD:address-data content-type=\"text/vcard\" version=\"4.0\" /></prop>{hrefs}</CARD:addressbook-multiget>"
            ))
            .await
            .unwrap();
            let body = response.text().await.unwrap();
            for part in body.split("<D:response>").skip(1) {
                let href = between(part, "<D:href>", "</D:href>").to_string();
                phone.insert(href, between(part, "<C:address-data>", "</C:address-data>").to_string());
            }
        }
        // DAVx5 saves the state after each page, so an interrupted first sync resumes.
        saved = between(&body, "<D:sync-token>", "</D:sync-token>").to_string();
        pages += 1;
        if pages == 1 {
            // The phone loses its connection here; a new sync starts from the saved state,
            // and someone joins meanwhile.
            choir.join_new(&server, "While Offline", 77).await;
            continue;
        }
        if !more {
            break;
        }
    }
    assert_eq!(pages, 3);
    let book = listing(&dav, "contacts").await;
    assert_eq!(phone.keys().collect::<Vec<_>>(), book.keys().collect::<Vec<_>>());
    assert_eq!(phone.len(), 24);
    for (href, vcard) in &phone {
        assert!(vcard.starts_with("BEGIN:VCARD\r\nVERSION:4.0"), "{vcard}");
        let uid = href.trim_end_matches(".vcf").rsplit('/').next().unwrap();
        assert!(vcard.contains(&format!("UID:{uid}")), "{vcard}");
    }
}

#[tokio::test]
async fn a_big_listing_is_streamed() {
    let (server, anna, dav) = paged_server(1000).await;
    Crowd::gather(&server, &anna, "Choir", 300).await;
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop></d:propfind>"#;
    let answer = dav.propfind(&dav.book("contacts"), "1", body).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert!(
        answer.body.len() > 128 * 1024,
        "{} bytes: more than one chunk",
        answer.body.len()
    );
    assert_eq!(answer.header("content-length"), "", "streamed, not buffered");
    assert_eq!(answer.header("transfer-encoding"), "chunked");
    assert_eq!(answer.responses().len(), 301);
    assert!(answer.body.ends_with("</D:multistatus>\n"));
    // Small answers still come whole.
    let small = dav.propfind(&dav.book("contacts"), "0", body).await;
    assert!(!small.header("content-length").is_empty());
    // The same for a first sync in one page.
    let sync = sync_page(&dav, "contacts", "", None, true).await;
    assert_eq!(sync.responses().len(), 300);
    assert_eq!(sync.header("content-length"), "");
    assert!(sync.body.ends_with("</D:sync-token></D:multistatus>\n"));
}

#[tokio::test]
async fn renaming_a_group_reaches_tokens_and_categories() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let club = s.club.to_string();
    let choir = s.choir.to_string();
    let ctag_body = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/><d:displayname/></d:prop></d:propfind>"#;
    let ctag = |answer: &Answer| between(&answer.body, "<CS:getctag>", "</CS:getctag>").to_string();
    let before = dav.propfind(&dav.book("contacts"), "0", ctag_body).await;
    let club_before = dav.propfind(&dav.book(&club), "0", ctag_body).await;
    let choir_before = dav.propfind(&dav.book(&choir), "0", ctag_body).await;
    let (_, contacts_token) = dav.sync("contacts", "").await;
    let (_, club_token) = dav.sync(&club, "").await;
    assert_eq!(ctag(&before), contacts_token);

    let (status, body) = s
        .anna
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/groups/{club}"),
            Some(json!({"name": "Tennis"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let after = dav.propfind(&dav.book("contacts"), "0", ctag_body).await;
    assert_ne!(ctag(&after), ctag(&before), "the contacts ctag follows the rename");
    assert_eq!(between(&after.body, "<D:sync-token>", "</D:sync-token>"), ctag(&after));
    // Every card of the renamed group comes again, with the new name in CATEGORIES; Cara,
    // who is only in the choir, does not.
    let answer = sync_page(&dav, "contacts", &contacts_token, None, true).await;
    assert_eq!(answer.responses().len(), 1, "{}", answer.body);
    let ben = answer.response_for(&dav.card("contacts", s.ben.id)).unwrap();
    assert!(ben.contains("CATEGORIES:Choir,Tennis"), "{ben}");
    let token = between(&answer.body, "<D:sync-token>", "</D:sync-token>");
    assert_eq!(token, ctag(&after));
    let (again, _) = dav.sync("contacts", token).await;
    assert_eq!(again.responses().len(), 0, "{}", again.body);

    // The club's own book is renamed: new token and display name, but its cards carry no
    // categories, so there is nothing to fetch again.
    let club_after = dav.propfind(&dav.book(&club), "0", ctag_body).await;
    assert_ne!(ctag(&club_after), ctag(&club_before));
    assert!(club_after.body.contains("<D:displayname>Tennis</D:displayname>"));
    let (club_sync, new_club_token) = dav.sync(&club, &club_token).await;
    assert_eq!(club_sync.responses().len(), 0, "{}", club_sync.body);
    assert_eq!(new_club_token, ctag(&club_after));
    // Other books keep their tokens.
    let choir_after = dav.propfind(&dav.book(&choir), "0", ctag_body).await;
    assert_eq!(ctag(&choir_after), ctag(&choir_before));
    // Renaming back restores the name the old token knew: nothing is lost either way.
    s.anna
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/groups/{club}"),
            Some(json!({"name": "Club"})),
        )
        .await;
    let (back, _) = dav.sync("contacts", token).await;
    assert_eq!(back.responses().len(), 1, "{}", back.body);
    assert_eq!(
        ctag(&dav.propfind(&dav.book("contacts"), "0", ctag_body).await),
        ctag(&before)
    );
}
