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
use std::net::IpAddr;
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

/// How far a client holds one group of a book (in `me`: its own card): the version of the
/// group's log, and a tag of the group's name, which shows in CATEGORIES and display names
/// and changes without a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    version: i64,
    name: u64,
}

impl Mark {
    fn of(group: &Group) -> Mark {
        Mark {
            version: group.version,
            name: name_tag(&group.name),
        }
    }
}

/// A short fingerprint of a group's name: renaming a group changes its books' tokens.
fn name_tag(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Marks by group (or, in `me`, by account).
type Marks = BTreeMap<Uuid, Mark>;

/// What a sync token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Token {
    /// The state the client holds of every subject up to `paging.after`, or of all of them.
    held: Marks,
    /// Set while an answer too long for one page is sent page by page.
    paging: Option<Paging>,
}

/// Where a paged answer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Paging {
    /// The last subject sent; later ones are still to come.
    after: AccountId,
    /// What the client held of the later subjects when the pages began; `None` on a first
    /// sync, when it held none of them.
    rest: Option<Marks>,
}

/// The first byte of every token; tokens written in another format are stale (format 1 had
/// no MAC).
const TOKEN_FORMAT: u8 = 2;
/// Bytes of the MAC at the end of every token.
const TOKEN_MAC_BYTES: usize = 16;
/// The name of the sync-token key among the server's keys.
const SYNC_TOKEN_KEY: &str = "sync_token_key";

/// Signs and checks the sync tokens of one account's book. A token is the server's word
/// about what a client holds; signed with a key kept in the database and bound to the account
/// and book it was issued for, it cannot be forged or edited (a made-up token could otherwise
/// name a group the caller is not in), nor replayed by another account or on another book.
struct Seal<'a> {
    key: &'a ring::hmac::Key,
    account: AccountId,
    book: String,
}

impl Seal<'_> {
    fn mac(&self, payload: &[u8]) -> ring::hmac::Tag {
        let mut context = ring::hmac::Context::with_key(self.key);
        context.update(b"roster sync token\0");
        context.update(self.account.0.as_bytes());
        context.update(self.book.as_bytes());
        context.update(b"\0");
        context.update(payload);
        context.sign()
    }

    /// The token as a client receives it: a URI of the payload and its MAC.
    fn seal(&self, token: &Token) -> String {
        let mut bytes = token.to_bytes();
        let tag = self.mac(&bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TOKEN_MAC_BYTES]);
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token a client sent back, if this server issued it for this account and book.
    fn open(&self, token: &str) -> Option<Token> {
        let bytes = URL_SAFE_NO_PAD.decode(token.strip_prefix(TOKEN_PREFIX)?).ok()?;
        let split = bytes.len().checked_sub(TOKEN_MAC_BYTES)?;
        let (payload, tag) = bytes.split_at(split);
        let expected = self.mac(payload);
        #[allow(deprecated)] // ring keeps this comparison for exactly this use
        ring::constant_time::verify_slices_are_equal(&expected.as_ref()[..TOKEN_MAC_BYTES], tag).ok()?;
        Token::from_bytes(payload)
    }
}
/// Bytes of one mark: id, version, name tag.
const MARK_BYTES: usize = 16 + 8 + 8;

fn put_marks(bytes: &mut Vec<u8>, marks: &Marks) {
    bytes.extend_from_slice(&(marks.len() as u32).to_be_bytes());
    for (id, mark) in marks {
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&mark.version.to_be_bytes());
        bytes.extend_from_slice(&mark.name.to_be_bytes());
    }
}

/// Reads a token's bytes front to back; every read fails on a short input.
struct TokenReader<'a>(&'a [u8]);

impl TokenReader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.0.split_first_chunk::<N>()?;
        self.0 = tail;
        Some(*head)
    }

    fn uuid(&mut self) -> Option<Uuid> {
        self.take::<16>().map(Uuid::from_bytes)
    }

    fn marks(&mut self) -> Option<Marks> {
        let count = usize::try_from(u32::from_be_bytes(self.take()?)).ok()?;
        if count.checked_mul(MARK_BYTES)? > self.0.len() {
            return None;
        }
        let mut marks = Marks::new();
        for _ in 0..count {
            let id = self.uuid()?;
            let version = i64::from_be_bytes(self.take()?);
            let name = u64::from_be_bytes(self.take()?);
            marks.insert(id, Mark { version, name });
        }
        Some(marks)
    }
}

impl Token {
    fn complete(held: Marks) -> Token {
        Token { held, paging: None }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![TOKEN_FORMAT];
        match &self.paging {
            None => bytes.push(0),
            Some(paging) => {
                bytes.push(if paging.rest.is_some() { 2 } else { 1 });
                bytes.extend_from_slice(paging.after.0.as_bytes());
                if let Some(rest) = &paging.rest {
                    put_marks(&mut bytes, rest);
                }
            }
        }
        put_marks(&mut bytes, &self.held);
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Token> {
        let mut reader = TokenReader(bytes);
        let [format, kind] = reader.take()?;
        if format != TOKEN_FORMAT {
            return None;
        }
        let paging = match kind {
            0 => None,
            1 | 2 => Some(Paging {
                after: AccountId(reader.uuid()?),
                rest: if kind == 2 { Some(reader.marks()?) } else { None },
            }),
            _ => return None,
        };
        let held = reader.marks()?;
        reader.0.is_empty().then_some(Token { held, paging })
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

/// Most terminals with cards waiting to be fetched again, and most cards per terminal; beyond,
/// the oldest are forgotten (their local edits then stay until the card next changes).
const REFETCH_TERMINALS: usize = 10_000;
const REFETCH_CARDS: usize = 32;

/// Cards a terminal must fetch again after a refused edit, per terminal and book: kept in
/// memory, bounded, consumed by the terminal's next incremental sync of that book.
#[derive(Default)]
pub(crate) struct Refetches(Mutex<VecDeque<Pending>>);

/// One terminal's cards to report again, with their books.
type Pending = (TerminalId, Vec<(Book, AccountId)>);

impl Refetches {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, terminal: TerminalId, book: Book, subject: AccountId) {
        let mut kept = self.lock();
        let index = match kept.iter().position(|(t, _)| *t == terminal) {
            Some(index) => index,
            None => {
                if kept.len() >= REFETCH_TERMINALS {
                    kept.pop_front();
                }
                kept.push_back((terminal, Vec::new()));
                kept.len() - 1
            }
        };
        if let Some((_, cards)) = kept.get_mut(index)
            && !cards.contains(&(book, subject))
        {
            if cards.len() >= REFETCH_CARDS {
                cards.remove(0);
            }
            cards.push((book, subject));
        }
    }

    fn take(&self, terminal: TerminalId, book: Book) -> Vec<AccountId> {
        let mut kept = self.lock();
        let Some(index) = kept.iter().position(|(t, _)| *t == terminal) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        if let Some((_, cards)) = kept.get_mut(index) {
            cards.retain(|(b, subject)| {
                let hit = *b == book;
                if hit {
                    taken.push(*subject);
                }
                !hit
            });
            if cards.is_empty() {
                kept.remove(index);
            }
        }
        taken
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

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
        self.issue_terminal(caller.account.id, name, TerminalKind::AppPassword, group_books)
            .await
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
    /// with the main password when the operator allows it. App passwords are checked first
    /// and no lock-out or failure limit stands in their way: they cannot be guessed, and
    /// someone guessing the main password must not cut the owner's phones off. Failures are
    /// limited per client network, whatever the login (so the answer says nothing about it).
    pub async fn authenticate_basic(&self, login: &str, password: &str, client: Option<IpAddr>) -> Result<Caller> {
        let login = login.trim().to_ascii_lowercase();
        if let Ok(caller) = self.resolve_credential(password).await
            && caller.account.login == login
            && caller.terminal.kind == TerminalKind::AppPassword
        {
            return Ok(caller);
        }
        self.limits.basic_permitted(client)?;
        if self.settings.basic_main_password {
            match self.check_password(&login, password, client).await {
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
        self.limits.basic_failed(client);
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

    /// The seal of a caller's book's tokens (the key is read once, made on first use).
    async fn seal(&self, caller: &Caller, book: Book) -> Result<Seal<'_>> {
        let key = self
            .sync_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 32];
                rand::fill(&mut candidate);
                let secret = self.store.server_key(SYNC_TOKEN_KEY, &candidate).await?;
                Ok::<_, Error>(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret))
            })
            .await?;
        Ok(Seal {
            key,
            account: caller.account.id,
            book: book.key(),
        })
    }

    fn scope_marks(scope: &Scope) -> Marks {
        scope.groups.iter().map(|(g, _)| (g.id.0, Mark::of(g))).collect()
    }

    fn scope_token(scope: &Scope) -> Token {
        Token::complete(Self::scope_marks(scope))
    }

    fn me_token(seal: &Seal<'_>, caller: &Caller, revision: i64) -> String {
        let mark = Mark {
            version: revision,
            name: 0,
        };
        seal.seal(&Token::complete(Marks::from([(caller.account.id.0, mark)])))
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
        let cards: Arc<[BookCard]> = self.read_book(caller, scope).await?.into();
        self.listings.put(key, Arc::clone(&cards));
        Ok(cards)
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
                    if mark.version < group.floor || mark.version > group.version {
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
                    later.extend(self.refetches.take(caller.terminal.id, book));
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
            self.refetches.add(caller.terminal.id, book, subject);
        }
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

    #[test]
    fn refetches_are_bounded_and_taken_once_per_book() {
        let refetches = Refetches::default();
        let terminal = TerminalId::random();
        let (ben, cara) = (AccountId::random(), AccountId::random());
        refetches.add(terminal, Book::Contacts, ben);
        refetches.add(terminal, Book::Contacts, ben);
        refetches.add(terminal, Book::Me, cara);
        assert_eq!(refetches.take(terminal, Book::Contacts), vec![ben]);
        assert!(refetches.take(terminal, Book::Contacts).is_empty());
        assert_eq!(refetches.take(terminal, Book::Me), vec![cara]);
        assert_eq!(refetches.len(), 0);
        for _ in 0..(REFETCH_TERMINALS + 10) {
            refetches.add(TerminalId::random(), Book::Contacts, ben);
        }
        assert_eq!(refetches.len(), REFETCH_TERMINALS);
        for _ in 0..(REFETCH_CARDS + 10) {
            refetches.add(terminal, Book::Contacts, AccountId::random());
        }
        assert_eq!(refetches.take(terminal, Book::Contacts).len(), REFETCH_CARDS);
    }
    use roster_proto::api::{Phone, PhoneKind};

    fn key(byte: u8) -> ring::hmac::Key {
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[byte; 32])
    }

    #[test]
    fn tokens_round_trip_and_are_uris() {
        let key = key(1);
        let account = AccountId(Uuid::new_v4());
        let seal = Seal {
            key: &key,
            account,
            book: Book::Contacts.key(),
        };
        let mark = |version, name| Mark { version, name };
        let token = Token::complete(Marks::from([
            (Uuid::new_v4(), mark(7, 1)),
            (Uuid::new_v4(), mark(0, u64::MAX)),
        ]));
        let encoded = seal.seal(&token);
        assert!(encoded.starts_with("urn:") && encoded.contains(':'));
        assert_eq!(seal.open(&encoded).as_ref(), Some(&token));
        let nothing = seal.seal(&Token::default());
        assert_eq!(seal.open(&nothing), Some(Token::default()));
        for bad in [
            "",
            "http://example.com/sync/1",
            "urn:x-roster:sync:",
            "urn:x-roster:sync:abc",
            "urn:x-roster:sync:!!",
        ] {
            assert_eq!(seal.open(bad), None, "{bad}");
        }
        // Paging tokens, after a first page and after a page of changes, are URIs too.
        for rest in [None, Some(token.held.clone())] {
            let paging = Token {
                held: Marks::from([(Uuid::new_v4(), mark(9, 3))]),
                paging: Some(Paging {
                    after: AccountId(Uuid::new_v4()),
                    rest,
                }),
            };
            let encoded = seal.seal(&paging);
            assert!(encoded.starts_with(TOKEN_PREFIX), "{encoded}");
            assert_eq!(seal.open(&encoded), Some(paging));
            // Cut or padded tokens are refused, not misread.
            assert_eq!(seal.open(&encoded[..encoded.len() - 4]), None);
            assert_eq!(seal.open(&format!("{encoded}AAAA")), None);
        }
        // Tokens of the format before names were tagged are stale: their clients start again.
        let old_format = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode([7u8; 24]));
        assert_eq!(seal.open(&old_format), None);
    }

    #[test]
    fn tokens_open_only_for_the_account_and_book_they_were_issued_for() {
        let key = key(1);
        let account = AccountId(Uuid::new_v4());
        let seal = |key, account, book: Book| Seal {
            key,
            account,
            book: book.key(),
        };
        let issued = seal(&key, account, Book::Contacts);
        let token = Token::complete(Marks::from([(Uuid::new_v4(), Mark { version: 3, name: 9 })]));
        let sealed = issued.seal(&token);
        assert_eq!(issued.open(&sealed), Some(token.clone()));
        let other_key = self::key(2);
        let group = Book::Group(GroupId(Uuid::new_v4()));
        for wrong in [
            seal(&key, AccountId(Uuid::new_v4()), Book::Contacts),
            seal(&key, account, group),
            seal(&key, account, Book::Me),
            seal(&other_key, account, Book::Contacts),
        ] {
            assert_eq!(wrong.open(&sealed), None, "{}", wrong.book);
        }
        // An edited payload (a mark's version raised, a group swapped in) fails the MAC.
        let bytes = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(TOKEN_PREFIX).unwrap())
            .unwrap();
        for at in [3, 10, 20, bytes.len() - 20] {
            let mut edited = bytes.clone();
            edited[at] ^= 1;
            let forged = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(&edited));
            assert_eq!(issued.open(&forged), None, "byte {at}");
        }
        // An unsigned token in the old layout, naming any group, is refused.
        let mut unsigned = vec![1u8, 0];
        put_marks(&mut unsigned, &token.held);
        let forged = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(&unsigned));
        assert_eq!(issued.open(&forged), None);
    }

    #[test]
    fn name_tags_follow_the_name() {
        assert_eq!(name_tag("Choir"), name_tag("Choir"));
        assert_ne!(name_tag("Choir"), name_tag("Tennis"));
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
