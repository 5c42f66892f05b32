//! The CardDAV door (RFC 6352, RFC 6578 sync-collection, RFC 6764 discovery): translates
//! WebDAV requests into calls of the domain's address-book functions and their answers into
//! multistatus XML and vCards. It decides nothing about visibility and never touches storage.
//!
//! URL layout: `/dav/principals/<login>/` (principal), `/dav/addressbooks/<login>/` (home
//! set) with the books `contacts/`, `me/` and `<group-id>/`, each card at `<account-id>.vcf`.
//! DAV methods have no `MethodFilter`, so one `any()` handler matches on the method.

mod body;
mod props;
mod push;
mod report;
pub mod xml;

use super::AppState;
use super::client::ClientIp;
use crate::domain::Error;
use crate::domain::account::Caller;
use crate::domain::contacts::{Book, BookCard, BookInfo};
use crate::domain::ids::AccountId;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use body::{CardRender, Multistatus, Piece};
use props::Target;
use roster_proto::vcard::{self, VcardVersion};
use uuid::Uuid;
use xml::{AskedVersion, CARDDAV, DAV, XmlError};

/// Where the DAV tree starts.
const ROOT: &str = "/dav/";
/// The realm of every Basic challenge: clients store passwords per origin and realm.
const REALM: &str = "Basic realm=\"Roster\", charset=\"UTF-8\"";
const DAV_HEADER: &str = "1, 3, access-control, addressbook, webdav-push";
const ALLOW_READ_ONLY: &str = "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT";
const ALLOW_WRITABLE: &str = "OPTIONS, GET, HEAD, PUT, PROPFIND, PROPPATCH, REPORT";
const VCARD_TYPE: &str = "text/vcard; charset=utf-8";

/// The path of an account's principal, where a CardDAV client starts (also written into the
/// phone setup profiles and links of the web pages).
pub fn principal_path(login: &str) -> String {
    format!("{ROOT}principals/{login}/")
}

/// The CardDAV routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/carddav", any(well_known))
        .route("/", any(dav))
        .route("/dav", any(dav))
        .route("/dav/", any(dav))
        .route("/dav/{*rest}", any(dav))
}

/// `/.well-known/carddav` — every method is sent on to the DAV root (RFC 6764).
async fn well_known() -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, ROOT)]).into_response()
}

/// A resource of the DAV tree, as named by a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    /// `/` or `/dav/`: points at the principal.
    Root,
    /// The account's principal.
    Principal(String),
    /// The address-book home set.
    Home(String),
    /// One book.
    Book(String, Book),
    /// One card of a book.
    Card(String, Book, AccountId),
}

impl Resource {
    fn parse(path: &str) -> Option<Resource> {
        if path == "/" || path == "/dav" || path == ROOT {
            return Some(Resource::Root);
        }
        let rest = path.strip_prefix(ROOT)?;
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        let login = |s: &str| s.to_ascii_lowercase();
        match parts.as_slice() {
            ["principals", who] => Some(Resource::Principal(login(who))),
            ["addressbooks", who] => Some(Resource::Home(login(who))),
            ["addressbooks", who, book] => Some(Resource::Book(login(who), Book::from_key(book)?)),
            ["addressbooks", who, book, card] if !rest.ends_with('/') => {
                let id = card.strip_suffix(".vcf")?.parse::<Uuid>().ok()?;
                Some(Resource::Card(login(who), Book::from_key(book)?, AccountId(id)))
            }
            _ => None,
        }
    }

    fn owner(&self) -> Option<&str> {
        match self {
            Resource::Root => None,
            Resource::Principal(l) | Resource::Home(l) | Resource::Book(l, _) | Resource::Card(l, _, _) => Some(l),
        }
    }
}

/// Hrefs of the caller's resources.
#[derive(Debug, Clone)]
struct Hrefs {
    login: String,
}

impl Hrefs {
    fn principal(&self) -> String {
        principal_path(&self.login)
    }

    fn home(&self) -> String {
        format!("{ROOT}addressbooks/{}/", self.login)
    }

    fn book(&self, book: Book) -> String {
        format!("{}{}/", self.home(), book.key())
    }

    fn card(&self, book: Book, subject: AccountId) -> String {
        format!("{}{subject}.vcf", self.book(book))
    }
}

/// An answer that is not a multistatus: a status with an optional DAV error body.
#[derive(Debug)]
struct DavError {
    status: StatusCode,
    body: Option<String>,
    challenge: bool,
    retry_after: Option<u64>,
}

impl DavError {
    fn status(status: StatusCode) -> Self {
        DavError {
            status,
            body: None,
            challenge: false,
            retry_after: None,
        }
    }

    /// A precondition failure with its `DAV:error` body.
    fn condition(status: StatusCode, ns: &str, condition: &str, inner: &str) -> Self {
        DavError {
            body: Some(xml::error(ns, condition, inner)),
            ..DavError::status(status)
        }
    }

    /// 403 for a write the caller's privileges do not allow (DAVx5 then drops the upload).
    fn need_privileges(href: &str, privilege: &str) -> Self {
        let inner = format!(
            "<D:resource><D:href>{}</D:href><D:privilege><D:{privilege}/></D:privilege></D:resource>",
            xml::escape_text(href)
        );
        DavError::condition(StatusCode::FORBIDDEN, DAV, "need-privileges", &inner)
    }
}

impl From<Error> for DavError {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(_) => DavError::status(StatusCode::NOT_FOUND),
            Error::Unauthorized => DavError {
                challenge: true,
                ..DavError::status(StatusCode::UNAUTHORIZED)
            },
            Error::Forbidden(_) => DavError::status(StatusCode::FORBIDDEN),
            Error::Conflict(_) | Error::InviteUnusable => DavError::status(StatusCode::CONFLICT),
            Error::Stale(_) => DavError::status(StatusCode::PRECONDITION_FAILED),
            Error::Invalid(_) => DavError::status(StatusCode::BAD_REQUEST),
            Error::RateLimited { retry_after } => DavError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..DavError::status(StatusCode::TOO_MANY_REQUESTS)
            },
            Error::Unavailable { retry_after, .. } => DavError {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..DavError::status(StatusCode::SERVICE_UNAVAILABLE)
            },
            Error::Internal(detail) => {
                tracing::error!(error = ?detail, "internal error in CardDAV");
                DavError::status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl From<XmlError> for DavError {
    fn from(error: XmlError) -> Self {
        DavError {
            body: Some(format!("{error}\n")),
            ..DavError::status(StatusCode::BAD_REQUEST)
        }
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let is_xml = self.body.as_deref().is_some_and(|b| b.starts_with("<?xml"));
        let mut response = match self.body {
            Some(body) => (self.status, body).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if is_xml {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            );
        }
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        response
    }
}

type DavResult = Result<Response, DavError>;

/// The Basic credentials of a request; `None` when there are none (a challenge, not a failure).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    Some((login.to_string(), password.to_string()))
}

async fn authenticate(state: &AppState, headers: &HeaderMap, client: ClientIp) -> Result<Caller, DavError> {
    let (login, password) = basic_credentials(headers).ok_or(Error::Unauthorized)?;
    Ok(state.roster.authenticate_basic(&login, &password, client.0).await?)
}

/// Every method on every DAV path.
async fn dav(
    State(state): State<AppState>,
    client: ClientIp,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let resource = Resource::parse(&path);
    if method == Method::OPTIONS {
        return options(resource.as_ref());
    }
    let outcome = async {
        // GET / is not DAV; only PROPFIND discovers from the server root.
        if path == "/" && method.as_str() != "PROPFIND" {
            return Err(DavError::status(StatusCode::NOT_FOUND));
        }
        let caller = authenticate(&state, &headers, client).await?;
        if let Some(agent) = user_agent(&headers)
            && let Err(e) = state.roster.note_client(&caller, agent).await
        {
            tracing::warn!(error = %e, "could not remember a terminal's client");
        }
        if let Some(id) = push::registration_path(&path) {
            return push::registration(&state, &caller, &method, id).await;
        }
        let resource = resource.ok_or(DavError::status(StatusCode::NOT_FOUND))?;
        if resource.owner().is_some_and(|owner| owner != caller.account.login) {
            return Err(DavError::status(StatusCode::NOT_FOUND));
        }
        let request = Request {
            state: &state,
            caller: &caller,
            hrefs: Hrefs {
                login: caller.account.login.clone(),
            },
            resource: &resource,
            headers: &headers,
        };
        match method.as_str() {
            "PROPFIND" => request.propfind(&body).await,
            "PROPPATCH" => request.proppatch(&body),
            "REPORT" => request.report(&body).await,
            "GET" | "HEAD" => request.get().await,
            "PUT" => request.put(&body).await,
            "POST" => request.post(&body).await,
            _ => request.refuse_write().await,
        }
    }
    .await;
    outcome.unwrap_or_else(IntoResponse::into_response)
}

/// OPTIONS: what the resource allows; answered without credentials.
fn options(resource: Option<&Resource>) -> Response {
    let allow = match resource {
        Some(Resource::Book(_, Book::Me) | Resource::Card(_, Book::Me, _)) => ALLOW_WRITABLE,
        _ => ALLOW_READ_ONLY,
    };
    (
        StatusCode::OK,
        [
            (header::HeaderName::from_static("dav"), DAV_HEADER),
            (header::ALLOW, allow),
        ],
    )
        .into_response()
}

/// One authenticated request on one resource.
struct Request<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    hrefs: Hrefs,
    resource: &'a Resource,
    headers: &'a HeaderMap,
}

fn body_text(body: &Bytes) -> Result<&str, DavError> {
    std::str::from_utf8(body).map_err(|_| DavError::from(XmlError::Malformed("the body is not UTF-8".into())))
}

fn multistatus(body: String) -> Response {
    (
        StatusCode::MULTI_STATUS,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn vcard_version(asked: AskedVersion) -> VcardVersion {
    match asked {
        AskedVersion::V4 => VcardVersion::V4,
        AskedVersion::V3 | AskedVersion::Default => VcardVersion::V3,
    }
}

/// Renders a card of a book; its UID is the subject's account id in every book.
fn render(card: &BookCard, version: VcardVersion) -> String {
    let extras = vcard::Extras {
        categories: card.categories.clone(),
        revision: None,
    };
    vcard::write(&card.subject.to_string(), &card.card, version, &extras)
}

/// Rejected fields as one line of a DAV error's description.
fn described_fields(fields: &[roster_proto::api::FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Whether an `If-None-Match`/`If-Match` list names the entity tag (or `*`).
fn names_etag(list: &str, etag: Option<&str>) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        tag == "*" && etag.is_some() || etag.is_some_and(|e| tag.trim_start_matches("W/").trim_matches('"') == e)
    })
}

/// The request's User-Agent, if readable.
fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

/// Whether a User-Agent is one of Apple's address-book daemons, which show a person once per
/// book (duplicate caller-ID matches) and, on macOS, sync only the first book listed.
fn is_apple(agent: &str) -> bool {
    ["dataaccessd", "accountsd", "AddressBook", "iOS/", "macOS/", "Mac OS X/"]
        .iter()
        .any(|mark| agent.contains(mark))
}

impl Request<'_> {
    /// Whether the device is an Apple one: by the client that first used its app password,
    /// so that the decision holds for the terminal, not per request.
    fn is_apple(&self) -> bool {
        self.caller
            .terminal
            .client
            .as_deref()
            .or_else(|| user_agent(self.headers))
            .is_some_and(is_apple)
    }

    fn photo_limit(&self) -> usize {
        self.state.roster.settings().card_rules.photo_max_bytes
    }

    /// The book of the resource, with its name and token.
    async fn book_info(&self, book: Book) -> Result<BookInfo, DavError> {
        Ok(self.state.roster.book(self.caller, book).await?)
    }

    async fn propfind(&self, body: &Bytes) -> DavResult {
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

    /// What a streamed answer needs to render the cards of `book` as `asked`.
    fn card_render(&self, book: Book, asked: &xml::Props) -> CardRender {
        CardRender {
            book,
            props: asked.clone(),
            version: vcard_version(asked.version),
            photo_limit: self.photo_limit(),
            hrefs: self.hrefs.clone(),
            caller: self.caller.clone(),
        }
    }

    fn target<'t>(&'t self, kind: Target<'t>) -> props::Context<'t> {
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

    async fn card(&self, book: Book, subject: AccountId) -> Result<BookCard, DavError> {
        self.state
            .roster
            .book_cards_of(self.caller, book, &[subject])
            .await?
            .into_iter()
            .find_map(|(_, card)| card)
            .ok_or(DavError::status(StatusCode::NOT_FOUND))
    }

    /// PROPPATCH: only Apple's `me-card` is accepted (and ignored: it is always the card in
    /// `me`); every other property is protected.
    fn proppatch(&self, body: &Bytes) -> DavResult {
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

    async fn get(&self) -> DavResult {
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
    async fn put(&self, body: &Bytes) -> DavResult {
        let subject = match self.resource {
            Resource::Card(_, Book::Me, subject) if *subject == self.caller.account.id => *subject,
            Resource::Card(_, Book::Me, _) => {
                return Err(DavError::need_privileges(&self.hrefs.book(Book::Me), "bind"));
            }
            _ => return self.refuse_write().await,
        };
        let href = self.hrefs.card(Book::Me, subject);
        let invalid = |status: StatusCode, why: String| DavError {
            body: Some(xml::error_described(CARDDAV, "valid-address-data", &why)),
            ..DavError::status(status)
        };
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
    async fn refuse_write(&self) -> DavResult {
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
    use crate::domain::ids::GroupId;

    #[test]
    fn paths_name_resources() {
        let id = Uuid::new_v4();
        assert_eq!(Resource::parse("/"), Some(Resource::Root));
        assert_eq!(Resource::parse("/dav/"), Some(Resource::Root));
        assert_eq!(
            Resource::parse("/dav/principals/Anna/"),
            Some(Resource::Principal("anna".into()))
        );
        assert_eq!(
            Resource::parse("/dav/addressbooks/anna/contacts/"),
            Some(Resource::Book("anna".into(), Book::Contacts))
        );
        assert_eq!(
            Resource::parse(&format!("/dav/addressbooks/anna/{id}/{id}.vcf")),
            Some(Resource::Card("anna".into(), Book::Group(GroupId(id)), AccountId(id)))
        );
        for bad in [
            "/dav/x/",
            "/dav/addressbooks/anna/nope/",
            "/dav/addressbooks/anna/me/x.vcf",
            "/api/v1",
        ] {
            assert_eq!(Resource::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn preconditions_compare_strong_tags() {
        assert!(names_etag("\"abc\"", Some("abc")));
        assert!(names_etag("\"x\", \"abc\"", Some("abc")));
        assert!(names_etag("*", Some("abc")));
        assert!(!names_etag("*", None));
        assert!(!names_etag("\"abd\"", Some("abc")));
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("anna:pa:ss"))).unwrap(),
        );
        assert_eq!(basic_credentials(&headers), Some(("anna".into(), "pa:ss".into())));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
