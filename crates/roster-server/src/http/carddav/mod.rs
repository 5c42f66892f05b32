//! The CardDAV door (RFC 6352, RFC 6578 sync-collection, RFC 6764 discovery): translates
//! WebDAV requests into calls of the domain's address-book functions and their answers into
//! multistatus XML and vCards. It decides nothing about visibility and never touches storage.
//!
//! URL layout: `/dav/principals/<login>/` (principal), `/dav/addressbooks/<login>/` (home
//! set) with the books `contacts/`, `me/` and `<group-id>/`, each card at `<account-id>.vcf`.
//! DAV methods have no `MethodFilter`, so one `any()` handler matches on the method.
//!
//! The module map: `resource` names the tree (paths in, hrefs out); `auth` finds the caller;
//! `request` is one request on one resource, answered by `propfind` (PROPFIND, PROPPATCH),
//! `report` (REPORT), `card` (GET, HEAD, PUT and refused writes) and `push` (WebDAV-Push);
//! `props` holds the property values, `body` streams long multistatus answers, `error` maps
//! failures to DAV errors and [`xml`] reads and writes the XML.

mod auth;
mod body;
mod card;
mod error;
mod propfind;
mod props;
mod push;
mod report;
mod request;
mod resource;
pub mod xml;

pub use resource::principal_path;

use super::AppState;
use super::client::ClientIp;
use crate::domain::book::Book;
use auth::{authenticate, user_agent};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use error::DavError;
use request::Request;
use resource::{Hrefs, ROOT, Resource};

const DAV_HEADER: &str = "1, 3, access-control, addressbook, webdav-push";
const ALLOW_READ_ONLY: &str = "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, REPORT";
const ALLOW_WRITABLE: &str = "OPTIONS, GET, HEAD, PUT, PROPFIND, PROPPATCH, REPORT";

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
