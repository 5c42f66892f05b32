//! Multistatus answers about many cards, written while they are sent: a listing, a multiget,
//! a query or a sync page of a big book renders its vCards chunk by chunk from the cards the
//! domain handed over, so the whole document never sits in memory at once.
//!
//! Everything that can fail (authorisation, reading the book, parsing tokens) happens before
//! one of these is built: once the status line is out, only rendering is left, which cannot
//! fail. The bytes are exactly those [`xml::multistatus`] would write for the same responses.

use super::props::{self, Target};
use super::resource::Hrefs;
use super::xml;
use crate::domain::book::{Book, BookCard};
use crate::domain::terminal::Caller;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use roster_proto::vcard::VcardVersion;
use std::convert::Infallible;
use std::sync::Arc;

/// How much XML is written before it is handed to the connection. An answer that fits in one
/// chunk is sent whole, with a `Content-Length`.
const CHUNK: usize = 64 * 1024;

/// One part of a multistatus answer, in the order it is written.
pub(super) enum Piece {
    /// The card at this index of the answer's cards, rendered when its turn comes.
    Card(usize),
    /// A response built beforehand (a book's properties, a 404, a 507).
    Ready(xml::Response),
}

/// The pieces of an answer, produced lazily.
pub(super) type Pieces = Box<dyn Iterator<Item = Piece> + Send>;

/// What rendering a card's response needs, owned so that it outlives the handler.
pub(super) struct CardRender {
    pub(super) book: Book,
    pub(super) props: xml::Props,
    pub(super) version: VcardVersion,
    pub(super) photo_limit: usize,
    pub(super) hrefs: Hrefs,
    pub(super) caller: Caller,
}

impl CardRender {
    fn write(&self, out: &mut String, card: &BookCard) {
        let context = props::Context {
            push: None,
            kind: Target::Card(self.book, card, self.version),
            hrefs: &self.hrefs,
            caller: &self.caller,
            resource_href: self.hrefs.card(self.book, card.subject),
        };
        xml::write_response(out, &props::respond(&context, &self.props, self.photo_limit));
    }
}

/// A multistatus answer about cards, written chunk by chunk.
pub(super) struct Multistatus {
    render: CardRender,
    cards: Arc<[BookCard]>,
    pieces: Pieces,
    sync_token: Option<String>,
    opened: bool,
    closed: bool,
}

impl Multistatus {
    /// An answer made of `pieces`, whose cards are `cards`; `sync_token` ends sync answers.
    pub(super) fn new(render: CardRender, cards: Arc<[BookCard]>, pieces: Pieces, sync_token: Option<String>) -> Self {
        Multistatus {
            render,
            cards,
            pieces,
            sync_token,
            opened: false,
            closed: false,
        }
    }
}

impl Iterator for Multistatus {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.closed {
            return None;
        }
        let mut out = String::with_capacity(CHUNK + CHUNK / 4);
        if !self.opened {
            xml::open_multistatus(&mut out);
            self.opened = true;
        }
        while out.len() < CHUNK {
            match self.pieces.next() {
                Some(Piece::Card(index)) => {
                    // Indices come from the same handler that chose the cards; a wrong one
                    // would be a bug, and skipping it beats a half-written document.
                    if let Some(card) = self.cards.get(index) {
                        self.render.write(&mut out, card);
                    }
                }
                Some(Piece::Ready(response)) => xml::write_response(&mut out, &response),
                None => {
                    xml::close_multistatus(&mut out, self.sync_token.as_deref());
                    self.closed = true;
                    break;
                }
            }
        }
        Some(Bytes::from(out))
    }
}

impl IntoResponse for Multistatus {
    fn into_response(mut self) -> Response {
        let first = self.next().unwrap_or_default();
        let body = if self.closed {
            Body::from(first)
        } else {
            let rest = futures_util::stream::iter(std::iter::once(first).chain(self));
            Body::from_stream(rest.map(Ok::<_, Infallible>))
        };
        (
            StatusCode::MULTI_STATUS,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AccountId, TerminalId};
    use crate::domain::model::{Account, Terminal};
    use roster_proto::api::{CardView, TerminalKind};
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn caller() -> Caller {
        let id = AccountId(Uuid::new_v4());
        Caller {
            account: Account {
                id,
                login: "anna".into(),
                display_name: "Anna".into(),
                created_at: OffsetDateTime::UNIX_EPOCH,
            },
            terminal: Terminal {
                id: TerminalId(Uuid::new_v4()),
                account_id: id,
                name: "phone".into(),
                kind: TerminalKind::AppPassword,
                created_at: OffsetDateTime::UNIX_EPOCH,
                last_seen_at: None,
                group_books: None,
                client: None,
            },
        }
    }

    fn cards(count: usize) -> Arc<[BookCard]> {
        (0..count)
            .map(|i| BookCard {
                subject: AccountId(Uuid::from_u128(i as u128)),
                card: CardView {
                    formatted_name: Some(format!("Member {i} & <co>")),
                    note: Some("x".repeat(300)),
                    ..CardView::default()
                },
                categories: vec!["Choir".into()],
                etag: format!("{i:024x}"),
            })
            .collect()
    }

    fn render() -> CardRender {
        CardRender {
            book: Book::Contacts,
            props: xml::parse_propfind(
                r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/><d:nope/></d:prop></d:propfind>"#,
            )
            .unwrap(),
            version: VcardVersion::V3,
            photo_limit: 1024,
            hrefs: Hrefs { login: "anna".into() },
            caller: caller(),
        }
    }

    #[test]
    fn streamed_chunks_are_exactly_the_whole_document() {
        let cards = cards(600);
        let render = render();
        let gone = xml::Response::Status {
            href: "/dav/addressbooks/anna/contacts/gone.vcf".into(),
            status: 404,
        };
        let mut whole: Vec<xml::Response> = cards
            .iter()
            .map(|card| {
                let context = props::Context {
                    push: None,
                    kind: Target::Card(render.book, card, render.version),
                    hrefs: &render.hrefs,
                    caller: &render.caller,
                    resource_href: render.hrefs.card(render.book, card.subject),
                };
                props::respond(&context, &render.props, render.photo_limit)
            })
            .collect();
        whole.push(gone.clone());
        let expected = xml::multistatus(&whole, Some("urn:x-roster:sync:AQA"));

        let pieces = (0..cards.len()).map(Piece::Card).chain([Piece::Ready(gone)]);
        let streamed = Multistatus::new(render, cards, Box::new(pieces), Some("urn:x-roster:sync:AQA".into()));
        let chunks: Vec<Bytes> = streamed.collect();
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < CHUNK * 2));
        assert_eq!(String::from_utf8(chunks.concat()).unwrap(), expected);
    }

    #[test]
    fn an_empty_answer_is_one_chunk() {
        let streamed = Multistatus::new(render(), cards(0), Box::new(std::iter::empty()), None);
        let chunks: Vec<Bytes> = streamed.collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(String::from_utf8(chunks.concat()).unwrap(), xml::multistatus(&[], None));
    }
}
