//! Address books: the views of the directory that CardDAV (and any other door that wants a
//! person-by-person book) serves, their sync tokens, and HTTP Basic authentication with app
//! passwords.
//!
//! A book is a set of the viewer's active groups: `contacts` merges all of them (each person
//! once, with the union of what any shared group shows), a group book is one group, and `me`
//! is the viewer's own card. What a viewer sees of a person always comes from
//! [`visible_card`]; this module only merges those views and never decides visibility itself.

use super::account::Caller;
use super::directory::{CHANGES_BATCH, MAX_PAGE, visible_card};
use super::error::{Error, Result};
use super::ids::{AccountId, GroupId, TerminalId};
use super::model::{Group, MemberCard, Membership, Terminal};
use super::share_policy::ShareFields;
use super::{Roster, now};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_proto::api::{CardView, DirectorySettings, TerminalKind};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Every sync token starts with this, so that clients that insist on URIs keep it.
const TOKEN_PREFIX: &str = "urn:x-roster:sync:";

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

/// What changed in a book since a sync token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookChanges {
    /// Cards that may have changed, in their current state.
    pub upserts: Vec<BookCard>,
    /// People no longer in the book.
    pub removed: Vec<AccountId>,
    /// The token these changes bring the caller to.
    pub token: String,
}

/// The versions a sync token stands for: (group or account, version).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Token(BTreeMap<Uuid, i64>);

impl Token {
    fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(self.0.len() * 24);
        for (id, version) in &self.0 {
            bytes.extend_from_slice(id.as_bytes());
            bytes.extend_from_slice(&version.to_be_bytes());
        }
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    fn decode(token: &str) -> Option<Token> {
        let bytes = URL_SAFE_NO_PAD.decode(token.strip_prefix(TOKEN_PREFIX)?).ok()?;
        if bytes.len() % 24 != 0 {
            return None;
        }
        let mut versions = BTreeMap::new();
        for entry in bytes.chunks_exact(24) {
            let (id, version) = entry.split_at(16);
            let version = i64::from_be_bytes(version.try_into().ok()?);
            versions.insert(Uuid::from_slice(id).ok()?, version);
        }
        Some(Token(versions))
    }
}

/// A stale or foreign sync token: the client must start again from an empty token.
fn stale_token() -> Error {
    Error::Stale("the sync token is not valid any more; sync again from scratch".into())
}

/// Strong entity tag of a card as a book shows it.
fn etag_of(card: &CardView, categories: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(&(card, categories)).unwrap_or_default());
    let digest = hash.finalize();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Merges two views of the same card seen through different groups: each field is visible
/// if either group shows it. Both views are projections of one card, so a field is either
/// whole or absent in each.
fn merge(into: &mut CardView, other: CardView) {
    let CardView {
        formatted_name,
        name,
        phones,
        emails,
        organization,
        title,
        address,
        birthday,
        note,
        photo,
    } = other;
    into.formatted_name = into.formatted_name.take().or(formatted_name);
    into.name = into.name.take().or(name);
    if into.phones.is_empty() {
        into.phones = phones;
    }
    if into.emails.is_empty() {
        into.emails = emails;
    }
    into.organization = into.organization.take().or(organization);
    into.title = into.title.take().or(title);
    into.address = into.address.take().or(address);
    into.birthday = into.birthday.take().or(birthday);
    into.note = into.note.take().or(note);
    into.photo = into.photo.take().or(photo);
}

/// The viewer's active groups a book is made of.
struct Scope {
    book: Book,
    groups: Vec<(Group, Membership)>,
}

/// Most books [`Listings`] keeps.
const LISTINGS_KEPT: usize = 8;
/// Most bytes (roughly) of cards [`Listings`] keeps.
const LISTINGS_BYTES: usize = 64 << 20;

/// What a book's content is a function of: the viewer, the book, and each of its groups'
/// version (every change to what a member shows there appends to the log, bumping it) and
/// name (the categories, which renaming changes without a log entry).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListingKey {
    viewer: AccountId,
    book: Book,
    groups: Vec<(GroupId, i64, String)>,
}

impl ListingKey {
    fn of(viewer: AccountId, scope: &Scope) -> ListingKey {
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
}

/// The books most recently listed whole, by the state they were read in. A first sync lists a
/// book and then fetches all of it in many multigets; while none of its groups changes, those
/// (and later listings) are answered from here instead of reading and merging every card again.
#[derive(Default)]
pub(crate) struct Listings(Mutex<VecDeque<Listing>>);

/// A kept listing with its rough size in bytes.
type Listing = (ListingKey, Arc<[BookCard]>, usize);

impl Listings {
    /// The cards of the book in exactly this state, ordered by subject, if they are kept.
    fn get(&self, key: &ListingKey) -> Option<Arc<[BookCard]>> {
        let kept = self.0.lock().ok()?;
        kept.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, cards, _)| Arc::clone(cards))
    }

    /// Keeps a listing, forgetting the oldest ones beyond the count and size limits.
    fn put(&self, key: ListingKey, cards: Arc<[BookCard]>) {
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

/// Accumulates the merged view of people across the groups of a scope.
#[derive(Default)]
struct Merged(HashMap<AccountId, (CardView, Vec<String>)>);

impl Merged {
    fn add(&mut self, viewer: &Membership, group: &Group, subject: &MemberCard, categories: bool) {
        let Some(view) = visible_card(viewer, subject) else {
            return;
        };
        let (card, names) = self.0.entry(subject.account_id).or_default();
        merge(card, view);
        if categories {
            names.push(group.name.clone());
        }
    }

    fn take(&mut self, subject: AccountId) -> Option<BookCard> {
        self.0
            .remove(&subject)
            .map(|(card, categories)| book_card(subject, card, categories))
    }

    fn into_sorted(self) -> Vec<BookCard> {
        let mut cards: Vec<BookCard> = self
            .0
            .into_iter()
            .map(|(subject, (card, categories))| book_card(subject, card, categories))
            .collect();
        cards.sort_by_key(|c| c.subject);
        cards
    }
}

fn book_card(subject: AccountId, card: CardView, mut categories: Vec<String>) -> BookCard {
    categories.sort();
    categories.dedup();
    let etag = etag_of(&card, &categories);
    BookCard {
        subject,
        card,
        categories,
        etag,
    }
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

    /// Creates an app password: a terminal whose credential a device's address book uses
    /// with HTTP Basic, listing the per-group books as `group_books` says (`None`: as the
    /// account's setting says). Returns the password, shown once.
    pub async fn create_app_password(
        &self,
        caller: &Caller,
        name: Option<&str>,
        group_books: Option<bool>,
    ) -> Result<(String, Terminal)> {
        let name = super::account::terminal_name(name, TerminalKind::AppPassword)?;
        let (password, mut terminal) = self
            .create_terminal(caller.account.id, name, TerminalKind::AppPassword)
            .await?;
        if group_books.is_some() {
            self.store
                .set_terminal_group_books(caller.account.id, terminal.id, group_books)
                .await?;
            terminal.group_books = group_books;
        }
        Ok((password, terminal))
    }

    /// Chooses whether one app password's device lists the per-group books (`None`: as the
    /// account's setting says).
    pub async fn set_terminal_group_books(
        &self,
        caller: &Caller,
        id: TerminalId,
        group_books: Option<bool>,
    ) -> Result<Terminal> {
        let terminal = self
            .store
            .terminals(caller.account.id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(Error::NotFound("terminal"))?;
        if terminal.kind != TerminalKind::AppPassword {
            return Err(Error::invalid(
                "group_books",
                "only app passwords (CardDAV devices) have address books to list",
            ));
        }
        if !self
            .store
            .set_terminal_group_books(caller.account.id, id, group_books)
            .await?
        {
            return Err(Error::NotFound("terminal"));
        }
        Ok(Terminal {
            group_books,
            ..terminal
        })
    }

    /// Remembers which client (its User-Agent) first used an app password, shown in the
    /// terminal list and used to keep offering that device the books that suit it.
    pub async fn note_client(&self, caller: &Caller, client: &str) -> Result<()> {
        if caller.terminal.kind != TerminalKind::AppPassword || caller.terminal.client.is_some() {
            return Ok(());
        }
        let client: String = client.chars().filter(|c| !c.is_control()).take(200).collect();
        if client.trim().is_empty() {
            return Ok(());
        }
        self.store.note_terminal_client(caller.terminal.id, client.trim()).await
    }

    /// Authenticates HTTP Basic credentials: the login with one of its app passwords, or
    /// with the main password when the operator allows it. Failures are rate-limited per login.
    pub async fn authenticate_basic(&self, login: &str, password: &str) -> Result<Caller> {
        let login = login.trim().to_ascii_lowercase();
        self.limits.basic_permitted(&login)?;
        if let Ok(caller) = self.authenticate(password).await
            && caller.account.login == login
            && caller.terminal.kind == TerminalKind::AppPassword
        {
            return Ok(caller);
        }
        if self.settings.basic_main_password {
            match self.check_password(&login, password).await {
                Ok(account) => {
                    // The main password belongs to no terminal; this stands for "the account
                    // itself" and is never stored.
                    let terminal = Terminal {
                        id: TerminalId(account.id.0),
                        account_id: account.id,
                        name: "main password".into(),
                        kind: TerminalKind::Session,
                        created_at: account.created_at,
                        last_seen_at: Some(now()),
                        group_books: None,
                        client: None,
                    };
                    return Ok(Caller { account, terminal });
                }
                Err(Error::Unauthorized) => {}
                Err(e) => return Err(e),
            }
        }
        self.limits.basic_failed(&login);
        Err(Error::Unauthorized)
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

    fn scope_token(scope: &Scope) -> Token {
        Token(scope.groups.iter().map(|(g, _)| (g.id.0, g.version)).collect())
    }

    fn me_token(caller: &Caller, revision: i64) -> String {
        Token(BTreeMap::from([(caller.account.id.0, revision)])).encode()
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
                books.push(BookInfo {
                    book: Book::Group(group.id),
                    name: group.name.clone(),
                    token: Token(BTreeMap::from([(group.id.0, group.version)])).encode(),
                    writable: false,
                });
            }
        }
        Ok(books)
    }

    /// One book's name and current token; `NotFound` for a group the viewer is not in.
    pub async fn book(&self, caller: &Caller, book: Book) -> Result<BookInfo> {
        let (name, token) = match book {
            Book::Me => {
                let revision = self.store.card(caller.account.id).await?.map_or(0, |c| c.revision);
                ("My card".to_string(), Self::me_token(caller, revision))
            }
            Book::Contacts => {
                let scope = self.scope(caller, book).await?;
                ("Contacts".to_string(), Self::scope_token(&scope).encode())
            }
            Book::Group(_) => {
                let scope = self.scope(caller, book).await?;
                let name = scope.groups.first().map(|(g, _)| g.name.clone()).unwrap_or_default();
                (name, Self::scope_token(&scope).encode())
            }
        };
        Ok(BookInfo {
            book,
            name,
            token,
            writable: book == Book::Me,
        })
    }

    fn my_book_card(caller: &Caller, stored: &super::model::StoredCard) -> Option<BookCard> {
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
        if book == Book::Me {
            let stored = self.store.card(caller.account.id).await?;
            let revision = stored.as_ref().map_or(0, |c| c.revision);
            let cards = stored.iter().filter_map(|s| Self::my_book_card(caller, s)).collect();
            return Ok((cards, Self::me_token(caller, revision)));
        }
        let scope = self.scope(caller, book).await?;
        let token = Self::scope_token(&scope).encode();
        let key = ListingKey::of(caller.account.id, &scope);
        if let Some(cards) = self.listings.get(&key) {
            return Ok((cards, token));
        }
        let cards: Arc<[BookCard]> = self.read_book(caller, &scope).await?.into();
        self.listings.put(key, Arc::clone(&cards));
        Ok((cards, token))
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
                    .directory_page(
                        group.id,
                        caller.account.id,
                        after,
                        MAX_PAGE,
                        &super::model::DirectorySearch::All,
                    )
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
        // Not counted as a read: a first sync fetches a big book in many small multigets
        // (DAVx5 asks 10 cards at a time), each bounded by what the client names.
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

    /// Subjects of a group's changes after `since`, reading the whole log tail.
    async fn changed_subjects(&self, group: &Group, since: i64, into: &mut BTreeSet<AccountId>) -> Result<()> {
        if since < group.floor || since > group.version {
            return Err(stale_token());
        }
        let mut since = since;
        loop {
            let log = self.store.changes_since(group.id, since, CHANGES_BATCH).await?;
            into.extend(log.iter().map(|c| c.subject));
            match log.last() {
                Some(last) if log.len() == CHANGES_BATCH as usize => since = last.version,
                _ => return Ok(()),
            }
        }
    }

    /// What changed in a book since `token` (from an earlier answer). `Stale` when the token
    /// is unknown or the log no longer reaches it: the client must sync from scratch.
    /// Cost grows with the number of changes, not with the size of the groups.
    pub async fn book_changes(&self, caller: &Caller, book: Book, token: &str) -> Result<BookChanges> {
        self.limits.read(caller.account.id)?;
        let old = Token::decode(token).ok_or_else(stale_token)?;
        if book == Book::Me {
            let stored = self.store.card(caller.account.id).await?;
            let revision = stored.as_ref().map_or(0, |c| c.revision);
            let since = old.0.get(&caller.account.id.0).copied().ok_or_else(stale_token)?;
            if old.0.len() != 1 || since > revision {
                return Err(stale_token());
            }
            let upserts = if since == revision {
                Vec::new()
            } else {
                stored.iter().filter_map(|s| Self::my_book_card(caller, s)).collect()
            };
            return Ok(BookChanges {
                upserts,
                removed: Vec::new(),
                token: Self::me_token(caller, revision),
            });
        }
        let scope = self.scope(caller, book).await?;
        let mut candidates = BTreeSet::new();
        for (group, _) in &scope.groups {
            match old.0.get(&group.id.0) {
                Some(&since) => self.changed_subjects(group, since, &mut candidates).await?,
                // A group joined since the token: everyone in it may be new to the book.
                None => self.all_members(group.id, caller.account.id, &mut candidates).await?,
            }
        }
        for (&id, &since) in &old.0 {
            if scope.groups.iter().any(|(g, _)| g.id.0 == id) {
                continue;
            }
            // A group the viewer left (or that was deleted): whoever was in it may be gone.
            let group = self.store.group(GroupId(id)).await?.ok_or_else(stale_token)?;
            self.changed_subjects(&group, since, &mut candidates).await?;
            for row in self.store.members(group.id).await? {
                candidates.insert(row.membership.account_id);
            }
        }
        candidates.remove(&caller.account.id);
        let subjects: Vec<AccountId> = candidates.into_iter().collect();
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        for (subject, card) in self.cards_in_scope(&scope, &subjects).await? {
            match card {
                Some(card) => upserts.push(card),
                None => removed.push(subject),
            }
        }
        Ok(BookChanges {
            upserts,
            removed,
            token: Self::scope_token(&scope).encode(),
        })
    }

    /// After a refused edit of a read-only card, makes the viewer's terminals fetch it again
    /// (so the local edit is overwritten): one no-op change in each shared group where the
    /// viewer sees the card.
    pub async fn refresh_card(&self, caller: &Caller, book: Book, subject: AccountId) -> Result<()> {
        if book == Book::Me {
            return Ok(());
        }
        self.limits.read(caller.account.id)?;
        let scope = self.scope(caller, book).await?;
        let mut changes = Vec::new();
        for (group, viewer) in &scope.groups {
            let cards = self.store.member_cards(group.id, &[subject]).await?;
            if cards.iter().any(|c| visible_card(viewer, c).is_some()) {
                changes.extend(self.store.republish(group.id, subject, now()).await?);
            }
        }
        self.publish(&changes);
        Ok(())
    }

    async fn all_members(&self, group: GroupId, viewer: AccountId, into: &mut BTreeSet<AccountId>) -> Result<()> {
        let mut after = None;
        loop {
            let page = self
                .store
                .directory_page(group, viewer, after, MAX_PAGE, &super::model::DirectorySearch::All)
                .await?;
            into.extend(page.iter().map(|m| m.account_id));
            after = page.last().map(|s| s.account_id);
            if page.len() < MAX_PAGE as usize {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::api::{Phone, PhoneKind};

    #[test]
    fn tokens_round_trip_and_are_uris() {
        let token = Token(BTreeMap::from([(Uuid::new_v4(), 7), (Uuid::new_v4(), 0)]));
        let encoded = token.encode();
        assert!(encoded.starts_with("urn:") && encoded.contains(':'));
        assert_eq!(Token::decode(&encoded), Some(token));
        assert_eq!(Token::decode("urn:x-roster:sync:"), Some(Token::default()));
        for bad in [
            "",
            "http://example.com/sync/1",
            "urn:x-roster:sync:abc",
            "urn:x-roster:sync:!!",
        ] {
            assert_eq!(Token::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn merging_views_keeps_every_field_any_group_shows() {
        let phone = Phone {
            number: "+49301234567".into(),
            kind: PhoneKind::default(),
        };
        let mut names_only = CardView {
            formatted_name: Some("Anna".into()),
            ..CardView::default()
        };
        let phones_only = CardView {
            phones: vec![phone.clone()],
            note: Some("hello".into()),
            ..CardView::default()
        };
        merge(&mut names_only, phones_only);
        assert_eq!(names_only.formatted_name.as_deref(), Some("Anna"));
        assert_eq!(names_only.phones, vec![phone]);
        assert_eq!(names_only.note.as_deref(), Some("hello"));
    }

    #[test]
    fn etags_follow_content_and_categories() {
        let card = CardView {
            formatted_name: Some("Anna".into()),
            ..CardView::default()
        };
        let a = etag_of(&card, &["Choir".into()]);
        assert_eq!(a, etag_of(&card, &["Choir".into()]));
        assert_ne!(a, etag_of(&card, &["Choir".into(), "Club".into()]));
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
