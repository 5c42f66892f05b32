//! PROPFIND and PROPPATCH: the properties of the principal, the home set, the books and
//! their cards (a book's listing streamed), and the one property a client may set.

use super::body::{Multistatus, Piece};
use super::error::{DavError, DavResult};
use super::props::{self, Target};
use super::request::{Request, body_text, multistatus, vcard_version};
use super::resource::{ROOT, Resource};
use super::xml::{self, DAV};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;

impl Request<'_> {
    /// PROPFIND at Depth 0 or 1 (infinity is refused as RFC 4918 allows).
    pub(super) async fn propfind(&self, body: &Bytes) -> DavResult {
        let asked = xml::parse_propfind(body_text(body)?)?;
        let depth = match self.headers.get("depth").map(|d| d.to_str().unwrap_or("?").trim()) {
            None | Some("0") => 0,
            Some("1") => 1,
            Some(d) if d.eq_ignore_ascii_case("infinity") => {
                return Err(DavError::condition(
                    StatusCode::FORBIDDEN,
                    DAV,
                    "propfind-finite-depth",
                    "",
                ));
            }
            Some(_) => return Err(DavError::status(StatusCode::BAD_REQUEST)),
        };
        let mut responses = Vec::new();
        let roster = &self.state.roster;
        match self.resource {
            Resource::Root => responses.push(props::respond(&self.target(Target::Root), &asked, self.photo_limit())),
            Resource::Principal(_) => responses.push(props::respond(
                &self.target(Target::Principal),
                &asked,
                self.photo_limit(),
            )),
            Resource::Home(_) => {
                responses.push(props::respond(&self.target(Target::Home), &asked, self.photo_limit()));
                if depth == 1 {
                    // Apple clients get the merged book only, unless their terminal asks.
                    for info in roster.books(self.caller, self.is_apple()).await? {
                        responses.push(props::respond(
                            &self.target(Target::Book(&info)),
                            &asked,
                            self.photo_limit(),
                        ));
                    }
                }
            }
            Resource::Book(_, book) => {
                let info = self.book_info(*book).await?;
                let own = props::respond(&self.target(Target::Book(&info)), &asked, self.photo_limit());
                if depth == 1 {
                    // A big book's listing is streamed, its cards rendered as they are sent.
                    let (cards, _) = roster.book_cards(self.caller, *book).await?;
                    let pieces = std::iter::once(Piece::Ready(own)).chain((0..cards.len()).map(Piece::Card));
                    let answer = Multistatus::new(self.card_render(*book, &asked), cards, Box::new(pieces), None);
                    return Ok(answer.into_response());
                }
                responses.push(own);
            }
            Resource::Card(_, book, subject) => {
                let card = self.card(*book, *subject).await?;
                let version = vcard_version(asked.version);
                responses.push(props::respond(
                    &self.target(Target::Card(*book, &card, version)),
                    &asked,
                    self.photo_limit(),
                ));
            }
        }
        Ok(multistatus(xml::multistatus(&responses, None)))
    }

    /// PROPPATCH: only Apple's `me-card` is accepted (and ignored: it is always the card in
    /// `me`); every other property is protected.
    pub(super) fn proppatch(&self, body: &Bytes) -> DavResult {
        let names = xml::parse_proppatch(body_text(body)?)?;
        let (ok, refused): (Vec<_>, Vec<_>) = names.into_iter().partition(|n| n.is(xml::CALSERVER, "me-card"));
        let as_props = |names: Vec<xml::PropName>| {
            names
                .into_iter()
                .map(|name| xml::Prop {
                    name,
                    value: xml::Value::Empty,
                })
                .collect::<Vec<_>>()
        };
        let href = match self.resource {
            Resource::Root => ROOT.to_string(),
            Resource::Principal(_) => self.hrefs.principal(),
            Resource::Home(_) => self.hrefs.home(),
            Resource::Book(_, book) => self.hrefs.book(*book),
            Resource::Card(_, book, subject) => self.hrefs.card(*book, *subject),
        };
        // RFC 4918: PROPPATCH is atomic, so with any refusal the accepted ones fail too.
        let (ok_status, refused_status) = if refused.is_empty() { (200, 403) } else { (424, 403) };
        let response = xml::Response::Props {
            href,
            propstats: vec![
                xml::PropStat {
                    status: ok_status,
                    props: as_props(ok),
                },
                xml::PropStat {
                    status: refused_status,
                    props: as_props(refused),
                },
            ],
        };
        Ok(multistatus(xml::multistatus(&[response], None)))
    }
}
