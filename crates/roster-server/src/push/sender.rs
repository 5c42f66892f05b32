//! One Web Push request (RFC 8030 §5) and what the push service's answer means.

use super::crypto::VapidKey;
use std::time::Duration;
use url::Url;

/// How long a push service keeps an undelivered message: a sync hint older than a day is
/// worth less than the client's own periodic sync.
const TTL_SECONDS: u32 = 24 * 3600;
/// VAPID tokens are valid for this long (RFC 8292 allows up to 24 hours).
const VAPID_VALIDITY: i64 = 12 * 3600;
/// Longest wait for a push service.
const TIMEOUT: Duration = Duration::from_secs(10);

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
}

impl Sender {
    /// A sender whose VAPID tokens name `contact` (a `mailto:` or `https:` URI).
    pub fn new(contact: String) -> anyhow::Result<Self> {
        // reqwest is built without a crypto provider (one provider in the graph): ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // The allow-list vets the push resource; a redirect would lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION"), " webdav-push"))
            .build()?;
        Ok(Sender { client, contact })
    }

    /// Posts one encrypted message (`aes128gcm`) to a push resource, signed with the VAPID key;
    /// `topic` lets the push service replace an older undelivered message of the same topic.
    pub async fn send(&self, vapid: &VapidKey, push_resource: &str, body: Vec<u8>, topic: &str, now: i64) -> Outcome {
        let url = match Url::parse(push_resource) {
            Ok(url) => url,
            Err(e) => return Outcome::Refused(format!("invalid push resource: {e}")),
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
            Err(e) => Outcome::Retry(format!("push service unreachable: {e}")),
        }
    }
}
