//! The bus port: the announcements, made after commit, that streaming connections and push
//! subscriptions react to — a group reached a version, an account's membership or own card
//! changed, a group was renamed, a terminal or account was closed.
//!
//! It carries no card data: a lost message only delays a terminal, which catches up from the
//! change log (connections also re-check their groups' versions periodically). `bus/`
//! implements it.

use crate::domain::ids::{AccountId, GroupId, TerminalId};
use tokio::sync::broadcast;

/// One announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A group's change log reached a version.
    GroupVersion {
        /// The group.
        group: GroupId,
        /// Its new version.
        version: i64,
    },
    /// An account's membership in a group changed state (joined, left, removed, approved,
    /// or the group was deleted).
    Membership {
        /// The account.
        account: AccountId,
        /// The group.
        group: GroupId,
    },
    /// A group's name changed: its books' display names and, in `contacts`, the CATEGORIES of
    /// its members' cards (no change-log entry: the name is not a member's card).
    GroupRenamed {
        /// The group.
        group: GroupId,
    },
    /// An account's own card changed (its `me` book), reaching a revision.
    CardChanged {
        /// The account.
        account: AccountId,
        /// The card's new revision.
        revision: i64,
    },
    /// A terminal's credential was revoked.
    TerminalRevoked {
        /// The terminal.
        terminal: TerminalId,
    },
    /// An account was deleted.
    AccountClosed {
        /// The account.
        account: AccountId,
    },
}

/// What a subscriber hears next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// An announcement.
    Event(Event),
    /// The subscriber missed announcements — it fell behind by this many, or, as 0, a
    /// cross-instance bus was cut off for a while: whatever depends on them must catch up from
    /// the change log.
    Missed(u64),
}

/// What the in-process channel carries: an announcement, or word that every subscriber
/// missed some (a cross-instance bus lost its connection and got it back).
#[derive(Debug, Clone, Copy)]
enum Note {
    Event(Event),
    Missed,
}

/// The in-process channel every bus delivers through, so that subscribers never see the
/// transport: a cross-instance bus forwards into it what it hears from other instances.
#[derive(Debug, Clone)]
pub(crate) struct Fanout(broadcast::Sender<Note>);

impl Fanout {
    /// A channel whose receivers may lag `capacity` notes before they miss some.
    pub(crate) fn new(capacity: usize) -> Self {
        Fanout(broadcast::channel(capacity.max(1)).0)
    }

    /// Hands an announcement to every current subscriber.
    pub(crate) fn deliver(&self, event: Event) {
        // No receiver is fine: nobody is streaming right now.
        let _ = self.0.send(Note::Event(event));
    }

    /// Tells every current subscriber that it missed announcements.
    pub(crate) fn missed(&self) {
        let _ = self.0.send(Note::Missed);
    }

    /// A new subscription to every later note.
    pub(crate) fn subscribe(&self) -> Subscription {
        Subscription(self.0.subscribe())
    }
}

/// A subscriber's end of the bus: every announcement made after it was opened, in order.
#[derive(Debug)]
pub struct Subscription(broadcast::Receiver<Note>);

impl Subscription {
    /// The next announcement; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Heard> {
        match self.0.recv().await {
            Ok(Note::Event(event)) => Some(Heard::Event(event)),
            Ok(Note::Missed) => Some(Heard::Missed(0)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Heard::Missed(missed)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Fan-out of announcements.
pub trait Bus: Send + Sync + 'static {
    /// Announces an event. Never blocks and never fails the write that caused it.
    fn publish(&self, event: Event);
    /// A new subscription to every later announcement.
    fn subscribe(&self) -> Subscription;
}
