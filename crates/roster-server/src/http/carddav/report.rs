//! REPORTs on a book: addressbook-multiget, addressbook-query and sync-collection. Depth is
//! ignored (Thunderbird sends `Depth: 1` where RFC 6578 wants 0).

use super::props::Target;
use super::xml::{self, DAV, Filter, MatchType, PropFilter, Report, TextMatch};
use super::{DavError, DavResult, Request, Resource, body_text, multistatus, vcard_version};
use crate::domain::Error;
use crate::domain::contacts::{Book, BookCard};
use crate::domain::ids::AccountId;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use roster_proto::api::CardView;
use uuid::Uuid;

impl Request<'_> {
    pub(super) async fn report(&self, body: &Bytes) -> DavResult {
        let report = xml::parse_report(body_text(body)?)?;
        let Resource::Book(_, book) = self.resource else {
            return Err(DavError::condition(StatusCode::FORBIDDEN, DAV, "supported-report", ""));
        };
        let book = *book;
        match report {
            Report::Multiget { props, hrefs } => self.multiget(book, &props, &hrefs).await,
            Report::Query { props, filter, limit } => self.query(book, &props, &filter, limit).await,
            Report::Sync { props, token, .. } => self.sync(book, &props, &token).await,
        }
    }

    fn card_responses(&self, book: Book, cards: &[BookCard], props: &xml::Props) -> Vec<xml::Response> {
        let version = vcard_version(props.version);
        let photo_limit = self.photo_limit();
        cards
            .iter()
            .map(|card| super::props::respond(&self.target(Target::Card(book, card, version)), props, photo_limit))
            .collect()
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
        let mut responses = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            let card = self
                .subject_of(book, href)
                .and_then(|s| found.iter().find(|(subject, _)| *subject == s))
                .and_then(|(_, card)| card.as_ref());
            match card {
                Some(card) => responses.extend(self.card_responses(book, std::slice::from_ref(card), props)),
                None => responses.push(xml::Response::Status {
                    href: href.clone(),
                    status: 404,
                }),
            }
        }
        Ok(multistatus(xml::multistatus(&responses, None)))
    }

    async fn query(&self, book: Book, props: &xml::Props, filter: &Filter, limit: Option<usize>) -> DavResult {
        let (cards, _) = self.state.roster.book_cards(self.caller, book).await?;
        let mut matching: Vec<BookCard> = cards
            .iter()
            .filter(|c| filter_matches(filter, &c.card))
            .cloned()
            .collect();
        let truncated = limit.is_some_and(|limit| matching.len() > limit);
        if let Some(limit) = limit {
            matching.truncate(limit);
        }
        let mut responses = self.card_responses(book, &matching, props);
        if truncated {
            // RFC 6352 §8.6.1: a truncated answer says so with 507 on the request URI.
            responses.push(xml::Response::Status {
                href: self.hrefs.book(book),
                status: 507,
            });
        }
        Ok(multistatus(xml::multistatus(&responses, None)))
    }

    async fn sync(&self, book: Book, props: &xml::Props, token: &str) -> DavResult {
        let roster = &self.state.roster;
        if token.is_empty() {
            let (cards, token) = roster.book_cards(self.caller, book).await?;
            let responses = self.card_responses(book, &cards, props);
            return Ok(multistatus(xml::multistatus(&responses, Some(&token))));
        }
        let changes = match roster.book_changes(self.caller, book, token).await {
            Ok(changes) => changes,
            Err(Error::Stale(_)) => return Err(self.invalid_token()),
            Err(e) => return Err(e.into()),
        };
        let mut responses = self.card_responses(book, &changes.upserts, props);
        responses.extend(changes.removed.iter().map(|subject| xml::Response::Status {
            href: self.hrefs.card(book, *subject),
            status: 404,
        }));
        Ok(multistatus(xml::multistatus(&responses, Some(&changes.token))))
    }

    /// An expired or foreign token. DAVx5 restarts on any status naming `valid-sync-token`,
    /// Evolution on 403, and Thunderbird only on 400 (a 403 breaks every later sync there).
    fn invalid_token(&self) -> DavError {
        let thunderbird = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.contains("Thunderbird"));
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

fn text_matches(value: &str, text_match: &TextMatch) -> bool {
    let (value, text) = if text_match.octet {
        (value.to_string(), text_match.text.clone())
    } else {
        (value.to_lowercase(), text_match.text.to_lowercase())
    };
    let hit = match text_match.match_type {
        MatchType::Equals => value == text,
        MatchType::Contains => value.contains(&text),
        MatchType::StartsWith => value.starts_with(&text),
        MatchType::EndsWith => value.ends_with(&text),
    };
    hit != text_match.negate
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
