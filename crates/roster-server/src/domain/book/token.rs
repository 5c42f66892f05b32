//! Sync tokens: what a client holds of a book (per group, the log version and a tag of the
//! name), as an opaque URI signed with a server key and bound to the account and book, so that
//! a forged, edited or borrowed token is refused and can never name a group of someone else.

use super::{Book, Scope};
use crate::domain::Roster;
use crate::domain::error::{Error, Result};
use crate::domain::ids::AccountId;
use crate::domain::model::Group;
use crate::domain::terminal::Caller;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every sync token starts with this, so that clients that insist on URIs keep it.
const TOKEN_PREFIX: &str = "urn:x-roster:sync:";

/// How far a client holds one group of a book (in `me`: its own card): the version of the
/// group's log, and a tag of the group's name, which shows in CATEGORIES and display names
/// and changes without a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) version: i64,
    pub(super) name: u64,
}

impl Mark {
    pub(super) fn of(group: &Group) -> Mark {
        Mark {
            version: group.version,
            name: name_tag(&group.name),
        }
    }
}

/// A short fingerprint of a group's name: renaming a group changes its books' tokens.
pub(super) fn name_tag(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Marks by group (or, in `me`, by account).
pub(super) type Marks = BTreeMap<Uuid, Mark>;

/// What a sync token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Token {
    /// The state the client holds of every subject up to `paging.after`, or of all of them.
    pub(super) held: Marks,
    /// Set while an answer too long for one page is sent page by page.
    pub(super) paging: Option<Paging>,
}

/// Where a paged answer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Paging {
    /// The last subject sent; later ones are still to come.
    pub(super) after: AccountId,
    /// What the client held of the later subjects when the pages began; `None` on a first
    /// sync, when it held none of them.
    pub(super) rest: Option<Marks>,
}

/// The first byte of every token; tokens written in another format are stale (format 1 had
/// no MAC).
const TOKEN_FORMAT: u8 = 2;
/// Bytes of the MAC at the end of every token.
const TOKEN_MAC_BYTES: usize = 16;
/// The name of the sync-token key among the server's keys.
pub(super) const SYNC_TOKEN_KEY: &str = "sync_token_key";

/// Signs and checks the sync tokens of one account's book. A token is the server's word
/// about what a client holds; signed with a key kept in the database and bound to the account
/// and book it was issued for, it cannot be forged or edited (a made-up token could otherwise
/// name a group the caller is not in), nor replayed by another account or on another book.
pub(super) struct Seal<'a> {
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
    pub(super) fn seal(&self, token: &Token) -> String {
        let mut bytes = token.to_bytes();
        let tag = self.mac(&bytes);
        bytes.extend_from_slice(&tag.as_ref()[..TOKEN_MAC_BYTES]);
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token a client sent back, if this server issued it for this account and book.
    pub(super) fn open(&self, token: &str) -> Option<Token> {
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
    pub(super) fn complete(held: Marks) -> Token {
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
pub(super) fn stale_token() -> Error {
    Error::Stale("the sync token is not valid any more; sync again from scratch".into())
}

impl Roster {
    /// The seal of a caller's book's tokens (the key is read once, made on first use).
    pub(super) async fn seal(&self, caller: &Caller, book: Book) -> Result<Seal<'_>> {
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

    pub(super) fn scope_marks(scope: &Scope) -> Marks {
        scope.groups.iter().map(|(g, _)| (g.id.0, Mark::of(g))).collect()
    }

    pub(super) fn scope_token(scope: &Scope) -> Token {
        Token::complete(Self::scope_marks(scope))
    }

    pub(super) fn me_token(seal: &Seal<'_>, caller: &Caller, revision: i64) -> String {
        let mark = Mark {
            version: revision,
            name: 0,
        };
        seal.seal(&Token::complete(Marks::from([(caller.account.id.0, mark)])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::GroupId;

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
}
