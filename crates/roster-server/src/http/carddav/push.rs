//! WebDAV-Push on the CardDAV door: `POST push-register` to a book, `DELETE` of a
//! registration URL (`/dav/push/<id>`), and the `Push-Dont-Notify` header of writes.

use super::error::{DavError, DavResult, described_fields};
use super::request::{Request, body_text};
use super::resource::Resource;
use super::xml::{self, PUSH, XmlError};
use crate::domain::Error;
use crate::domain::book::Book;
use crate::domain::ids::RegistrationId;
use crate::domain::push::{DontNotify, Subscription};
use crate::domain::terminal::Caller;
use crate::http::AppState;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use uuid::Uuid;

/// Where registration URLs live, below the DAV tree.
const REGISTRATIONS: &str = "/dav/push/";

/// The id segment of a registration URL's path, if the path is one.
pub(super) fn registration_path(path: &str) -> Option<&str> {
    path.strip_prefix(REGISTRATIONS)
}

/// The registration a registration URL (absolute, or just its path) names.
fn registration_of(url: &str) -> Option<RegistrationId> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => url,
    };
    let id = registration_path(path)?.trim_end_matches('/');
    id.parse::<Uuid>().ok().map(RegistrationId)
}

/// The registrations a write names in `Push-Dont-Notify`: quoted registration URLs, or `*`
/// for all of the writing terminal's.
pub(super) fn dont_notify(headers: &HeaderMap) -> DontNotify {
    let mut ids = Vec::new();
    for value in headers.get_all("push-dont-notify") {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',').map(|i| i.trim().trim_matches('"').trim()) {
            if item == "*" {
                return DontNotify::AllOfTerminal;
            }
            ids.extend(registration_of(item));
        }
    }
    if ids.is_empty() {
        DontNotify::Nobody
    } else {
        DontNotify::These(ids)
    }
}

/// DELETE /dav/push/<id> — removes a registration; only its account may (others get 404).
pub(super) async fn registration(state: &AppState, caller: &Caller, method: &Method, id: &str) -> DavResult {
    if *method != Method::DELETE {
        return Err(DavError::status(StatusCode::METHOD_NOT_ALLOWED));
    }
    let id = id
        .trim_end_matches('/')
        .parse::<Uuid>()
        .map_err(|_| DavError::status(StatusCode::NOT_FOUND))?;
    state.roster.unregister_push(caller, RegistrationId(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn described(status: StatusCode, condition: &str, why: &str) -> DavError {
    DavError::described(status, PUSH, condition, why)
}

impl Request<'_> {
    /// POST /dav/addressbooks/<login>/<book>/ — a `push-register`; any other POST is a
    /// refused write.
    pub(super) async fn post(&self, body: &Bytes) -> DavResult {
        match self.resource {
            Resource::Book(_, book) => self.push_register(*book, body).await,
            _ => self.refuse_write().await,
        }
    }

    /// Registers (201) or renews (204) the calling terminal's push subscription of a book.
    async fn push_register(&self, book: Book, body: &Bytes) -> DavResult {
        let register = match xml::parse_push_register(body_text(body)?) {
            Ok(register) => register,
            Err(XmlError::Unexpected(why)) => {
                return Err(described(StatusCode::BAD_REQUEST, "invalid-subscription", &why));
            }
            Err(malformed) => return Err(malformed.into()),
        };
        // Without a trigger, content updates (DAVx5 sends none); property updates are not
        // offered, so a request for them alone has no supported trigger.
        if register.trigger.is_some_and(|t| !t.content_update) {
            return Err(described(
                StatusCode::FORBIDDEN,
                "no-supported-trigger",
                "only content-update is supported",
            ));
        }
        let subscription = Subscription {
            push_resource: register.push_resource,
            public_key: register.public_key,
            auth_secret: register.auth_secret,
        };
        let roster = &self.state.roster;
        let registered = match roster
            .register_push(self.caller, book, subscription, register.expires)
            .await
        {
            Ok(registered) => registered,
            Err(Error::Forbidden(why)) => return Err(described(StatusCode::FORBIDDEN, "push-not-available", &why)),
            Err(Error::Invalid(fields)) => {
                let why = described_fields(&fields);
                return Err(described(StatusCode::BAD_REQUEST, "invalid-subscription", &why));
            }
            Err(e) => return Err(e.into()),
        };
        let location = format!(
            "{}{REGISTRATIONS}{}",
            roster.settings().public_url.trim_end_matches('/'),
            registered.id
        );
        let status = if registered.created {
            StatusCode::CREATED
        } else {
            StatusCode::NO_CONTENT
        };
        let mut response = status.into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            (header::LOCATION, location),
            (header::EXPIRES, xml::http_date(registered.expires_at)),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dont_notify_names_registrations_by_url_or_star() {
        let id = Uuid::new_v4();
        let mut headers = HeaderMap::new();
        assert_eq!(dont_notify(&headers), DontNotify::Nobody);
        headers.insert(
            "push-dont-notify",
            HeaderValue::from_str(&format!("\"https://dav.example.org/dav/push/{id}\", \"/elsewhere/x\"")).unwrap(),
        );
        assert_eq!(dont_notify(&headers), DontNotify::These(vec![RegistrationId(id)]));
        headers.insert(
            "push-dont-notify",
            HeaderValue::from_str(&format!("/dav/push/{id}")).unwrap(),
        );
        assert_eq!(dont_notify(&headers), DontNotify::These(vec![RegistrationId(id)]));
        headers.insert("push-dont-notify", HeaderValue::from_static("*"));
        assert_eq!(dont_notify(&headers), DontNotify::AllOfTerminal);
        headers.insert(
            "push-dont-notify",
            HeaderValue::from_static("\"https://x/dav/push/nope\""),
        );
        assert_eq!(dont_notify(&headers), DontNotify::Nobody);
    }
}
