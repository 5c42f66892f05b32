//! A PROPFIND naming 100,000 properties, about as many as a 1 MiB body holds, is answered in
//! full: each property once, in the order named. No timing is asserted; the benchmark
//! `propfind_many_names` (benches/carddav.rs) measures what it costs.

use super::{Dav, between, setup};
use reqwest::StatusCode;

const MADE_UP: &str = "urn:example:made-up";

/// `count` distinct four-letter names (`aaaa`, `baaa`, ...), so that 100,000 fit in 1 MiB.
fn names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            (0..4u32)
                .map(|place| char::from(b'a' + u8::try_from(i / 26usize.pow(place) % 26).unwrap()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_propfind_naming_a_hundred_thousand_properties_is_answered_in_full() {
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let names = names(100_000);
    let mut body = format!(r#"<d:propfind xmlns:d="DAV:" xmlns:x="{MADE_UP}"><d:prop><d:displayname/>"#);
    for name in &names {
        body.push_str(&format!("<x:{name}/>"));
    }
    body.push_str("</d:prop></d:propfind>");
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());

    let answer = dav.propfind(&dav.book("contacts"), "0", &body).await;
    assert_eq!(
        answer.status,
        StatusCode::MULTI_STATUS,
        "{}",
        &answer.body[..200.min(answer.body.len())]
    );
    assert_eq!(answer.responses().len(), 1);
    // The one real property comes first, in the 200 propstat.
    assert!(!between(&answer.body, "<D:propstat><D:prop><D:displayname>", "</D:displayname>").is_empty());
    let unknown: String = names
        .iter()
        .map(|name| format!(r#"<{name} xmlns="{MADE_UP}"/>"#))
        .collect();
    assert!(
        answer.body.contains(&format!(
            "<D:propstat><D:prop>{unknown}</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"
        )),
        "every made-up property once, in order, in the 404 propstat"
    );
    assert_eq!(answer.body.matches(MADE_UP).count(), names.len());
}
