//! Address books: the person-by-person views of the directory that CardDAV (and any other
//! door that wants one) serves.
//!
//! A book is a set of the viewer's active groups: `contacts` merges all of them (each person
//! once, with the union of what any shared group shows), a group book is one group, and `me`
//! is the viewer's own card. What a viewer sees of a person always comes from
//! [`visible_card`](super::directory::visible_card); this module only merges those views and
//! never decides visibility itself.
//! `token` signs what a client holds, `cache` keeps recent listings, and `sync` answers
//! "what changed in this book since this token" on top of the one sync engine
//! ([`super::sync`]).

mod cache;
mod merge;
mod sync;
mod token;

pub(crate) use cache::{Listings, REFETCH_CARDS};
pub use sync::SyncPage;

use super::Roster;
use super::directory::MAX_PAGE;
use super::error::{Error, Result};
use super::ids::{AccountId, GroupId};
use super::model::{DirectorySearch, Group, Membership, StoredCard};
use super::share_policy::ShareFields;
use super::sync::Tail;
use super::terminal::Caller;
use cache::ListingKey;
use merge::Merged;
use roster_proto::api::{CardView, DirectorySettings};
use std::collections::BTreeSet;
use std::sync::Arc;
use token::{Mark, Marks, Token};
use uuid::Uuid;

/// Which address book of the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Book {
    /// Everyone the viewer shares a group with, once.
    Contacts,
    /// The viewer's directory of one group.
    Group(GroupId),
    /// The viewer's own card.
    Me,
}

impl Book {
    /// The book's name in paths and in storage: `contacts`, `me` or the group id.
    pub fn key(&self) -> String {
        match self {
            Book::Contacts => "contacts".into(),
            Book::Me => "me".into(),
            Book::Group(id) => id.to_string(),
        }
    }

    /// The book a key names.
    pub fn from_key(key: &str) -> Option<Book> {
        match key {
            "contacts" => Some(Book::Contacts),
            "me" => Some(Book::Me),
            other => other.parse::<Uuid>().ok().map(|id| Book::Group(GroupId(id))),
        }
    }
}

/// What a door shows about a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookInfo {
    /// The book.
    pub book: Book,
    /// Display name.
    pub name: String,
    /// The current sync token (also the collection tag).
    pub token: String,
    /// Whether the viewer may write cards into it.
    pub writable: bool,
}

/// One person's card as a book holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookCard {
    /// Whose card; also its stable UID in every book.
    pub subject: AccountId,
    /// The fields the viewer may see.
    pub card: CardView,
    /// Names of the shared groups through which the card is seen (only in `contacts`).
    pub categories: Vec<String>,
    /// Strong entity tag, without quotes: changes whenever the card or categories do.
    pub etag: String,
}

/// The viewer's active groups a book is made of.
struct Scope {
    book: Book,
    groups: Vec<(Group, Membership)>,
}

impl Roster {
    /// The account's directory settings (whether per-group books are listed).
    pub async fn directory_settings(&self, caller: &Caller) -> Result<DirectorySettings> {
        Ok(DirectorySettings {
            list_group_books: self.store.list_group_books(caller.account.id).await?,
        })
    }

    /// Changes the account's directory settings.
    pub async fn set_directory_settings(
        &self,
        caller: &Caller,
        settings: &DirectorySettings,
    ) -> Result<DirectorySettings> {
        self.store
            .set_list_group_books(caller.account.id, settings.list_group_books)
            .await?;
        Ok(settings.clone())
    }

    async fn scope(&self, caller: &Caller, book: Book) -> Result<Scope> {
        let groups = match book {
            Book::Me => Vec::new(),
            Book::Contacts => self
                .store
                .groups_of(caller.account.id)
                .await?
                .into_iter()
                .filter(|(_, m)| m.is_active())
                .collect(),
            Book::Group(id) => {
                let membership = self.active_membership(caller, id).await?;
                let group = self.store.group(id).await?.ok_or(Error::NotFound("group"))?;
                vec![(group, membership)]
            }
        };
        Ok(Scope { book, groups })
    }

    /// The books the terminal's address-book home lists: `contacts`, `me`, and one per active
    /// group when the terminal (or else the account) enabled them. A client that mishandles
    /// several books (`merged_only_client`) gets them only when its terminal asks explicitly.
    pub async fn books(&self, caller: &Caller, merged_only_client: bool) -> Result<Vec<BookInfo>> {
        let mut books = vec![
            self.book(caller, Book::Contacts).await?,
            self.book(caller, Book::Me).await?,
        ];
        let listed = match caller.terminal.group_books {
            Some(listed) => listed,
            None => !merged_only_client && self.store.list_group_books(caller.account.id).await?,
        };
        if listed {
            let scope = self.scope(caller, Book::Contacts).await?;
            for (group, _) in &scope.groups {
                let seal = self.seal(caller, Book::Group(group.id)).await?;
                books.push(BookInfo {
                    book: Book::Group(group.id),
                    name: group.name.clone(),
                    token: seal.seal(&Token::complete(Marks::from([(group.id.0, Mark::of(group))]))),
                    writable: false,
                });
            }
        }
        Ok(books)
    }

    /// One book's name and current token; `NotFound` for a group the viewer is not in.
    pub async fn book(&self, caller: &Caller, book: Book) -> Result<BookInfo> {
        let seal = self.seal(caller, book).await?;
        let (name, token) = match book {
            Book::Me => {
                let revision = self.store.card(caller.account.id).await?.map_or(0, |c| c.revision);
                ("My card".to_string(), Self::me_token(&seal, caller, revision))
            }
            Book::Contacts => {
                let scope = self.scope(caller, book).await?;
                ("Contacts".to_string(), seal.seal(&Self::scope_token(&scope)))
            }
            Book::Group(_) => {
                let scope = self.scope(caller, book).await?;
                let name = scope.groups.first().map(|(g, _)| g.name.clone()).unwrap_or_default();
                (name, seal.seal(&Self::scope_token(&scope)))
            }
        };
        Ok(BookInfo {
            book,
            name,
            token,
            writable: book == Book::Me,
        })
    }

    /// The token of the caller's `me` book at a revision of their card.
    pub(crate) async fn me_token_at(&self, caller: &Caller, revision: i64) -> Result<String> {
        let seal = self.seal(caller, Book::Me).await?;
        Ok(Self::me_token(&seal, caller, revision))
    }

    fn my_book_card(caller: &Caller, stored: &StoredCard) -> Option<BookCard> {
        let card = stored.card.view(ShareFields::ALL)?;
        Some(BookCard {
            subject: caller.account.id,
            card,
            categories: Vec::new(),
            // The revision, as the JSON API's ETag, so If-Match works the same in both doors.
            etag: stored.revision.to_string(),
        })
    }

    /// Every card of a book, ordered by subject, with the book's token at the time of reading.
    pub async fn book_cards(&self, caller: &Caller, book: Book) -> Result<(Arc<[BookCard]>, String)> {
        self.limits.read(caller.account.id)?;
        let seal = self.seal(caller, book).await?;
        if book == Book::Me {
            let stored = self.store.card(caller.account.id).await?;
            let revision = stored.as_ref().map_or(0, |c| c.revision);
            let cards = stored.iter().filter_map(|s| Self::my_book_card(caller, s)).collect();
            return Ok((cards, Self::me_token(&seal, caller, revision)));
        }
        let scope = self.scope(caller, book).await?;
        let token = seal.seal(&Self::scope_token(&scope));
        Ok((self.listing(caller, &scope).await?, token))
    }

    /// Every card of a scope's book, ordered by subject: kept, or read and kept.
    async fn listing(&self, caller: &Caller, scope: &Scope) -> Result<Arc<[BookCard]>> {
        let key = ListingKey::of(caller.account.id, scope);
        if let Some(cards) = self.listings.get(&key) {
            return Ok(cards);
        }
        let cards: Arc<[BookCard]> = match self.listing_after_changes(caller, scope, &key).await? {
            Some(cards) => cards.into(),
            None => self.read_book(caller, scope).await?.into(),
        };
        self.listings.put(key, Arc::clone(&cards));
        Ok(cards)
    }

    /// The book's listing made from the viewer's kept one of an earlier state: only the people
    /// changed since (from the groups' logs) are read again. This is the first listing after a
    /// change, which every phone of every member asks for: its cost follows the changes, not
    /// the book. `None` when no kept listing leads here (another set of groups, a renamed
    /// group, a log that no longer reaches it) or when so much changed that reading the whole
    /// book costs as little.
    async fn listing_after_changes(
        &self,
        caller: &Caller,
        scope: &Scope,
        key: &ListingKey,
    ) -> Result<Option<Vec<BookCard>>> {
        let Some((kept_key, kept)) = self.listings.latest(caller.account.id, scope.book) else {
            return Ok(None);
        };
        let Some(since) = kept_key.versions_before(key) else {
            return Ok(None);
        };
        let mut changed = BTreeSet::new();
        for ((group, _), since) in scope.groups.iter().zip(since) {
            match self.changed_since(group, since, Tail::Whole).await? {
                Some(log) => changed.extend(log.subjects.into_iter().map(|(subject, _)| subject)),
                None => return Ok(None),
            }
        }
        // The viewer's own card is never in their book.
        changed.remove(&caller.account.id);
        if changed.len() > kept.len() / 4 + 64 {
            return Ok(None);
        }
        let subjects: Vec<AccountId> = changed.iter().copied().collect();
        let fresh = self.cards_in_scope(scope, &subjects).await?;
        let mut cards: Vec<BookCard> = Vec::with_capacity(kept.len() + fresh.len());
        cards.extend(kept.iter().filter(|c| !changed.contains(&c.subject)).cloned());
        cards.extend(fresh.into_iter().filter_map(|(_, card)| card));
        cards.sort_unstable_by_key(|c| c.subject);
        Ok(Some(cards))
    }

    /// Reads and merges every card of a book's groups.
    async fn read_book(&self, caller: &Caller, scope: &Scope) -> Result<Vec<BookCard>> {
        let book = scope.book;
        let mut merged = Merged::default();
        for (group, viewer) in &scope.groups {
            let mut after = None;
            loop {
                let page = self
                    .store
                    .directory_page(group.id, caller.account.id, after, MAX_PAGE, &DirectorySearch::All)
                    .await?;
                for subject in &page {
                    merged.add(viewer, group, subject, book == Book::Contacts);
                }
                after = page.last().map(|s| s.account_id);
                if page.len() < MAX_PAGE as usize {
                    break;
                }
            }
        }
        Ok(merged.into_sorted())
    }

    /// The cards of the given people in a book; `None` for those the book does not hold.
    pub async fn book_cards_of(
        &self,
        caller: &Caller,
        book: Book,
        subjects: &[AccountId],
    ) -> Result<Vec<(AccountId, Option<BookCard>)>> {
        // Counted per card, not as a read: a first sync fetches a big book in many small
        // multigets (DAVx5 asks 10 cards at a time), each bounded by what the client names.
        self.limits.multiget(caller.account.id, subjects.len())?;
        if book == Book::Me {
            let stored = self.store.card(caller.account.id).await?;
            let mine = stored.as_ref().and_then(|s| Self::my_book_card(caller, s));
            return Ok(subjects
                .iter()
                .map(|s| (*s, mine.clone().filter(|m| m.subject == *s)))
                .collect());
        }
        let scope = self.scope(caller, book).await?;
        if let Some(listed) = self.listings.get(&ListingKey::of(caller.account.id, &scope)) {
            return Ok(subjects
                .iter()
                .map(|s| {
                    let card = listed.binary_search_by_key(s, |c| c.subject).ok();
                    (*s, card.map(|i| listed[i].clone()))
                })
                .collect());
        }
        self.cards_in_scope(&scope, subjects).await
    }

    async fn cards_in_scope(
        &self,
        scope: &Scope,
        subjects: &[AccountId],
    ) -> Result<Vec<(AccountId, Option<BookCard>)>> {
        let mut merged = Merged::default();
        for (group, viewer) in &scope.groups {
            for subject in self.store.member_cards(group.id, subjects).await? {
                merged.add(viewer, group, &subject, scope.book == Book::Contacts);
            }
        }
        Ok(subjects.iter().map(|s| (*s, merged.take(*s))).collect())
    }
}
