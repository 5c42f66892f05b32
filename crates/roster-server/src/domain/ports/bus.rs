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
    /// The subscriber fell behind and missed this many announcements: whatever depends on
    /// them must catch up from the change log.
    Missed(u64),
}

/// A subscriber's end of the bus: every announcement made after it was opened, in order.
/// Every implementation delivers through an in-process channel (a cross-instance bus
/// forwards what it receives into one), so subscribers never see the transport.
#[derive(Debug)]
pub struct Subscription(broadcast::Receiver<Event>);

impl Subscription {
    /// A subscription fed by the receiving end of an in-process channel.
    pub(crate) fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Subscription(receiver)
    }

    /// The next announcement; `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Heard> {
        match self.0.recv().await {
            Ok(event) => Some(Heard::Event(event)),
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
