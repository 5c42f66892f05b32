//! A small browser for the page tests: keeps cookies, does not follow redirects by itself
//! (tests look at each one), reads the form token of a page, posts urlencoded and multipart
//! forms. Real browsers are driven by the `browser` test target; this one checks the HTTP.

// The helpers are `pub` for the tests beside them; a test binary exports nothing.
#![allow(unreachable_pub)]

use crate::support::{TestServer, http_client};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One browser profile.
pub struct Browser {
    pub base: String,
    http: reqwest::Client,
    pub cookies: Mutex<BTreeMap<String, String>>,
    /// Extra request headers (e.g. `Accept-Language`).
    pub headers: Mutex<HeaderMap>,
}

/// A response as a test reads it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// Where a redirect goes.
    pub fn location(&self) -> Option<String> {
        self.headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The form token of the page.
    pub fn csrf(&self) -> String {
        attribute_after(&self.body, r#"name="csrf-token" content=""#).unwrap_or_default()
    }

    /// Whether an element with this id is on the page.
    pub fn has_id(&self, id: &str) -> bool {
        self.body.contains(&format!(r#"id="{id}""#))
    }

    /// The text inside the element with this id (up to its first `<`), trimmed.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!(r#"id="{id}""#))?;
        let rest = &self.body[start..];
        let open_end = rest.find('>')? + 1;
        let inner = &rest[open_end..];
        Some(inner[..inner.find('<').unwrap_or(inner.len())].trim().to_string())
    }

    /// The value attribute of the input with this id.
    pub fn value_of(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!(r#"id="{id}""#))?;
        let tag_end = start + self.body[start..].find('>')?;
        let tag_start = self.body[..start].rfind('<')?;
        attribute_after(&self.body[tag_start..tag_end], r#"value=""#)
    }
}

/// The text of an attribute value that starts right after `prefix`.
fn attribute_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let end = start + text[start..].find('"')?;
    Some(html_unescape(&text[start..end]))
}

/// Undoes askama's escaping of an attribute value.
pub fn html_unescape(text: &str) -> String {
    text.replace("&#43;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self::at(&server.base)
    }

    pub fn at(base: &str) -> Self {
        roster_server::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| http_client());
        Browser {
            base: base.to_string(),
            http,
            cookies: Mutex::new(BTreeMap::new()),
            headers: Mutex::new(HeaderMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.lock().unwrap().insert(name.into(), value.into());
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let mut request = request.header(reqwest::header::COOKIE, self.cookie_header());
        for (name, value) in self.headers.lock().unwrap().iter() {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let expired = text.contains("Max-Age=0");
                let mut cookies = self.cookies.lock().unwrap();
                if expired || value.is_empty() {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().into(), value.trim().into());
                }
            }
        }
        let body = response.text().await.unwrap_or_default();
        Reply { status, headers, body }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path))).await
    }

    /// GET, following redirects on this site; returns the last page and its path.
    pub async fn open(&self, path: &str) -> (String, Reply) {
        let mut path = path.to_string();
        for _ in 0..10 {
            let reply = self.get(&path).await;
            match reply.location() {
                Some(next) if reply.status.is_redirection() => path = next,
                _ => return (path, reply),
            }
        }
        panic!("too many redirects from {path}");
    }

    /// POSTs an urlencoded form as is (the test adds `csrf` itself when it wants one).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter())
            .finish();
        self.send(
            self.http
                .post(self.url(path))
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Opens `page`, then posts `fields` to `action` with the page's form token.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.get(page).await.csrf();
        assert!(!csrf.is_empty(), "{page} has a form token");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    /// POSTs a multipart form: text fields and files (`(name, filename, bytes)`).
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Reply {
        let boundary = "----rostertestboundary7d3f";
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, filename, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            self.http
                .post(self.url(path))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}")).unwrap(),
                )
                .body(body),
        )
        .await
    }

    /// Signs in through the form (login `L`, password `L-password` as `TestServer::user` makes
    /// them, unless given), going on to `next` if set.
    pub async fn sign_in(&self, login: &str, password: &str, next: &str) -> Reply {
        self.submit(
            "/login",
            "/login",
            &[("login", login), ("password", password), ("next", next)],
        )
        .await
    }

    /// Signs up through the form; returns the redirect target.
    pub async fn sign_up(&self, login: &str, name: &str, invite: &str, next: &str) -> Reply {
        self.submit(
            "/signup",
            "/signup",
            &[
                ("login", login),
                ("password", &format!("{login}-password")),
                ("display_name", name),
                ("invite", invite),
                ("next", next),
            ],
        )
        .await
    }

    /// Saves the card through the form with one phone (region picked) and the given extras.
    pub async fn save_card(&self, name: &str, phone: &str, region: &str, next: &str) -> Reply {
        let csrf = self.get("/me/card").await.csrf();
        self.post_multipart(
            "/me/card",
            &[
                ("csrf", &csrf),
                ("next", next),
                ("formatted_name", name),
                ("phone_0", phone),
                ("phone_region_0", region),
                ("phone_kind_0", "mobile"),
            ],
            &[],
        )
        .await
    }
}
