//! What books remember between requests, in memory and bounded: the listings most recently
//! read whole (a first sync lists a book, then fetches it in many multigets), and the cards a
//! terminal must fetch again after a refused edit.

use super::{Book, BookCard, Scope};
use crate::domain::ids::{AccountId, GroupId};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Most books [`Listings`] keeps.
const LISTINGS_KEPT: usize = 8;
/// Most bytes (roughly) of cards [`Listings`] keeps.
const LISTINGS_BYTES: usize = 64 << 20;

/// What a book's content is a function of: the viewer, the book, and each of its groups'
/// version (every change to what a member shows there appends to the log, bumping it) and
/// name (the categories, which renaming changes without a log entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListingKey {
    viewer: AccountId,
    book: Book,
    groups: Vec<(GroupId, i64, String)>,
}

impl ListingKey {
    pub(super) fn of(viewer: AccountId, scope: &Scope) -> ListingKey {
        ListingKey {
            viewer,
            book: scope.book,
            groups: scope
                .groups
                .iter()
                .map(|(g, _)| (g.id, g.version, g.name.clone()))
                .collect(),
        }
    }

    /// When `newer` is the same viewer's same book over the same groups (same names), each at
    /// this listing's version or later: this listing's version of each group, in order.
    /// Then `newer`'s listing is this one with the people changed in between read again.
    pub(super) fn versions_before(&self, newer: &ListingKey) -> Option<Vec<i64>> {
        if self.viewer != newer.viewer || self.book != newer.book || self.groups.len() != newer.groups.len() {
            return None;
        }
        self.groups
            .iter()
            .zip(&newer.groups)
            .map(|((group, version, name), (newer_group, newer_version, newer_name))| {
                (group == newer_group && name == newer_name && version <= newer_version).then_some(*version)
            })
            .collect()
    }
}

/// The books most recently listed whole, by the state they were read in. A first sync lists a
/// book and then fetches all of it in many multigets; while none of its groups changes, those
/// (and later listings) are answered from here instead of reading and merging every card again.
#[derive(Default)]
pub(crate) struct Listings(Mutex<VecDeque<Listing>>);

/// Most cards per terminal and book waiting to be reported again after a refused edit (kept
/// in the store, so that any instance reports them); beyond, the oldest are forgotten (their
/// local edits then stay until the card next changes).
pub(crate) const REFETCH_CARDS: u32 = 32;

/// A kept listing with its rough size in bytes.
type Listing = (ListingKey, Arc<[BookCard]>, usize);

impl Listings {
    /// The cards of the book in exactly this state, ordered by subject, if they are kept.
    pub(super) fn get(&self, key: &ListingKey) -> Option<Arc<[BookCard]>> {
        let kept = self.0.lock().ok()?;
        kept.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, cards, _)| Arc::clone(cards))
    }

    /// The viewer's kept listing of `book`, in whatever state it was read (at most one is
    /// kept per viewer and book).
    pub(super) fn latest(&self, viewer: AccountId, book: Book) -> Option<(ListingKey, Arc<[BookCard]>)> {
        let kept = self.0.lock().ok()?;
        kept.iter()
            .rev()
            .find(|(k, _, _)| k.viewer == viewer && k.book == book)
            .map(|(key, cards, _)| (key.clone(), Arc::clone(cards)))
    }

    /// Keeps a listing, forgetting the oldest ones beyond the count and size limits.
    pub(super) fn put(&self, key: ListingKey, cards: Arc<[BookCard]>) {
        let bytes = cards.iter().map(weight).sum();
        if bytes > LISTINGS_BYTES {
            return;
        }
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        // The viewer's older listing of the same book can never be asked for again.
        kept.retain(|(k, _, _)| k.viewer != key.viewer || k.book != key.book);
        kept.push_back((key, cards, bytes));
        let mut total: usize = kept.iter().map(|(_, _, b)| b).sum();
        while kept.len() > LISTINGS_KEPT || total > LISTINGS_BYTES {
            let Some((_, _, b)) = kept.pop_front() else { break };
            total -= b;
        }
    }
}

/// Roughly the memory a kept card takes: the photo and note dominate when present.
fn weight(card: &BookCard) -> usize {
    let view = &card.card;
    512 + view.photo.as_ref().map_or(0, |p| p.data.len())
        + view.note.as_ref().map_or(0, String::len)
        + card.categories.iter().map(String::len).sum::<usize>()
}
