//! One card as a resource: GET and HEAD with strong ETags, PUT of the caller's own card into
//! `me`, and the refusal of every other write (DELETE, MKCOL, PUT elsewhere...) with the
//! privilege it lacks.

use super::error::{DavError, DavResult, described_fields};
use super::push;
use super::request::Request;
use super::resource::Resource;
use super::xml::CARDDAV;
use crate::domain::Error;
use crate::domain::book::{Book, BookCard};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_proto::vcard::{self, VcardVersion};

/// The media type of every vCard served.
pub(super) const VCARD_TYPE: &str = "text/vcard; charset=utf-8";

/// Renders a card of a book; its UID is the subject's account id in every book.
pub(super) fn render(card: &BookCard, version: VcardVersion) -> String {
    let extras = vcard::Extras {
        categories: card.categories.clone(),
        revision: None,
    };
    vcard::write(&card.subject.to_string(), &card.card, version, &extras)
}

/// An entity tag as it is written in headers and `getetag`.
pub(super) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Whether an `If-None-Match`/`If-Match` list names the entity tag (or `*`).
fn names_etag(list: &str, etag: Option<&str>) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        tag == "*" && etag.is_some() || etag.is_some_and(|e| tag.trim_start_matches("W/").trim_matches('"') == e)
    })
}

impl Request<'_> {
    /// GET or HEAD of a card: the vCard (3.0 unless 4.0 is accepted), 304 when its ETag is
    /// already held.
    pub(super) async fn get(&self) -> DavResult {
        let Resource::Card(_, book, subject) = self.resource else {
            return Err(DavError::status(StatusCode::METHOD_NOT_ALLOWED));
        };
        let card = self.card(*book, *subject).await?;
        let etag = quoted(&card.etag);
        if let Some(list) = self.headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
            && names_etag(list, Some(&card.etag))
        {
            return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
        }
        let accept = self
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let version = if accept.replace(' ', "").contains("version=4.0") {
            VcardVersion::V4
        } else {
            VcardVersion::V3
        };
        let mut response = Response::new(Body::from(render(&card, version)));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(VCARD_TYPE));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        Ok(response)
    }

    /// PUT: only the caller's own card in `me` may be written.
    pub(super) async fn put(&self, body: &Bytes) -> DavResult {
        let subject = match self.resource {
            Resource::Card(_, Book::Me, subject) if *subject == self.caller.account.id => *subject,
            Resource::Card(_, Book::Me, _) => {
                return Err(DavError::need_privileges(&self.hrefs.book(Book::Me), "bind"));
            }
            _ => return self.refuse_write().await,
        };
        let href = self.hrefs.card(Book::Me, subject);
        let invalid =
            |status: StatusCode, why: String| DavError::described(status, CARDDAV, "valid-address-data", &why);
        let text =
            std::str::from_utf8(body).map_err(|_| invalid(StatusCode::BAD_REQUEST, "the vCard is not UTF-8".into()))?;
        let parsed = vcard::parse_one(text).map_err(|e| invalid(StatusCode::BAD_REQUEST, e.to_string()))?;
        let roster = &self.state.roster;
        let current = roster.card(self.caller).await?;
        let current_etag = current.as_ref().map(|c| c.revision.to_string());
        if let Some(list) = self.headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
            && names_etag(list, current_etag.as_deref())
        {
            return Err(DavError::status(StatusCode::PRECONDITION_FAILED));
        }
        let expected = match self.headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
            None => None,
            Some(list) if names_etag(list, current_etag.as_deref()) => current.as_ref().map(|c| c.revision),
            Some(_) => return Err(DavError::status(StatusCode::PRECONDITION_FAILED)),
        };
        let quiet = push::dont_notify(self.headers);
        match roster
            .set_card_quietly(self.caller, &parsed.card, expected, &quiet)
            .await
        {
            // The stored card is normalised (phones in E.164...), so no ETag: the client must
            // fetch it again (RFC 6352 §6.3.2.3).
            Ok(_) if current.is_none() => Ok((StatusCode::CREATED, [(header::LOCATION, href)]).into_response()),
            Ok(_) => Ok(StatusCode::NO_CONTENT.into_response()),
            Err(Error::Invalid(fields)) => Err(invalid(StatusCode::FORBIDDEN, described_fields(&fields))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every write other than PUT into `me` is refused with `need-privileges`; after a refused
    /// edit of someone's card, this terminal's next sync of the book reports the card again,
    /// so that the client brings the real card back over its local edit (nothing is written,
    /// no other member's device hears of it).
    pub(super) async fn refuse_write(&self) -> DavResult {
        if let Resource::Card(_, book, subject) = self.resource
            && *book != Book::Me
            && let Err(e) = self.state.roster.refresh_card(self.caller, *book, *subject).await
        {
            tracing::warn!(error = %e, "could not ask the terminal to fetch a refused card again");
        }
        let (href, privilege) = match self.resource {
            Resource::Card(_, Book::Me, subject) => (
                self.hrefs.book(Book::Me),
                if *subject == self.caller.account.id {
                    "unbind"
                } else {
                    "bind"
                },
            ),
            Resource::Card(_, book, subject) => (self.hrefs.card(*book, *subject), "write-content"),
            Resource::Book(_, book) => (self.hrefs.book(*book), "bind"),
            Resource::Home(_) => (self.hrefs.home(), "bind"),
            Resource::Principal(_) | Resource::Root => return Err(DavError::status(StatusCode::METHOD_NOT_ALLOWED)),
        };
        Err(DavError::need_privileges(&href, privilege))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preconditions_compare_strong_tags() {
        assert!(names_etag("\"abc\"", Some("abc")));
        assert!(names_etag("\"x\", \"abc\"", Some("abc")));
        assert!(names_etag("*", Some("abc")));
        assert!(!names_etag("*", None));
        assert!(!names_etag("\"abd\"", Some("abc")));
    }
}
