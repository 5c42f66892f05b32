//! The sync engine: brings a [`Book`] up to date with every group the account is an active
//! member of, by asking each group for its changes since the stored cursor.
//!
//! Pages are applied in order and the cursor stored after each, so an interrupted sync
//! resumes where it stopped. A `resync` answer (the server's log no longer reaches the cursor)
//! rereads the whole directory and removes the contacts it no longer lists.

use crate::book::{Applied, Book};
use crate::error::{Error, Result};
use crate::http::Client;
use roster_proto::api::{DirectoryChange, GroupView, MembershipState};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Directory page size during a resync.
const PAGE: u32 = 500;

/// Hooks for showing progress; every method has a do-nothing default.
pub trait SyncObserver {
    /// About how many changes this sync will apply (an upper bound from the group versions).
    fn planned(&self, _changes: u64) {}
    /// This many more versions were applied.
    fn advanced(&self, _versions: u64) {}
}

/// A sync that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl SyncObserver for Quiet {}

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// New contact files.
    pub added: u64,
    /// Contact files rewritten.
    pub updated: u64,
    /// Contact files deleted.
    pub removed: u64,
    /// Groups synced.
    pub groups: u64,
    /// Contacts not written because a file Roster did not write has their name.
    pub kept_user_files: u64,
}

impl Summary {
    fn count(&mut self, applied: Applied) {
        match applied {
            Applied::Added => self.added += 1,
            Applied::Updated => self.updated += 1,
            Applied::Removed => self.removed += 1,
            Applied::KeptUserFile => self.kept_user_files += 1,
            Applied::Unchanged | Applied::Absent => {}
        }
    }

    /// `+12 ~3 -1 in 2 groups`
    pub fn line(&self) -> String {
        let groups = if self.groups == 1 { "group" } else { "groups" };
        format!(
            "+{} ~{} -{} in {} {groups}",
            self.added, self.updated, self.removed, self.groups
        )
    }
}

/// Syncs every group of the account into the book.
pub async fn sync(client: &Client, book: &Book, observer: &dyn SyncObserver) -> Result<Summary> {
    let mut summary = Summary::default();
    let active: Vec<GroupView> = client
        .groups()
        .await?
        .into_iter()
        .filter(|g| g.state == MembershipState::Active)
        .collect();
    let cached = book.groups().await?;
    // Groups left, removed from or deleted: their cards must not stay behind.
    for group in &cached {
        if !active.iter().any(|g| g.id == group.id) {
            summary.removed += book.forget_group(group.id).await? as u64;
        }
    }
    let cursor_of = |id: Uuid| cached.iter().find(|g| g.id == id).map_or(0, |g| g.cursor);
    observer.planned(
        active
            .iter()
            .map(|g| g.version.saturating_sub(cursor_of(g.id)).max(0) as u64)
            .sum(),
    );
    for group in &active {
        book.track_group(group.id, &group.name).await?;
        match sync_group(client, book, group, cursor_of(group.id), observer, &mut summary).await {
            Ok(()) => summary.groups += 1,
            // Left or removed between the listing and now: the next sync forgets it; its
            // cards go now, because they are no longer ours to show.
            Err(Error::NotFound(_)) => summary.removed += book.forget_group(group.id).await? as u64,
            Err(e) => return Err(e),
        }
    }
    Ok(summary)
}

async fn sync_group(
    client: &Client,
    book: &Book,
    group: &GroupView,
    mut cursor: i64,
    observer: &dyn SyncObserver,
    summary: &mut Summary,
) -> Result<()> {
    loop {
        let page = client.changes(group.id, cursor).await?;
        if page.resync {
            let version = resync(client, book, group, summary).await?;
            book.commit_cursor(group.id, version).await?;
            observer.advanced(version.saturating_sub(cursor).max(0) as u64);
            cursor = version;
            continue;
        }
        for change in &page.changes {
            summary.count(book.apply(group.id, &group.name, change).await?);
        }
        book.commit_cursor(group.id, page.cursor).await?;
        observer.advanced(page.cursor.saturating_sub(cursor).max(0) as u64);
        cursor = page.cursor;
        if !page.more {
            return Ok(());
        }
    }
}

/// Rereads a group's whole directory; answers the version to continue from.
async fn resync(client: &Client, book: &Book, group: &GroupView, summary: &mut Summary) -> Result<i64> {
    let mut stale: BTreeSet<Uuid> = book.accounts_of(group.id).await?.into_iter().collect();
    let mut version = None;
    let mut next: Option<String> = None;
    loop {
        let page = client.directory(group.id, next.as_deref(), PAGE).await?;
        // The first page's version is the oldest: changes made while paging are replayed
        // after it, and replaying an upsert is harmless.
        version.get_or_insert(page.version);
        for entry in page.entries {
            stale.remove(&entry.account_id);
            let change = DirectoryChange::Upsert {
                account_id: entry.account_id,
                card: Box::new(entry.card),
            };
            summary.count(book.apply(group.id, &group.name, &change).await?);
        }
        match page.next_cursor {
            Some(cursor) => next = Some(cursor),
            None => break,
        }
    }
    for account_id in stale {
        summary.count(
            book.apply(group.id, &group.name, &DirectoryChange::Remove { account_id })
                .await?,
        );
    }
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_each_kind() {
        let summary = Summary {
            added: 12,
            updated: 3,
            removed: 1,
            groups: 2,
            kept_user_files: 0,
        };
        assert_eq!(summary.line(), "+12 ~3 -1 in 2 groups");
    }
}
