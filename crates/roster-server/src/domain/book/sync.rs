//! A book's sync answer (RFC 6578 sync-collection): the book's part of the sync engine. It
//! asks [`crate::domain::sync`] which people changed in each group since the client's marks,
//! merges them across the book's groups, and pages the answer.

use super::token::{Marks, Paging, Seal, Token, name_tag, stale_token};
use super::{Book, BookCard, REFETCH_CARDS, Scope};
use crate::domain::directory::MAX_PAGE;
use crate::domain::error::Result;
use crate::domain::ids::{AccountId, GroupId};
use crate::domain::model::{DirectorySearch, Group};
use crate::domain::sync::{Tail, log_reaches};
use crate::domain::terminal::Caller;
use crate::domain::{Roster, now};
use std::collections::BTreeSet;
use std::sync::Arc;

/// One page of a book's sync answer (RFC 6578): what changed since the client's token, or the
/// whole book for an empty token, cut into pages of at most the configured size.
#[derive(Debug, Clone)]
pub struct SyncPage {
    /// The cards the page draws on (the whole listing on a first sync, to save copying it).
    pub cards: Arc<[BookCard]>,
    /// Indices into `cards` of the cards to send, ordered by subject.
    pub upserts: Vec<usize>,
    /// People no longer in the book, ordered by subject.
    pub removed: Vec<AccountId>,
    /// The token this page brings the client to.
    pub token: String,
    /// Whether more pages follow: the token then continues after this page.
    pub truncated: bool,
}

impl Roster {
    /// Subjects of a group's changes after `since`, from the whole log tail; `Stale` when the
    /// log no longer reaches it.
    async fn changed_subjects(&self, group: &Group, since: i64, into: &mut BTreeSet<AccountId>) -> Result<()> {
        let changed = self
            .changed_since(group, since, Tail::Whole)
            .await?
            .ok_or_else(stale_token)?;
        into.extend(changed.subjects.into_iter().map(|(subject, _)| subject));
        Ok(())
    }

    /// The people whose card in a book may differ from what a client holding `held` has:
    /// everyone in a group's log since then, everyone of a group joined or left since, and, in
    /// `contacts`, everyone of a group renamed since (their CATEGORIES name it). `Stale` when
    /// the marks are foreign or the log no longer reaches them. Without joins, leaves and
    /// renames, the cost follows the number of changes, not the size of the groups.
    async fn candidates(&self, caller: &Caller, scope: &Scope, held: &Marks) -> Result<BTreeSet<AccountId>> {
        let mut candidates = BTreeSet::new();
        for (group, _) in &scope.groups {
            match held.get(&group.id.0) {
                Some(mark) if mark.name != name_tag(&group.name) && scope.book == Book::Contacts => {
                    if !log_reaches(group, mark.version) {
                        return Err(stale_token());
                    }
                    self.all_members(group.id, caller.account.id, &mut candidates).await?;
                }
                // A group book shows the name only as its display name, which the token covers.
                Some(mark) => self.changed_subjects(group, mark.version, &mut candidates).await?,
                // A group joined since the token: everyone in it may be new to the book.
                None => self.all_members(group.id, caller.account.id, &mut candidates).await?,
            }
        }
        for (&id, mark) in held {
            if scope.groups.iter().any(|(g, _)| g.id.0 == id) {
                continue;
            }
            // A group the viewer left (or that was deleted): whoever was in it may be gone.
            let group = self.store.group(GroupId(id)).await?.ok_or_else(stale_token)?;
            self.changed_subjects(&group, mark.version, &mut candidates).await?;
            for row in self.store.members(group.id).await? {
                candidates.insert(row.membership.account_id);
            }
        }
        candidates.remove(&caller.account.id);
        Ok(candidates)
    }

    /// The next page of a book's sync answer for `token` (from an earlier answer; empty for a
    /// first sync). Pages hold at most the configured page size, or `nresults` (the client's
    /// `DAV:limit`) when smaller; a cut answer is `truncated` and its token continues it.
    /// `Stale` when the token is foreign or too old: the client must sync from scratch.
    ///
    /// Subjects are sent in order. A paging token says "the client has the book at these
    /// versions up to subject X, and beyond X what it had when the pages began (nothing, on a
    /// first sync)": the next page brings what changed up to X since the last page, then the
    /// next subjects beyond X, so a client following the pages ends with exactly the book,
    /// however it changed meanwhile.
    pub async fn book_sync(
        &self,
        caller: &Caller,
        book: Book,
        token: &str,
        nresults: Option<usize>,
    ) -> Result<SyncPage> {
        self.limits.read(caller.account.id)?;
        let seal = self.seal(caller, book).await?;
        if book == Book::Me {
            return self.my_sync(&seal, caller, token).await;
        }
        // Below: subjects up to `after`, held at those marks. Beyond: held at those marks, or
        // not at all.
        let (below, beyond) = if token.is_empty() {
            (None, None)
        } else {
            match seal.open(token).ok_or_else(stale_token)? {
                Token { held, paging: None } => (None, Some(held)),
                Token {
                    held,
                    paging: Some(Paging { after, rest }),
                } => (Some((after, held)), rest),
            }
        };
        let limit = self.settings.sync_page.min(nresults.unwrap_or(usize::MAX)).max(1);
        let scope = self.scope(caller, book).await?;
        let now = Self::scope_marks(&scope);
        let after = below.as_ref().map(|(after, _)| *after);
        let mut early = Vec::new();
        if let Some((after, held)) = &below {
            let changed = self.candidates(caller, &scope, held).await?;
            early.extend(changed.into_iter().take_while(|s| s <= after));
        }
        // A client's own limit is a promise (RFC 6578 §3.7). Changes to what it already has
        // cannot be cut without a third region in the token; when they alone exceed its limit
        // it starts again from scratch, paging cleanly from there.
        if nresults.is_some_and(|n| early.len() > n) {
            return Err(stale_token());
        }
        let mut room = limit.saturating_sub(early.len());
        if room == 0 && nresults.is_none() {
            // The server's page size is only a target: always get further.
            room = 1;
        }
        let (cards, upserts, removed, last) = match &beyond {
            // Nothing is held beyond `after`: the next cards of the listing (kept between pages).
            None => {
                let listed = self.listing(caller, &scope).await?;
                let start = after.map_or(0, |a| listed.partition_point(|c| c.subject <= a));
                let end = start.saturating_add(room).min(listed.len());
                let mut upserts = Vec::with_capacity(early.len() + end - start);
                let mut removed = Vec::new();
                for subject in &early {
                    match listed.binary_search_by_key(subject, |c| c.subject) {
                        Ok(index) => upserts.push(index),
                        Err(_) => removed.push(*subject),
                    }
                }
                upserts.extend(start..end);
                let last = end.checked_sub(1).filter(|&i| i >= start).map(|i| listed[i].subject);
                let more = end < listed.len();
                (listed, upserts, removed, more.then_some(last))
            }
            Some(held) => {
                let mut later = self.candidates(caller, &scope, held).await?;
                if below.is_none() {
                    later.extend(self.store.take_refetches(caller.terminal.id, &book.key()).await?);
                }
                if let Some(after) = after {
                    later = later.split_off(&after);
                    later.remove(&after);
                }
                let more = later.len() > room;
                let page: Vec<AccountId> = later.into_iter().take(room).collect();
                let last = page.last().copied();
                let subjects: Vec<AccountId> = early.iter().copied().chain(page).collect();
                let mut cards = Vec::with_capacity(subjects.len());
                let mut removed = Vec::new();
                for (subject, card) in self.cards_in_scope(&scope, &subjects).await? {
                    match card {
                        Some(card) => cards.push(card),
                        None => removed.push(subject),
                    }
                }
                let upserts = (0..cards.len()).collect();
                (cards.into(), upserts, removed, more.then_some(last))
            }
        };
        let token = match last {
            None => Token::complete(now),
            Some(last) => {
                let after = last
                    .or(after)
                    .ok_or_else(|| anyhow::anyhow!("a sync page was cut before its first subject"))?;
                Token {
                    held: now,
                    paging: Some(Paging { after, rest: beyond }),
                }
            }
        };
        Ok(SyncPage {
            cards,
            upserts,
            removed,
            token: seal.seal(&token),
            truncated: last.is_some(),
        })
    }

    /// The sync answer of `me`: the card when it changed since the token (always one page).
    async fn my_sync(&self, seal: &Seal<'_>, caller: &Caller, token: &str) -> Result<SyncPage> {
        let stored = self.store.card(caller.account.id).await?;
        let revision = stored.as_ref().map_or(0, |c| c.revision);
        let changed = if token.is_empty() {
            true
        } else {
            let old = seal.open(token).ok_or_else(stale_token)?;
            let since = old.held.get(&caller.account.id.0).map(|m| m.version);
            match since {
                Some(since) if old.held.len() == 1 && old.paging.is_none() && since <= revision => since != revision,
                _ => return Err(stale_token()),
            }
        };
        let cards: Arc<[BookCard]> = if changed {
            stored.iter().filter_map(|s| Self::my_book_card(caller, s)).collect()
        } else {
            Arc::from([])
        };
        Ok(SyncPage {
            upserts: (0..cards.len()).collect(),
            cards,
            removed: Vec::new(),
            token: Self::me_token(seal, caller, revision),
            truncated: false,
        })
    }

    /// After a refused edit of a read-only card, makes the terminal that tried it fetch the
    /// card again (so its local edit is overwritten): its next sync of that book reports the
    /// card whatever its token. Nothing is written and nobody else is told: a member cannot
    /// make every other member's devices sync by editing cards they may not edit.
    pub async fn refresh_card(&self, caller: &Caller, book: Book, subject: AccountId) -> Result<()> {
        if book == Book::Me || subject == caller.account.id {
            return Ok(());
        }
        // Only a card the book holds: anything else would just grow the set.
        let scope = self.scope(caller, book).await?;
        if self
            .cards_in_scope(&scope, &[subject])
            .await?
            .iter()
            .any(|(_, c)| c.is_some())
        {
            self.store
                .add_refetch(caller.terminal.id, &book.key(), subject, REFETCH_CARDS, now())
                .await?;
        }
        Ok(())
    }

    async fn all_members(&self, group: GroupId, viewer: AccountId, into: &mut BTreeSet<AccountId>) -> Result<()> {
        let mut after = None;
        loop {
            let page = self
                .store
                .directory_page(group, viewer, after, MAX_PAGE, &DirectorySearch::All)
                .await?;
            into.extend(page.iter().map(|m| m.account_id));
            after = page.last().map(|s| s.account_id);
            if page.len() < MAX_PAGE as usize {
                return Ok(());
            }
        }
    }
}
