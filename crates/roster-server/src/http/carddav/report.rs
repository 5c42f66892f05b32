//! REPORTs on a book: addressbook-multiget, addressbook-query and sync-collection. Depth is
//! ignored (Thunderbird sends `Depth: 1` where RFC 6578 wants 0).

use super::auth::user_agent;
use super::body::{Multistatus, Piece};
use super::error::{DavError, DavResult};
use super::request::{Request, body_text};
use super::resource::Resource;
use super::xml::{self, DAV, Filter, MatchType, PropFilter, Report, TextMatch};
use crate::domain::Error;
use crate::domain::book::{Book, BookCard};
use crate::domain::ids::AccountId;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_proto::api::CardView;
use std::sync::Arc;
use uuid::Uuid;

impl Request<'_> {
    pub(super) async fn report(&self, body: &Bytes) -> DavResult {
        let report = xml::parse_report(body_text(body)?)?;
        let Resource::Book(_, book) = self.resource else {
            return Err(DavError::condition(StatusCode::FORBIDDEN, DAV, "supported-report", ""));
        };
        let book = *book;
        let kind = match report {
            Report::Multiget { .. } => "multiget",
            Report::Query { .. } => "query",
            Report::Sync { .. } => "sync",
        };
        metrics::counter!("roster_carddav_reports_total", "report" => kind).increment(1);
        match report {
            Report::Multiget { props, hrefs } => self.multiget(book, &props, &hrefs).await,
            Report::Query { props, filter, limit } => self.query(book, &props, &filter, limit).await,
            Report::Sync { props, token, limit } => self.sync(book, &props, &token, limit).await,
        }
    }

    /// The subject an href names in this book, if it names one.
    fn subject_of(&self, book: Book, href: &str) -> Option<AccountId> {
        // Absolute URLs name the same path on this server.
        let path = match href.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => href,
        };
        let name = path.strip_prefix(&self.hrefs.book(book))?;
        name.strip_suffix(".vcf")?.parse::<Uuid>().ok().map(AccountId)
    }

    async fn multiget(&self, book: Book, props: &xml::Props, hrefs: &[String]) -> DavResult {
        let mut subjects: Vec<AccountId> = hrefs.iter().filter_map(|h| self.subject_of(book, h)).collect();
        subjects.sort();
        subjects.dedup();
        let found = self.state.roster.book_cards_of(self.caller, book, &subjects).await?;
        // In subject order, as asked, so that each href finds its card by binary search.
        let cards: Arc<[BookCard]> = found.into_iter().filter_map(|(_, card)| card).collect();
        let pieces: Vec<Piece> = hrefs
            .iter()
            .map(|href| {
                let index = self
                    .subject_of(book, href)
                    .and_then(|s| cards.binary_search_by_key(&s, |c| c.subject).ok());
                match index {
                    Some(index) => Piece::Card(index),
                    None => Piece::Ready(xml::Response::Status {
                        href: href.clone(),
                        status: 404,
                    }),
                }
            })
            .collect();
        let answer = Multistatus::new(self.card_render(book, props), cards, Box::new(pieces.into_iter()), None);
        Ok(answer.into_response())
    }

    async fn query(&self, book: Book, props: &xml::Props, filter: &Filter, limit: Option<usize>) -> DavResult {
        let (cards, _) = self.state.roster.book_cards(self.caller, book).await?;
        let mut matching: Vec<usize> = (0..cards.len())
            .filter(|&i| filter_matches(filter, &cards[i].card))
            .collect();
        let truncated = limit.is_some_and(|limit| matching.len() > limit);
        if truncated {
            metrics::counter!("roster_carddav_truncated_total", "report" => "query").increment(1);
        }
        if let Some(limit) = limit {
            matching.truncate(limit);
        }
        // RFC 6352 §8.6.1: a truncated answer says so with 507 on the request URI.
        let truncation = truncated.then(|| {
            Piece::Ready(xml::Response::Status {
                href: self.hrefs.book(book),
                status: 507,
            })
        });
        let pieces = matching.into_iter().map(Piece::Card).chain(truncation);
        let answer = Multistatus::new(self.card_render(book, props), cards, Box::new(pieces), None);
        Ok(answer.into_response())
    }

    /// sync-collection: one page of changes (or of the whole book, for an empty token). A
    /// page cut short ends with 507 on the request URI and a token that continues it; DAVx5
    /// and Evolution ask again at once, Thunderbird at its next sync.
    async fn sync(&self, book: Book, props: &xml::Props, token: &str, limit: Option<usize>) -> DavResult {
        // A client limit is honoured by truncating (RFC 6578 §3.6), which clients follow like
        // any other cut answer, rather than by failing; only "no results at all" cannot be
        // truncated to and fails as §3.7 asks.
        if limit == Some(0) {
            return Err(DavError::condition(
                StatusCode::INSUFFICIENT_STORAGE,
                DAV,
                "number-of-matches-within-limits",
                "",
            ));
        }
        let page = match self.state.roster.book_sync(self.caller, book, token, limit).await {
            Ok(page) => page,
            Err(Error::Stale(_)) => {
                metrics::counter!("roster_carddav_resyncs_total").increment(1);
                return Err(self.invalid_token());
            }
            Err(e) => return Err(e.into()),
        };
        let hrefs = self.hrefs.clone();
        let removed = page.removed.into_iter().map(move |subject| {
            Piece::Ready(xml::Response::Status {
                href: hrefs.card(book, subject),
                status: 404,
            })
        });
        if page.truncated {
            metrics::counter!("roster_carddav_truncated_total", "report" => "sync").increment(1);
        }
        let truncated = page.truncated.then(|| {
            Piece::Ready(xml::Response::Truncated {
                href: self.hrefs.book(book),
            })
        });
        let pieces = page
            .upserts
            .into_iter()
            .map(Piece::Card)
            .chain(removed)
            .chain(truncated);
        let answer = Multistatus::new(
            self.card_render(book, props),
            page.cards,
            Box::new(pieces),
            Some(page.token),
        );
        Ok(answer.into_response())
    }

    /// An expired or foreign token. DAVx5 restarts on any status naming `valid-sync-token`,
    /// Evolution on 403, and Thunderbird only on 400 (a 403 breaks every later sync there).
    fn invalid_token(&self) -> DavError {
        let thunderbird = user_agent(self.headers).is_some_and(|ua| ua.contains("Thunderbird"));
        let status = if thunderbird {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        DavError::condition(status, DAV, "valid-sync-token", "")
    }
}

/// The texts of a vCard property as the card shows it to the viewer.
fn values<'c>(card: &'c CardView, property: &str) -> Vec<&'c str> {
    match property {
        "FN" => card.formatted_name.iter().map(String::as_str).collect(),
        "EMAIL" => card.emails.iter().map(|e| e.address.as_str()).collect(),
        "TEL" => card.phones.iter().map(|p| p.number.as_str()).collect(),
        "ORG" => card.organization.iter().map(String::as_str).collect(),
        "NOTE" => card.note.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a value holds a text-match; only the value is folded here, the needle was folded
/// when the request was read.
fn text_matches(value: &str, text_match: &TextMatch) -> bool {
    let hit = if text_match.octet {
        compares(value, text_match.text.as_sent(), text_match.match_type)
    } else {
        compares(&value.to_lowercase(), text_match.text.folded(), text_match.match_type)
    };
    hit != text_match.negate
}

fn compares(value: &str, needle: &str, match_type: MatchType) -> bool {
    match match_type {
        MatchType::Equals => value == needle,
        MatchType::Contains => value.contains(needle),
        MatchType::StartsWith => value.starts_with(needle),
        MatchType::EndsWith => value.ends_with(needle),
    }
}

fn prop_matches(card: &CardView, filter: &PropFilter) -> bool {
    let values = values(card, &filter.name);
    if filter.is_not_defined {
        return values.is_empty();
    }
    if filter.matches.is_empty() {
        return !values.is_empty();
    }
    let holds = |m: &TextMatch| values.iter().any(|v| text_matches(v, m));
    if filter.all_of {
        filter.matches.iter().all(holds)
    } else {
        filter.matches.iter().any(holds)
    }
}

/// Whether a card passes an addressbook-query filter (on what the viewer can see).
fn filter_matches(filter: &Filter, card: &CardView) -> bool {
    if filter.props.is_empty() {
        return true;
    }
    if filter.all_of {
        filter.props.iter().all(|p| prop_matches(card, p))
    } else {
        filter.props.iter().any(|p| prop_matches(card, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::api::{Email, Phone};

    fn card() -> CardView {
        CardView {
            formatted_name: Some("Anna Schmidt".into()),
            phones: vec![Phone {
                number: "+49301234567".into(),
                kind: Default::default(),
            }],
            emails: vec![Email {
                address: "anna@example.org".into(),
                kind: Default::default(),
            }],
            ..CardView::default()
        }
    }

    fn tm(text: &str, match_type: MatchType) -> TextMatch {
        TextMatch {
            text: text.into(),
            match_type,
            negate: false,
            octet: false,
        }
    }

    fn filter(name: &str, matches: Vec<TextMatch>) -> Filter {
        Filter {
            all_of: false,
            props: vec![PropFilter {
                name: name.into(),
                is_not_defined: false,
                all_of: false,
                matches,
            }],
        }
    }

    #[test]
    fn text_matches_follow_match_type_and_case() {
        let card = card();
        assert!(filter_matches(
            &filter("FN", vec![tm("anna", MatchType::StartsWith)]),
            &card
        ));
        assert!(!filter_matches(
            &filter("FN", vec![tm("schmidt", MatchType::StartsWith)]),
            &card
        ));
        assert!(filter_matches(
            &filter("FN", vec![tm("SCHMIDT", MatchType::EndsWith)]),
            &card
        ));
        assert!(filter_matches(
            &filter("TEL", vec![tm("301234", MatchType::Contains)]),
            &card
        ));
        assert!(filter_matches(
            &filter("EMAIL", vec![tm("anna@example.org", MatchType::Equals)]),
            &card
        ));
        assert!(!filter_matches(
            &filter("EMAIL", vec![tm("ben", MatchType::Contains)]),
            &card
        ));
        let mut negated = tm("anna", MatchType::Contains);
        negated.negate = true;
        assert!(!filter_matches(&filter("FN", vec![negated]), &card));
        let mut octet = tm("anna", MatchType::StartsWith);
        octet.octet = true;
        assert!(!filter_matches(&filter("FN", vec![octet]), &card));
    }

    #[test]
    fn octet_compares_the_needle_as_sent_and_the_casemaps_fold_both_sides() {
        let card = CardView {
            formatted_name: Some("Änne Öztürk".into()),
            ..card()
        };
        let mut octet = tm("Änne", MatchType::StartsWith);
        octet.octet = true;
        assert!(filter_matches(&filter("FN", vec![octet]), &card));
        let mut octet = tm("änne", MatchType::StartsWith);
        octet.octet = true;
        assert!(!filter_matches(&filter("FN", vec![octet]), &card));
        assert!(filter_matches(
            &filter("FN", vec![tm("ÄNNE ÖZTÜRK", MatchType::Equals)]),
            &card
        ));
        let mut negated = tm("ÖZTÜRK", MatchType::EndsWith);
        negated.negate = true;
        assert!(!filter_matches(&filter("FN", vec![negated]), &card));
    }

    #[test]
    fn hidden_fields_never_match() {
        let card = CardView {
            formatted_name: None,
            ..card()
        };
        assert!(!filter_matches(
            &filter("FN", vec![tm("anna", MatchType::Contains)]),
            &card
        ));
        let mut undefined = filter("FN", Vec::new());
        undefined.props[0].is_not_defined = true;
        assert!(filter_matches(&undefined, &card));
    }
}
