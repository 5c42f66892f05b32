//! The business rules of Roster, in the words of DESIGN.md.
//!
//! [`Roster`] is the one service every door (JSON API, WebSocket, CardDAV, web pages) calls.
//! It reaches storage only through [`Store`] and announces commits only through [`Bus`], the
//! ports it owns ([`ports`]); it knows no HTTP and no SQL and imports no implementation. The
//! share-policy filter lives in [`directory::visible_card`] and nowhere else; "what changed
//! since this cursor" is answered by the one sync engine in [`sync`] for every door.

pub mod account;
pub mod audience;
pub mod book;
pub mod card;
pub mod directory;
pub mod doctor;
pub mod error;
pub mod feed;
pub mod forms;
pub mod group;
pub mod ids;
pub mod limits;
pub mod model;
pub mod password;
pub mod phone;
pub mod photo;
pub mod ports;
pub mod push;
pub mod secret;
pub mod share_policy;
pub mod sync;
pub mod terminal;

pub use error::{Error, Result};

use card::CardRules;
use limits::{Limits, RateSettings};
use model::Change;
use ports::{Bus, Event, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the domain, taken from the server configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How cards are validated.
    pub card_rules: CardRules,
    /// The largest member limit a group may have (also the default).
    pub max_group_size: u32,
    /// Invite lifetime when the creator names none.
    pub invite_ttl_default: Duration,
    /// Longest invite lifetime.
    pub invite_ttl_max: Duration,
    /// Consecutive failed logins that lock an account.
    pub lockout_after: i64,
    /// How long a locked account stays locked.
    pub lockout_for: Duration,
    /// Public base URL, used in invite links.
    pub public_url: String,
    /// Request rate limits.
    pub rates: RateSettings,
    /// How much password hashing may run at once.
    pub passwords: password::PasswordSettings,
    /// Whether HTTP Basic (CardDAV) accepts the main password besides app passwords.
    pub basic_main_password: bool,
    /// Most cards in one page of a book's sync answer; longer answers continue in pages.
    pub sync_page: usize,
    /// Change-log entries kept per group at least, whatever their age.
    pub log_keep_versions: i64,
    /// Change-log entries younger than this are kept, whatever their number.
    pub log_keep_for: Duration,
    /// WebDAV-Push.
    pub push: push::PushSettings,
    /// Who may create accounts.
    pub registration: account::Registration,
}

/// The domain service.
pub struct Roster {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    settings: Settings,
    limits: Limits,
    passwords: password::Passwords,
    hub: feed::Hub,
    listings: book::Listings,
    open_streams: std::sync::Mutex<HashMap<ids::AccountId, usize>>,
    push: push::PushState,
    form_key: tokio::sync::OnceCell<ring::hmac::Key>,
    sync_key: tokio::sync::OnceCell<ring::hmac::Key>,
}

impl std::fmt::Debug for Roster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roster")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Roster {
    /// A service over a store and a bus.
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, settings: Settings) -> Self {
        let limits = Limits::new(&settings.rates);
        let passwords = password::Passwords::new(settings.passwords);
        Roster {
            store,
            bus,
            settings,
            limits,
            passwords,
            hub: feed::Hub::default(),
            listings: book::Listings::default(),
            open_streams: std::sync::Mutex::default(),
            push: push::PushState::default(),
            form_key: tokio::sync::OnceCell::new(),
            sync_key: tokio::sync::OnceCell::new(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The bus, for the doors that stream changes.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Whether storage answers at all (a constant query: no table is read).
    pub async fn ping(&self) -> Result<()> {
        self.store.ping().await
    }

    /// Totals for metrics.
    pub async fn counts(&self) -> Result<model::Counts> {
        self.store.counts().await
    }

    /// Announces, after commit, the newest version each changed group reached.
    fn publish(&self, changes: &[Change]) {
        self.announce(&[], changes);
    }

    /// Announces membership changes first, then group versions: a streaming connection must
    /// learn that its account left a group before it sees any later change of that group.
    fn announce(&self, memberships: &[(ids::AccountId, ids::GroupId)], changes: &[Change]) {
        for (account, group) in memberships {
            self.bus.publish(Event::Membership {
                account: *account,
                group: *group,
            });
        }
        let mut newest: HashMap<ids::GroupId, i64> = HashMap::new();
        for change in changes {
            let version = newest.entry(change.group_id).or_insert(change.version);
            *version = (*version).max(change.version);
        }
        for (group, version) in newest {
            self.bus.publish(Event::GroupVersion { group, version });
        }
    }
}

/// The current time, truncated to whole seconds as it is stored.
pub(crate) fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}
