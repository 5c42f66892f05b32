//! One authenticated request on one resource, and what every method's handler shares: the
//! body as text, the book and card lookups, the property context of a resource, and the
//! multistatus answer.

use super::auth::{is_apple, user_agent};
use super::body::CardRender;
use super::error::DavError;
use super::props::{self, Target};
use super::resource::{Hrefs, ROOT, Resource};
use super::xml::{self, AskedVersion, XmlError};
use crate::domain::book::{Book, BookCard, BookInfo};
use crate::domain::ids::AccountId;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_proto::vcard::VcardVersion;

/// One authenticated request on one resource.
pub(super) struct Request<'a> {
    pub(super) state: &'a AppState,
    pub(super) caller: &'a Caller,
    pub(super) hrefs: Hrefs,
    pub(super) resource: &'a Resource,
    pub(super) headers: &'a HeaderMap,
}

/// The body as the text an XML request must be.
pub(super) fn body_text(body: &Bytes) -> Result<&str, DavError> {
    std::str::from_utf8(body).map_err(|_| DavError::from(XmlError::Malformed("the body is not UTF-8".into())))
}

/// A multistatus answer written whole.
pub(super) fn multistatus(body: String) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The vCard version to render in when `address-data` asks for `asked`.
pub(super) fn vcard_version(asked: AskedVersion) -> VcardVersion {
    match asked {
        AskedVersion::V4 => VcardVersion::V4,
        AskedVersion::V3 | AskedVersion::Default => VcardVersion::V3,
    }
}

impl Request<'_> {
    /// Whether the device is an Apple one: by the client that first used its app password,
    /// so that the decision holds for the terminal, not per request.
    pub(super) fn is_apple(&self) -> bool {
        self.caller
            .terminal
            .client
            .as_deref()
            .or_else(|| user_agent(self.headers))
            .is_some_and(is_apple)
    }

    /// The largest photo a card may carry, which also bounds the vCards accepted on PUT.
    pub(super) fn photo_limit(&self) -> usize {
        self.state.roster.settings().card_rules.photo_max_bytes
    }

    /// The book of the resource, with its name and token.
    pub(super) async fn book_info(&self, book: Book) -> Result<BookInfo, DavError> {
        Ok(self.state.roster.book(self.caller, book).await?)
    }

    /// What a streamed answer needs to render the cards of `book` as `asked`.
    pub(super) fn card_render(&self, book: Book, asked: &xml::Props) -> CardRender {
        CardRender {
            book,
            props: asked.clone(),
            version: vcard_version(asked.version),
            photo_limit: self.photo_limit(),
            hrefs: self.hrefs.clone(),
            caller: self.caller.clone(),
        }
    }

    /// A resource of the caller's with what its property values need.
    pub(super) fn target<'t>(&'t self, kind: Target<'t>) -> props::Context<'t> {
        let roster = &self.state.roster;
        props::Context {
            push: match kind {
                Target::Book(info) => roster
                    .push_topic(self.caller, info.book)
                    .zip(roster.vapid_key().map(|k| k.public_key())),
                _ => None,
            },
            kind,
            hrefs: &self.hrefs,
            caller: self.caller,
            resource_href: match kind {
                Target::Root => ROOT.to_string(),
                Target::Principal => self.hrefs.principal(),
                Target::Home => self.hrefs.home(),
                Target::Book(info) => self.hrefs.book(info.book),
                Target::Card(book, card, _) => self.hrefs.card(book, card.subject),
            },
        }
    }

    /// One card of a book, as the caller may see it; 404 when it is not in the book.
    pub(super) async fn card(&self, book: Book, subject: AccountId) -> Result<BookCard, DavError> {
        self.state
            .roster
            .book_cards_of(self.caller, book, &[subject])
            .await?
            .into_iter()
            .find_map(|(_, card)| card)
            .ok_or(DavError::status(StatusCode::NOT_FOUND))
    }
}
