//! The sync engine: "what changed for this viewer since this cursor", for every door.
//!
//! A group's change log says *who* changed after a version; [`Roster::changed_since`] reads
//! it (each subject once, at its latest change, however long the tail) and is the one place
//! that decides whether the log still reaches a cursor. The JSON `changes`, the WebSocket
//! stream (catch-up and fan-out) and CardDAV sync-collection all start from it: the first two
//! turn the subjects into [`Delta`]s through [`visible_card`] here; books merge them across
//! groups in [`super::book`]. The doors only encode cursors and tokens and render.

use super::Roster;
use super::directory::visible_card;
use super::error::{Error, Result};
use super::ids::{AccountId, GroupId};
use super::model::{Group, MemberCard, Membership};
use super::terminal::Caller;
use roster_proto::api::CardView;
use std::collections::HashMap;

/// Most change-log entries read for one answer.
pub const CHANGES_BATCH: u32 = 1000;

/// A member's card as the sync engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// The subject's current visible card.
    Upsert(AccountId, Box<CardView>),
    /// The subject is no longer visible.
    Remove(AccountId),
}

/// The answer to "changes of group G since cursor C".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Drop the group's cards and read the whole directory: the log no longer reaches `since`.
    pub resync: bool,
    /// Distinct subjects changed, in the order of their latest change.
    pub deltas: Vec<Delta>,
    /// The version these deltas bring the caller to.
    pub cursor: i64,
    /// More changes follow after `cursor`.
    pub more: bool,
}

/// Who changed in a group's log after a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    /// Each subject once, with the version of its latest change, in version order.
    pub(crate) subjects: Vec<(AccountId, i64)>,
    /// The version the read reached.
    pub(crate) cursor: i64,
    /// Whether the log goes on after `cursor` (only when a limit cut the read).
    pub(crate) more: bool,
}

/// How much of a log's tail one read covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// At most [`CHANGES_BATCH`] entries; the answer says whether more follow.
    Batch,
    /// Everything up to the group's version.
    Whole,
}

/// Whether a group's log still reaches `since`: a client holding the group at that version
/// can be brought up to date from the log alone.
pub(crate) fn log_reaches(group: &Group, since: i64) -> bool {
    (group.floor..=group.version).contains(&since)
}

impl Roster {
    /// Who changed in `group`'s log after `since`: in its whole tail, or in one batch of it.
    /// `None` when the log no longer reaches `since` (compacted away, or a version the group
    /// never had): the client must start again from the whole directory.
    pub(crate) async fn changed_since(&self, group: &Group, since: i64, tail: Tail) -> Result<Option<Changed>> {
        if !log_reaches(group, since) {
            return Ok(None);
        }
        // Each subject's latest version: memory follows the subjects, not the length of the tail.
        let mut latest: HashMap<AccountId, i64> = HashMap::new();
        let mut cursor = since;
        let more = loop {
            let log = self.store.changes_since(group.id, cursor, CHANGES_BATCH).await?;
            let full = log.len() == CHANGES_BATCH as usize;
            cursor = log.last().map_or(cursor, |c| c.version);
            latest.extend(log.iter().map(|c| (c.subject, c.version)));
            if !full || tail == Tail::Batch {
                break full;
            }
        };
        let mut subjects: Vec<(AccountId, i64)> = latest.into_iter().collect();
        subjects.sort_unstable_by_key(|&(_, version)| version);
        Ok(Some(Changed { subjects, cursor, more }))
    }

    /// The caller's changes of a group since a cursor: each subject changed after `since`
    /// once, in its current visible state. Cost grows with the changes, not the group.
    pub async fn changes(&self, caller: &Caller, group: GroupId, since: i64) -> Result<Changes> {
        let viewer = self.active_membership(caller, group).await?;
        self.limits.read(caller.account.id)?;
        self.changes_for(&viewer, since).await
    }

    /// A viewer's changes of a group since a cursor, in one batch of the log: the JSON
    /// `changes`, and the stream's catch-up and fan-out (for "any member").
    pub(crate) async fn changes_for(&self, viewer: &Membership, since: i64) -> Result<Changes> {
        if since < 0 {
            return Err(Error::invalid("since", "a version, 0 or more"));
        }
        let group = self
            .store
            .group(viewer.group_id)
            .await?
            .ok_or(Error::NotFound("group"))?;
        let Some(changed) = self.changed_since(&group, since, Tail::Batch).await? else {
            return Ok(Changes {
                resync: true,
                deltas: Vec::new(),
                cursor: group.version,
                more: false,
            });
        };
        let Changed { subjects, cursor, more } = changed;
        let subjects: Vec<(AccountId, i64)> = subjects
            .into_iter()
            .filter(|(subject, _)| *subject != viewer.account_id)
            .collect();
        let ids: Vec<AccountId> = subjects.iter().map(|(s, _)| *s).collect();
        let cards: HashMap<AccountId, MemberCard> = self
            .store
            .member_cards(group.id, &ids)
            .await?
            .into_iter()
            .map(|c| (c.account_id, c))
            .collect();
        let mut deltas: Vec<(Delta, i64)> = subjects
            .into_iter()
            .map(|(subject, version)| {
                let delta = cards
                    .get(&subject)
                    .and_then(|c| visible_card(viewer, c))
                    .map_or(Delta::Remove(subject), |card| Delta::Upsert(subject, Box::new(card)));
                (delta, version)
            })
            .collect();
        // A viewer's terminals never held a card that was gone before the viewer joined: its
        // removal would only tell them who left (or hid everything) before their time.
        if deltas.iter().any(|(d, _)| matches!(d, Delta::Remove(_))) {
            let joined = self.store.joined_version(group.id, viewer.account_id).await?;
            deltas.retain(|(delta, version)| !matches!(delta, Delta::Remove(_)) || *version > joined);
        }
        let deltas = deltas.into_iter().map(|(delta, _)| delta).collect();
        Ok(Changes {
            resync: false,
            deltas,
            cursor,
            more,
        })
    }
}
