//! The bus says "group G reached version V" after a commit, to whoever streams changes.
//!
//! It carries no data: a lost message only delays a terminal, which catches up from the log.

pub mod local;

use crate::domain::ids::GroupId;
use tokio::sync::broadcast;

/// A group reached a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupVersion {
    /// The group.
    pub group: GroupId,
    /// Its new version.
    pub version: i64,
}

/// Fan-out of committed versions.
pub trait Bus: Send + Sync + 'static {
    /// Announces a committed version. Never blocks and never fails the write that caused it.
    fn publish(&self, event: GroupVersion);
    /// A new receiver of every later announcement.
    fn subscribe(&self) -> broadcast::Receiver<GroupVersion>;
}
