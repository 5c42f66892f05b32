//! A book's listing after changes is made from the one kept in memory, reading only the people
//! changed since. Whatever changed — cards, joins, leaves, share policies, a member in two
//! groups — it must be exactly the listing a server without anything kept reads from the
//! database.

use super::{Dav, between, setup};
use crate::support::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

/// href → ETag of every card in a book, by PROPFIND Depth 1, with the vCard behind each.
async fn listing(dav: &Dav, book: &str) -> BTreeMap<String, (String, String)> {
    let answer = dav
        .propfind(
            &dav.book(book),
            "1",
            r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    let mut cards = BTreeMap::new();
    for response in answer.responses() {
        let href = between(response, "<D:href>", "</D:href>");
        if !href.ends_with(".vcf") {
            continue;
        }
        let etag = between(response, "<D:getetag>", "</D:getetag>").to_string();
        let body = dav.request("GET", href, &[], "").await.body;
        cards.insert(href.to_string(), (etag, body));
    }
    cards
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_made_from_the_kept_one_is_the_listing_read_afresh() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let dora = s.server.user("dora").await;
    dora.set_card("Dora Weiß", "030 4444444").await;
    let choir_invite = s.anna.invite(s.choir).await;
    let club_invite = s.anna.invite(s.club).await;

    // The first listing is read whole and kept.
    let mut before = listing(&dav, "contacts").await;
    assert_eq!(before.len(), 2);
    for step in 0..5 {
        let what = match step {
            0 => {
                s.ben.set_card("Ben Meyer", "030 2222223").await;
                "a card changes"
            }
            1 => {
                dora.accept(&choir_invite).await;
                dora.accept(&club_invite).await;
                "someone joins both groups"
            }
            2 => {
                // Anna sees Dora through both groups: hidden from both, the phone is gone.
                for group in [s.choir, s.club] {
                    let path = format!("/api/v1/groups/{group}/share-policy");
                    let (status, body) = dora.put(&path, json!({"fields": ["name"]})).await;
                    assert_eq!(status, StatusCode::OK, "{body}");
                }
                "a member hides phones from both groups"
            }
            3 => {
                let path = format!("/api/v1/groups/{}/membership", s.club);
                assert_eq!(dora.delete(&path).await.0, StatusCode::NO_CONTENT);
                "a member leaves one of two groups"
            }
            _ => {
                let path = format!("/api/v1/groups/{}/membership", s.choir);
                assert_eq!(s.cara.delete(&path).await.0, StatusCode::NO_CONTENT);
                s.ben.set_card("Бен Майер", "030 2222224").await;
                dora.set_card("Dora W.", "030 4444445").await;
                "a member leaves and two cards change"
            }
        };
        let kept = listing(&dav, "contacts").await;
        assert_ne!(kept, before, "{what}: the listing changed");
        // A second server on the same database keeps nothing: it reads the book whole.
        let fresh_server = TestServer::start_with(|config| config.database_url = s.server.database_url.clone()).await;
        let fresh = listing(
            &Dav::with_password(&s.anna.clone_at(&fresh_server.base), &dav.password),
            "contacts",
        )
        .await;
        let fresh: BTreeMap<String, (String, String)> = fresh
            .into_iter()
            .map(|(href, card)| (href.replace(&fresh_server.base, &s.server.base), card))
            .collect();
        assert_eq!(kept, fresh, "{what}");
        fresh_server.stop().await;
        before = kept;
    }
}
