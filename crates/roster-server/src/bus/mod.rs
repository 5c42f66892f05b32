//! The bus announces, after commit, what streaming connections and push subscriptions must
//! react to: a group reached a version, an account's membership or own card changed, a
//! terminal or account was closed.
//!
//! It carries no card data: a lost message only delays a terminal, which catches up from the
//! change log (connections also re-check their groups' versions periodically).

pub mod local;

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

/// Fan-out of announcements.
pub trait Bus: Send + Sync + 'static {
    /// Announces an event. Never blocks and never fails the write that caused it.
    fn publish(&self, event: Event);
    /// A new receiver of every later announcement.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
