//! WebDAV-Push (draft-bitfire-webdav-push) registrations of address books: which terminal
//! wants to hear about which book, at which push resource, until when; which registrations a
//! committed change concerns; and what to tell them — the book's topic and current sync token,
//! never card data. Delivery (encryption, VAPID signing, HTTP) belongs to [`crate::push`], the cryptography to
//! [`crate::webpush`].
//!
//! Push resources are outbound URLs chosen by clients, so only allow-listed origins are
//! accepted (the server would otherwise post to anything a client names).

use super::book::Book;
use super::error::{Error, Result};
use super::ids::{AccountId, RegistrationId, TerminalId};
use super::ports::{Event, PushClaim};
use super::terminal::Caller;
use super::{Roster, now};
use crate::webpush::{self as crypto, VapidKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use roster_proto::api::TerminalKind;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use url::Url;

/// Name of the stored VAPID key pair (PKCS#8).
const VAPID_KEY: &str = "webdav-push-vapid-p256";
/// Name of the stored secret that topics are keyed with.
const TOPIC_KEY: &str = "webdav-push-topic-secret";
/// Longest push resource URL accepted (FCM and ntfy endpoints are a few hundred bytes).
const MAX_PUSH_RESOURCE: usize = 2048;

/// An origin push resources may be at: `https://push.example.org`, optionally with a port,
/// or `https://*.example.org` for any host below that domain (https on port 443 only).
///
/// An origin listed exactly names one host the operator trusts, which may be on a private
/// network or this machine (a self-hosted ntfy, a test sink); hosts matched by a wildcard are
/// reached only at public addresses (see [`crate::push`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOrigin {
    scheme: String,
    host: String,
    wildcard: bool,
    port: u16,
}

impl FromStr for PushOrigin {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let (wildcard, url) = match text.split_once("://*.") {
            Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
            None => (false, text.to_string()),
        };
        let url = Url::parse(&url).map_err(|e| format!("`{text}` is not an origin: {e}"))?;
        let scheme = url.scheme().to_string();
        if scheme != "https" && scheme != "http" {
            return Err(format!("`{text}`: push origins are http:// or https://"));
        }
        if scheme == "http" && wildcard {
            return Err(format!("`{text}`: plain-HTTP origins must name one host"));
        }
        if wildcard && url.port().is_some_and(|port| port != 443) {
            return Err(format!("`{text}`: wildcard origins are https on port 443"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.path() != "/" {
            return Err(format!("`{text}` is not an origin (scheme, host and port only)"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{text}` has no host"))?
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("`{text}` has no port"))?;
        Ok(PushOrigin {
            scheme,
            host,
            wildcard,
            port,
        })
    }
}

impl fmt::Display for PushOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wildcard = if self.wildcard { "*." } else { "" };
        write!(f, "{}://{wildcard}{}:{}", self.scheme, self.host, self.port)
    }
}

impl PushOrigin {
    /// Whether this origin names one host exactly (no wildcard).
    pub fn is_exact(&self) -> bool {
        !self.wildcard
    }

    /// The host, or for a wildcard the domain below which hosts are admitted.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether a push resource lies at this origin.
    pub fn admits(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_matches = if self.wildcard {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|label| label.len() > 1 && label.ends_with('.'))
        } else {
            host == self.host
        };
        url.scheme() == self.scheme && host_matches && url.port_or_known_default() == Some(self.port)
    }
}

/// The public push services allowed when the operator lists none: Firebase (Android), Mozilla
/// autopush (Firefox), Apple web push, and ntfy.sh (UnifiedPush).
pub fn default_push_origins() -> Vec<PushOrigin> {
    [
        "https://fcm.googleapis.com",
        "https://updates.push.services.mozilla.com",
        "https://web.push.apple.com",
        "https://ntfy.sh",
    ]
    .iter()
    .filter_map(|o| o.parse().ok())
    .collect()
}

/// How WebDAV-Push behaves, from the configuration.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// Where push resources may be.
    pub allowed_origins: Vec<PushOrigin>,
    /// VAPID `sub`: a `mailto:` or `https:` contact for push-service operators.
    pub contact: String,
    /// Longest registration lifetime (clients may ask for less).
    pub registration_ttl: Duration,
    /// At most one push per registration per this window.
    pub coalesce: Duration,
    /// Most registrations one account may hold.
    pub max_registrations: u32,
}

impl PushSettings {
    /// Defaults with a contact.
    pub fn new(contact: String) -> Self {
        PushSettings {
            allowed_origins: default_push_origins(),
            contact,
            registration_ttl: Duration::from_secs(7 * 24 * 3600),
            coalesce: Duration::from_millis(1500),
            max_registrations: 100,
        }
    }
}

/// A Web Push subscription as a client hands it over: the push resource (RFC 8030) and the
/// keys its messages are encrypted to (RFC 8291).
#[derive(Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Absolute URL the server posts messages to.
    pub push_resource: String,
    /// The subscription's P-256 public key, uncompressed.
    pub public_key: Vec<u8>,
    /// The 16-byte authentication secret.
    pub auth_secret: Vec<u8>,
}

impl fmt::Debug for Subscription {
    // The push resource is a bearer capability: whoever knows it can post to the device.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

/// A stored registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRegistration {
    /// Its id, the last segment of its registration URL.
    pub id: RegistrationId,
    /// The terminal that registered it.
    pub terminal_id: TerminalId,
    /// The terminal's account.
    pub account_id: AccountId,
    /// The subscribed book.
    pub book: Book,
    /// Where and how to deliver.
    pub subscription: Subscription,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
}

/// The outcome of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// The registration.
    pub id: RegistrationId,
    /// False when the same push resource was registered for the book before (an update).
    pub created: bool,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
}

/// Registrations a write must not notify (`Push-Dont-Notify`): the writer already knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DontNotify {
    /// Notify everyone.
    #[default]
    Nobody,
    /// `*`: none of the writing terminal's registrations.
    AllOfTerminal,
    /// These registrations (others' ids are ignored).
    These(Vec<RegistrationId>),
}

/// What one push tells one registration.
#[derive(Debug, Clone)]
pub struct PushMessage {
    /// The registration, with its subscription.
    pub registration: PushRegistration,
    /// The book's push topic.
    pub topic: String,
    /// The book's current sync token.
    pub token: String,
    /// RFC 8030 `Topic` header: lets the push service replace an undelivered older message.
    /// Derived from the registration alone, so it tells the push service nothing.
    pub coalesce_key: String,
}

/// The server's push keys.
struct PushKeys {
    vapid: VapidKey,
    topics: hmac::Key,
}

/// The in-memory side of push, per server.
#[derive(Default)]
pub(crate) struct PushState {
    keys: OnceCell<PushKeys>,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Internal(anyhow::Error::new(e))
}

fn keyed(key: &hmac::Key, parts: &[&[u8]]) -> String {
    let mut context = hmac::Context::with_key(key);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    URL_SAFE_NO_PAD.encode(&context.sign().as_ref()[..16])
}

impl Roster {
    /// Loads the VAPID key pair and the topic secret, creating them on the first start.
    pub async fn load_push_keys(&self) -> Result<()> {
        self.push_keys().await.map(|_| ())
    }

    async fn push_keys(&self) -> Result<&PushKeys> {
        self.push
            .keys
            .get_or_try_init(|| async {
                let candidate = VapidKey::generate_pkcs8().map_err(internal)?;
                let pkcs8 = self.store.server_key(VAPID_KEY, &candidate).await?;
                let vapid = VapidKey::from_pkcs8(&pkcs8).map_err(internal)?;
                let mut secret = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut secret)
                    .map_err(|_| Error::Internal(anyhow::anyhow!("no randomness for the topic secret")))?;
                let secret = self.store.server_key(TOPIC_KEY, &secret).await?;
                Ok(PushKeys {
                    vapid,
                    topics: hmac::Key::new(hmac::HMAC_SHA256, &secret),
                })
            })
            .await
    }

    /// The VAPID key pair, once [`Roster::load_push_keys`] ran.
    pub fn vapid_key(&self) -> Option<&VapidKey> {
        self.push.keys.get().map(|k| &k.vapid)
    }

    /// The push topic of a book as the caller sees it: stable, opaque, and not derivable from
    /// ids without the server's secret. `None` where the caller cannot register (push is
    /// advertised only to app-password terminals) or before the keys are loaded.
    pub fn push_topic(&self, caller: &Caller, book: Book) -> Option<String> {
        if caller.terminal.kind != TerminalKind::AppPassword {
            return None;
        }
        let keys = self.push.keys.get()?;
        Some(topic(keys, caller.account.id, book))
    }

    /// Registers (or renews) a push subscription of the calling terminal for a book.
    /// `Forbidden` when push is not available to the caller for this resource, `Invalid` for
    /// an unusable subscription or expiry.
    pub async fn register_push(
        &self,
        caller: &Caller,
        book: Book,
        subscription: Subscription,
        expires: Option<OffsetDateTime>,
    ) -> Result<Registered> {
        if caller.terminal.kind != TerminalKind::AppPassword {
            return Err(Error::Forbidden(
                "push subscriptions belong to a terminal: sign in with an app password".into(),
            ));
        }
        self.book(caller, book).await?;
        let settings = &self.settings.push;
        if subscription.push_resource.len() > MAX_PUSH_RESOURCE {
            return Err(Error::invalid(
                "push-resource",
                format!("longer than {MAX_PUSH_RESOURCE} bytes"),
            ));
        }
        let url = Url::parse(&subscription.push_resource)
            .map_err(|_| Error::invalid("push-resource", "not an absolute URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::invalid(
                "push-resource",
                "credentials in the URL are not accepted",
            ));
        }
        if !settings.allowed_origins.iter().any(|o| o.admits(&url)) {
            return Err(Error::Forbidden(format!(
                "this server does not send pushes to {}",
                url.origin().ascii_serialization()
            )));
        }
        crypto::check_subscription_key(&subscription.public_key)
            .map_err(|e| Error::invalid("subscription-public-key", e.to_string()))?;
        if subscription.auth_secret.len() != 16 {
            return Err(Error::invalid("auth-secret", "must be 16 bytes"));
        }
        let at = now();
        let longest = at + settings.registration_ttl;
        let expires_at = match expires {
            Some(asked) if asked <= at => return Err(Error::invalid("expires", "lies in the past")),
            Some(asked) => asked.min(longest),
            None => longest,
        };
        let registration = PushRegistration {
            id: RegistrationId::random(),
            terminal_id: caller.terminal.id,
            account_id: caller.account.id,
            book,
            subscription,
            expires_at,
        };
        let (id, created) = self
            .store
            .upsert_push_registration(&registration, settings.max_registrations, at)
            .await?
            .ok_or_else(|| Error::Forbidden("too many push subscriptions for this account".into()))?;
        tracing::info!(account = %caller.account.id, registration = %id, created, "push subscription registered");
        Ok(Registered {
            id,
            created,
            expires_at,
        })
    }

    /// Removes one of the caller's account's registrations; `NotFound` for any other.
    pub async fn unregister_push(&self, caller: &Caller, id: RegistrationId) -> Result<()> {
        if self.store.delete_push_registration(Some(caller.account.id), id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("push registration"))
        }
    }

    /// The registrations a bus announcement may concern (they are told the book's latest
    /// token later, so several announcements fold into one push).
    pub async fn push_touched(&self, event: &Event) -> Result<Vec<RegistrationId>> {
        match *event {
            Event::GroupVersion { group, .. } | Event::GroupRenamed { group } => {
                self.store.push_registrations_for_group(group).await
            }
            Event::Membership { account, group } => Ok(self
                .store
                .push_registrations_of(account, &[Book::Contacts, Book::Group(group)])
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect()),
            Event::CardChanged { account, .. } => Ok(self
                .store
                .push_registrations_of(account, &[Book::Me])
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect()),
            Event::TerminalRevoked { .. } | Event::AccountClosed { .. } => Ok(Vec::new()),
        }
    }

    /// What to push to a registration now; `None` when there is nothing to tell (it is gone,
    /// expired, or already knows the book's current token). Registrations whose terminal or
    /// book has vanished are dropped on the way.
    pub async fn push_message(&self, id: RegistrationId) -> Result<Option<PushMessage>> {
        let Some(registration) = self.store.push_registration(id).await? else {
            return Ok(None);
        };
        if registration.expires_at <= now() {
            return Ok(None);
        }
        let account = self.store.account_auth_by_id(registration.account_id).await?;
        let terminal = match &account {
            Some(_) => self
                .store
                .terminals(registration.account_id)
                .await?
                .into_iter()
                .find(|t| t.id == registration.terminal_id),
            None => None,
        };
        let (Some(account), Some(terminal)) = (account, terminal) else {
            self.drop_push(id).await?;
            return Ok(None);
        };
        let caller = Caller {
            account: account.account,
            terminal,
        };
        let token = match self.book(&caller, registration.book).await {
            Ok(info) => info.token,
            Err(Error::NotFound(_) | Error::Forbidden(_)) => {
                // The book is gone for this account (it left the group).
                self.drop_push(id).await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let keys = self.push_keys().await?;
        Ok(Some(PushMessage {
            topic: topic(keys, caller.account.id, registration.book),
            coalesce_key: keyed(&keys.topics, &[b"coalesce", id.0.as_bytes()]),
            token,
            registration,
        }))
    }

    /// Claims, for this server among all that share the store, telling a registration a
    /// token: only one instance pushes each token, at most once per coalescing window.
    pub async fn claim_push(&self, id: RegistrationId, token: &str) -> Result<PushClaim> {
        self.store
            .claim_push(id, token, now(), self.settings.push.coalesce)
            .await
    }

    /// Deletes a registration the push service no longer knows (404/410) or whose book or
    /// terminal is gone.
    pub async fn drop_push(&self, id: RegistrationId) -> Result<()> {
        self.store.delete_push_registration(None, id).await?;
        tracing::info!(registration = %id, "push subscription dropped");
        Ok(())
    }

    /// Records, before a change of the caller's card is announced, that the account's `me`
    /// registrations named by `Push-Dont-Notify` already know the card at this revision, so
    /// that no server instance pushes it to them. Ids of other accounts' registrations are
    /// ignored.
    pub(crate) async fn quiet_push(&self, caller: &Caller, dont: &DontNotify, revision: i64) -> Result<()> {
        if *dont == DontNotify::Nobody {
            return Ok(());
        }
        let mine = self.store.push_registrations_of(caller.account.id, &[Book::Me]).await?;
        let token = self.me_token_at(caller, revision).await?;
        for (id, terminal) in mine {
            let named = match dont {
                DontNotify::Nobody => false,
                DontNotify::AllOfTerminal => terminal == caller.terminal.id,
                DontNotify::These(ids) => ids.contains(&id),
            };
            if named {
                self.store.claim_push(id, &token, now(), Duration::ZERO).await?;
            }
        }
        Ok(())
    }

    /// Deletes lapsed registrations (housekeeping).
    pub(crate) async fn purge_push(&self) -> Result<u64> {
        let purged = self.store.purge_push_registrations(now()).await?;
        if purged > 0 {
            tracing::info!(purged, "lapsed push subscriptions deleted");
        }
        Ok(purged)
    }
}

fn topic(keys: &PushKeys, account: AccountId, book: Book) -> String {
    keyed(&keys.topics, &[b"topic", account.0.as_bytes(), book.key().as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::GroupId;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn origins_admit_their_own_resources_only() {
        let exact: PushOrigin = "https://push.example.org".parse().unwrap();
        assert!(exact.admits(&url("https://push.example.org/wpush/v2/abc")));
        assert!(exact.admits(&url("https://push.example.org:443/x")));
        assert!(!exact.admits(&url("http://push.example.org/x")));
        assert!(!exact.admits(&url("https://push.example.org:8443/x")));
        assert!(!exact.admits(&url("https://push.example.org.evil.net/x")));
        assert!(!exact.admits(&url("https://evilpush.example.org/x")));

        let wild: PushOrigin = "https://*.push.example.org".parse().unwrap();
        assert!(wild.admits(&url("https://eu.push.example.org/x")));
        assert!(wild.admits(&url("https://a.b.push.example.org/x")));
        assert!(!wild.admits(&url("https://push.example.org/x")));
        assert!(!wild.admits(&url("https://evilpush.example.org/x")));

        let local: PushOrigin = "http://127.0.0.1:8080".parse().unwrap();
        assert!(local.admits(&url("http://127.0.0.1:8080/sink")));
        assert!(!local.admits(&url("http://127.0.0.1:8081/sink")));
        assert_eq!(local.to_string(), "http://127.0.0.1:8080");

        for bad in [
            "ftp://push.example.org",
            "https://push.example.org/path",
            "http://*.example.org",
            "https://*.example.org:8443",
            "https://user@push.example.org",
            "push.example.org",
        ] {
            assert!(bad.parse::<PushOrigin>().is_err(), "{bad}");
        }
        assert_eq!(default_push_origins().len(), 4);
    }

    #[test]
    fn book_keys_round_trip() {
        for book in [Book::Contacts, Book::Me, Book::Group(GroupId::random())] {
            assert_eq!(Book::from_key(&book.key()), Some(book));
        }
        assert_eq!(Book::from_key("nope"), None);
    }

    #[test]
    fn topics_are_keyed_stable_and_distinct() {
        let keys = PushKeys {
            vapid: VapidKey::from_pkcs8(&VapidKey::generate_pkcs8().unwrap()).unwrap(),
            topics: hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]),
        };
        let other = PushKeys {
            vapid: VapidKey::from_pkcs8(&VapidKey::generate_pkcs8().unwrap()).unwrap(),
            topics: hmac::Key::new(hmac::HMAC_SHA256, &[8; 32]),
        };
        let account = AccountId::random();
        let a = topic(&keys, account, Book::Contacts);
        assert_eq!(a, topic(&keys, account, Book::Contacts));
        assert_ne!(a, topic(&keys, account, Book::Me));
        assert_ne!(a, topic(&keys, AccountId::random(), Book::Contacts));
        assert_ne!(a, topic(&other, account, Book::Contacts));
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
