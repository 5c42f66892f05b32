//! The local address book: the vdir folder and its cache, changed one contact at a time.
//!
//! [`Book::apply`] is the single way a server change reaches the disk, shared by `sync` and
//! `watch`. Its order is what makes a crash harmless: the cache records that Roster owns a new
//! contact *before* its file is written, records a changed card only *after* its file is
//! replaced, and a group's cursor is stored only after all files up to it are on disk, so a
//! rerun redoes at most a little work. A file that
//! the cache does not list is the user's and is never overwritten or deleted.

use crate::cache::{Cache, CachedContact, CachedGroup};
use crate::error::{Error, Result};
use crate::vdir;
use roster_proto::api::{CardView, DirectoryChange};
use roster_proto::vcard::{self, Extras, VcardVersion};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The cache's file name in the book folder: hidden, and not a `.vcf`, so address books skip it.
pub const CACHE_FILE: &str = ".roster-cache.sqlite";

/// What applying one change did to the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new contact file.
    Added,
    /// A contact file rewritten with a changed card.
    Updated,
    /// The file already held this card.
    Unchanged,
    /// A contact file deleted.
    Removed,
    /// A removal of a contact this book does not hold.
    Absent,
    /// The file name is taken by a file Roster did not write: left alone.
    KeptUserFile,
}

/// One person in the book, with every group they are seen in.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Contact {
    /// The person's account, also their vCard UID and file name.
    pub account_id: Uuid,
    /// Names of the groups they share.
    pub groups: Vec<String>,
    /// The fullest card among those groups (share policies differ per group).
    pub card: CardView,
}

/// A book folder opened with its cache.
#[derive(Debug)]
pub struct Book {
    root: PathBuf,
    cache: Cache,
}

impl Book {
    /// Opens (creating) the book at `root` for an account of a server. A folder already
    /// holding another account's book is refused rather than mixed.
    pub async fn open(root: &Path, server: &str, account: Uuid) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(Error::io(format!("cannot create {}", root.display())))?;
        let cache = Cache::open(&root.join(CACHE_FILE)).await?;
        match cache.owner().await? {
            None => cache.set_owner(server, account).await?,
            Some((s, a)) if s == server && a == account => {}
            Some((s, _)) => {
                return Err(Error::Usage(format!(
                    "{} holds the address book of another account on {s}: sync into another folder with --to",
                    root.display()
                )));
            }
        }
        Ok(Book {
            root: root.to_path_buf(),
            cache,
        })
    }

    /// Opens an existing book for reading, whoever it belongs to (offline commands).
    pub async fn open_existing(root: &Path) -> Result<Self> {
        let file = root.join(CACHE_FILE);
        if !file.is_file() {
            return Err(Error::Usage(format!(
                "no address book in {}: run `roster sync` first",
                root.display()
            )));
        }
        Ok(Book {
            root: root.to_path_buf(),
            cache: Cache::open(&file).await?,
        })
    }

    /// The book folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The groups the book holds, with their cursors.
    pub(crate) async fn groups(&self) -> Result<Vec<CachedGroup>> {
        self.cache.groups().await
    }

    /// Makes sure the group has its folder, name and a cursor.
    pub async fn track_group(&self, group: Uuid, name: &str) -> Result<()> {
        vdir::prepare_group(&self.root, group, name)?;
        self.cache.put_group(group, name).await
    }

    /// Applies one change of one group to the folder and the cache.
    pub async fn apply(&self, group: Uuid, group_name: &str, change: &DirectoryChange) -> Result<Applied> {
        match change {
            DirectoryChange::Upsert { account_id, card } => self.upsert(group, group_name, *account_id, card).await,
            DirectoryChange::Remove { account_id } => self.remove(group, *account_id).await,
        }
    }

    async fn upsert(&self, group: Uuid, group_name: &str, account: Uuid, card: &CardView) -> Result<Applied> {
        let file = vdir::contact_file(&self.root, group, account);
        let previous = self.cache.contact(group, account).await?;
        let exists = file.exists();
        if previous.is_none() && exists {
            return Ok(Applied::KeptUserFile);
        }
        if previous.as_ref() == Some(card) && exists {
            return Ok(Applied::Unchanged);
        }
        let text = render(account, card, group_name);
        if previous.is_none() {
            // Ownership before the file: a crash in between leaves a record without a file
            // (written on the rerun), never a file of ours that we would refuse to touch.
            self.cache.put_contact(group, account, card).await?;
            vdir::write_atomically(&file, text.as_bytes())?;
            return Ok(Applied::Added);
        }
        // The new card after the file: a crash in between leaves the old card recorded, so the
        // rerun sees a difference and writes the file again rather than trusting a stale one.
        vdir::write_atomically(&file, text.as_bytes())?;
        self.cache.put_contact(group, account, card).await?;
        Ok(Applied::Updated)
    }

    async fn remove(&self, group: Uuid, account: Uuid) -> Result<Applied> {
        if self.cache.contact(group, account).await?.is_none() {
            return Ok(Applied::Absent);
        }
        vdir::remove(&vdir::contact_file(&self.root, group, account))?;
        self.cache.delete_contact(group, account).await?;
        Ok(Applied::Removed)
    }

    /// The name on the card Roster holds for a contact of a group.
    pub async fn contact_name(&self, group: Uuid, account: Uuid) -> Result<Option<String>> {
        Ok(self.cache.contact(group, account).await?.and_then(|c| c.formatted_name))
    }

    /// Stores a group's cursor once every change up to it is on disk.
    pub async fn commit_cursor(&self, group: Uuid, cursor: i64) -> Result<()> {
        vdir::sync_dir(&vdir::group_dir(&self.root, group));
        self.cache.set_cursor(group, cursor).await
    }

    /// The accounts whose files Roster holds in a group.
    pub(crate) async fn accounts_of(&self, group: Uuid) -> Result<Vec<Uuid>> {
        self.cache.accounts_of(group).await
    }

    /// Deletes every file Roster wrote for a group the account no longer sees, and the
    /// group's folder unless the user keeps files in it. Answers how many contacts went.
    pub async fn forget_group(&self, group: Uuid) -> Result<usize> {
        let accounts = self.cache.accounts_of(group).await?;
        for account in &accounts {
            self.remove(group, *account).await?;
        }
        vdir::retire_group(&self.root, group)?;
        self.cache.delete_group(group).await?;
        Ok(accounts.len())
    }

    /// Every contact, once per person, ordered by name.
    pub async fn contacts(&self) -> Result<Vec<Contact>> {
        let mut people: BTreeMap<Uuid, Contact> = BTreeMap::new();
        for CachedContact {
            group_name,
            account_id,
            card,
            ..
        } in self.cache.contacts().await?
        {
            let contact = people.entry(account_id).or_insert_with(|| Contact {
                account_id,
                groups: Vec::new(),
                card: card.clone(),
            });
            contact.groups.push(group_name);
            if fullness(&card) > fullness(&contact.card) {
                contact.card = card;
            }
        }
        let mut contacts: Vec<Contact> = people.into_values().collect();
        contacts.sort_by_key(|c| c.card.formatted_name.clone().unwrap_or_default().to_lowercase());
        Ok(contacts)
    }

    /// The names of the groups the book holds.
    pub async fn group_names(&self) -> Result<Vec<String>> {
        Ok(self.cache.groups().await?.into_iter().map(|g| g.name).collect())
    }

    /// Closes the cache cleanly.
    pub async fn close(&self) {
        self.cache.close().await;
    }
}

/// A contact as a vCard 4.0, its groups as categories.
pub fn contact_vcard(contact: &Contact) -> String {
    vcard::write(
        &contact.account_id.to_string(),
        &contact.card,
        VcardVersion::V4,
        &Extras {
            categories: contact.groups.clone(),
            revision: None,
        },
    )
}

fn render(account: Uuid, card: &CardView, group_name: &str) -> String {
    vcard::write(
        &account.to_string(),
        card,
        VcardVersion::V4,
        &Extras {
            categories: vec![group_name.to_string()],
            revision: None,
        },
    )
}

/// How much of a card is visible: groups with wider share policies show more.
fn fullness(card: &CardView) -> usize {
    [
        card.formatted_name.is_some(),
        card.name.is_some(),
        card.organization.is_some(),
        card.title.is_some(),
        card.address.is_some(),
        card.birthday.is_some(),
        card.note.is_some(),
        card.photo.is_some(),
    ]
    .iter()
    .filter(|v| **v)
    .count()
        + card.phones.len()
        + card.emails.len()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location
    use super::*;
    use roster_proto::api::{Phone, PhoneKind};

    fn card(name: &str, phone: &str) -> Box<CardView> {
        Box::new(CardView {
            formatted_name: Some(name.into()),
            phones: vec![Phone {
                number: phone.into(),
                kind: PhoneKind::Mobile,
            }],
            ..CardView::default()
        })
    }

    #[tokio::test]
    async fn upserts_and_removals_touch_only_roster_files() {
        let dir = tempfile::tempdir().unwrap();
        let book = Book::open(dir.path(), "http://s", Uuid::new_v4()).await.unwrap();
        let group = Uuid::new_v4();
        book.track_group(group, "Club").await.unwrap();
        let (ben, user) = (Uuid::new_v4(), Uuid::new_v4());
        let upsert = |id, c| DirectoryChange::Upsert {
            account_id: id,
            card: c,
        };

        let applied = book.apply(group, "Club", &upsert(ben, card("Ben", "+4930111"))).await;
        assert_eq!(applied.unwrap(), Applied::Added);
        let same = book.apply(group, "Club", &upsert(ben, card("Ben", "+4930111"))).await;
        assert_eq!(same.unwrap(), Applied::Unchanged);
        let changed = book.apply(group, "Club", &upsert(ben, card("Ben", "+4930222"))).await;
        assert_eq!(changed.unwrap(), Applied::Updated);
        let text = std::fs::read_to_string(vdir::contact_file(dir.path(), group, ben)).unwrap();
        assert!(text.contains("+4930222") && text.contains(&ben.to_string()), "{text}");

        // A file with a contact's name that Roster did not write is neither replaced nor deleted.
        let theirs = vdir::contact_file(dir.path(), group, user);
        std::fs::write(&theirs, "mine").unwrap();
        let kept = book.apply(group, "Club", &upsert(user, card("U", "+4930333"))).await;
        assert_eq!(kept.unwrap(), Applied::KeptUserFile);
        let absent = book
            .apply(group, "Club", &DirectoryChange::Remove { account_id: user })
            .await;
        assert_eq!(absent.unwrap(), Applied::Absent);
        assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "mine");

        let removed = book
            .apply(group, "Club", &DirectoryChange::Remove { account_id: ben })
            .await;
        assert_eq!(removed.unwrap(), Applied::Removed);
        assert!(!vdir::contact_file(dir.path(), group, ben).exists());
        assert_eq!(book.forget_group(group).await.unwrap(), 0);
        assert!(theirs.exists());
    }

    #[tokio::test]
    async fn a_record_without_its_file_is_rewritten_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let book = Book::open(dir.path(), "http://s", Uuid::new_v4()).await.unwrap();
        let group = Uuid::new_v4();
        book.track_group(group, "Club").await.unwrap();
        let ben = Uuid::new_v4();
        // What a crash between the cache write and the file write leaves behind.
        book.cache
            .put_contact(group, ben, &card("Ben", "+4930111"))
            .await
            .unwrap();
        let change = DirectoryChange::Upsert {
            account_id: ben,
            card: card("Ben", "+4930111"),
        };
        assert_eq!(book.apply(group, "Club", &change).await.unwrap(), Applied::Updated);
        assert!(vdir::contact_file(dir.path(), group, ben).exists());
    }

    #[tokio::test]
    async fn a_changed_card_is_recorded_only_after_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let book = Book::open(dir.path(), "http://s", Uuid::new_v4()).await.unwrap();
        let group = Uuid::new_v4();
        book.track_group(group, "Club").await.unwrap();
        let ben = Uuid::new_v4();
        let upsert = |c| DirectoryChange::Upsert {
            account_id: ben,
            card: c,
        };
        book.apply(group, "Club", &upsert(card("Ben", "+4930111")))
            .await
            .unwrap();
        // The file cannot be replaced (a folder took its name): the cache must keep the card
        // that is really on disk, or a rerun would take the stale file for current.
        let file = vdir::contact_file(dir.path(), group, ben);
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir_all(file.join("in-the-way")).unwrap();
        assert!(
            book.apply(group, "Club", &upsert(card("Ben", "+4930222")))
                .await
                .is_err()
        );
        let recorded = book.cache.contact(group, ben).await.unwrap().unwrap();
        assert_eq!(recorded.phones[0].number, "+4930111");
        std::fs::remove_dir_all(&file).unwrap();
        let again = book
            .apply(group, "Club", &upsert(card("Ben", "+4930222")))
            .await
            .unwrap();
        assert_eq!(again, Applied::Updated);
        assert!(std::fs::read_to_string(&file).unwrap().contains("+4930222"));
    }

    #[tokio::test]
    async fn a_folder_of_another_account_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let book = Book::open(dir.path(), "http://s", Uuid::new_v4()).await.unwrap();
        book.close().await;
        let other = Book::open(dir.path(), "http://s", Uuid::new_v4()).await;
        assert!(matches!(other, Err(Error::Usage(_))));
    }
}
