//! One Web Push request (RFC 8030 §5) and what the push service's answer means, sent only
//! where [`super::guard`] allows, with a cap per push service so that a slow one cannot hold
//! every slot.
//!
//! Push resources are capabilities (whoever knows one can push to that client): they are
//! never logged, and errors are worded without them.

use super::guard::{PublicResolver, admitting};
use crate::domain::push::PushOrigin;
use crate::webpush::VapidKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;
use url::Url;

/// How long a push service keeps an undelivered message: a sync hint older than a day is
/// worth less than the client's own periodic sync.
const TTL_SECONDS: u32 = 24 * 3600;
/// VAPID tokens are valid for this long (RFC 8292 allows up to 24 hours).
const VAPID_VALIDITY: i64 = 12 * 3600;
/// Longest wait for a push service.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Pushes in flight at once, to all push services together.
const CONCURRENCY: usize = 16;
/// Pushes in flight at once to one allow-listed origin.
const PER_ORIGIN: usize = 4;

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the push service.
    Delivered,
    /// The subscription no longer exists there (404, 410): forget it.
    Gone,
    /// A failure that may pass (network, timeout, 429, 5xx).
    Retry(String),
    /// A refusal that a retry would meet again (other 4xx).
    Refused(String),
}

/// Posts encrypted messages to push services.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    contact: String,
    origins: Arc<Vec<PushOrigin>>,
    slots: Arc<Semaphore>,
    /// Keyed by allow-list entry, so the map is no larger than the allow-list.
    origin_slots: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Sender {
    /// A sender whose VAPID tokens name `contact` (a `mailto:` or `https:` URI), posting only
    /// to push resources at `origins`.
    pub fn new(contact: String, origins: Vec<PushOrigin>) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // The allow-list vets the push resource; a redirect would lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(PublicResolver::new(&origins)))
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION"), " webdav-push"))
            .build()?;
        Ok(Sender {
            client,
            contact,
            origins: Arc::new(origins),
            slots: Arc::new(Semaphore::new(CONCURRENCY)),
            origin_slots: Arc::default(),
        })
    }

    /// Posts one encrypted message (`aes128gcm`) to a push resource, signed with the VAPID key;
    /// `topic` lets the push service replace an older undelivered message of the same topic.
    /// Waits for a slot of the push resource's origin first, then for one of all.
    pub async fn send(&self, vapid: &VapidKey, push_resource: &str, body: Vec<u8>, topic: &str, now: i64) -> Outcome {
        let Ok(url) = Url::parse(push_resource) else {
            return Outcome::Refused("invalid push resource".into());
        };
        let Some(origin) = admitting(&self.origins, &url) else {
            return Outcome::Refused("the push resource is no longer at an allowed origin".into());
        };
        let origin_slots = self
            .origin_slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(origin.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(PER_ORIGIN)))
            .clone();
        let (Ok(_origin_slot), Ok(_slot)) = (origin_slots.acquire_owned().await, self.slots.acquire().await) else {
            return Outcome::Retry("the sender is shutting down".into());
        };
        let audience = url.origin().ascii_serialization();
        let authorization = match vapid.authorization(&audience, &self.contact, now + VAPID_VALIDITY) {
            Ok(value) => value,
            Err(e) => return Outcome::Retry(format!("cannot sign the VAPID token: {e}")),
        };
        let request = self
            .client
            .post(url)
            .header("authorization", authorization)
            .header("ttl", TTL_SECONDS.to_string())
            .header("urgency", "normal")
            .header("topic", topic)
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/xml; charset=\"utf-8\"")
            .body(body);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                match status.as_u16() {
                    200..=299 => Outcome::Delivered,
                    404 | 410 => Outcome::Gone,
                    429 | 500..=599 => Outcome::Retry(format!("push service answered {status}")),
                    _ => Outcome::Refused(format!("push service answered {status}")),
                }
            }
            // The error's text would include the URL, a capability: never log it.
            Err(e) => Outcome::Retry(format!("push service unreachable: {}", e.without_url())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn vapid() -> VapidKey {
        VapidKey::from_pkcs8(&VapidKey::generate_pkcs8().unwrap()).unwrap()
    }

    fn sender(origins: &[String]) -> Sender {
        let origins = origins.iter().map(|o| o.parse().unwrap()).collect();
        Sender::new("mailto:ops@example.org".into(), origins).unwrap()
    }

    /// A push service that answers 201 to every request at once.
    async fn fast_service() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Read the headers and the announced body before answering.
                    loop {
                        let Ok(n) = stream.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|l| l.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                });
            }
        });
        origin
    }

    /// A push service that accepts connections and never answers.
    async fn stalled_service() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        origin
    }

    #[tokio::test]
    async fn a_stalled_push_service_cannot_hold_every_slot() {
        let (stalled, fast) = (stalled_service().await, fast_service().await);
        let sender = sender(&[stalled.clone(), fast.clone()]);
        let key = Arc::new(vapid());
        let mut stuck = tokio::task::JoinSet::new();
        for i in 0..(2 * CONCURRENCY) {
            let (sender, key, url) = (sender.clone(), key.clone(), format!("{stalled}/push/{i}"));
            stuck.spawn(async move { sender.send(&key, &url, vec![1; 10], "t", 0).await });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delivered = tokio::time::timeout(
            Duration::from_secs(3),
            sender.send(&key, &format!("{fast}/push/x"), vec![1; 10], "t", 0),
        )
        .await;
        assert_eq!(delivered, Ok(Outcome::Delivered), "pushes to a healthy service waited");
        stuck.abort_all();
    }

    #[tokio::test]
    async fn push_resources_are_checked_at_send_time_and_never_worded_into_errors() {
        let fast = fast_service().await;
        let sender = sender(std::slice::from_ref(&fast));
        let key = vapid();
        // An origin that left the allow-list after the registration.
        let elsewhere = fast_service().await;
        let refused = sender.send(&key, &format!("{elsewhere}/push/x"), vec![1], "t", 0).await;
        assert!(matches!(refused, Outcome::Refused(_)), "{refused:?}");

        // A listed origin that is down: the reason names no URL (push resources are capabilities).
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let sender = Sender::new("mailto:ops@example.org".into(), vec![down.parse().unwrap()]).unwrap();
        let outcome = sender
            .send(&key, &format!("{down}/push/secret-capability"), vec![1], "t", 0)
            .await;
        match outcome {
            Outcome::Retry(why) => assert!(!why.contains("secret-capability") && !why.contains(&down), "{why}"),
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}
