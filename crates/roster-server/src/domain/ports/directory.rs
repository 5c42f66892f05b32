//! The directory port: cards, what the directory reads of them, and the per-group change
//! log every sync door reads.

use super::Refusable;
use crate::domain::Result;
use crate::domain::card::Card;
use crate::domain::ids::{AccountId, GroupId, TerminalId};
use crate::domain::model::{Change, DirectorySearch, MemberCard, StoredCard};
use crate::domain::share_policy::ShareFields;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Storage of cards and change logs.
#[async_trait]
pub trait DirectoryStore: Send + Sync + 'static {
    // Cards

    /// The account's card.
    async fn card(&self, account: AccountId) -> Result<Option<StoredCard>>;
    /// Every stored card of accounts after `after`, in account order, at most `limit`.
    async fn cards_page(&self, after: Option<AccountId>, limit: u32) -> Result<Vec<(AccountId, StoredCard)>>;
    /// Replaces the card if its revision is still `expected_revision` (0: no card yet), and
    /// appends an upsert to every group where the member is active and `changed` intersects
    /// the share policy. Refused with `CardChanged` when the revision moved. Returns the new
    /// revision.
    async fn set_card(
        &self,
        account: AccountId,
        card: &Card,
        expected_revision: i64,
        changed: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<(i64, Vec<Change>)>;

    // Directory

    /// Active members other than `viewer` with id after `after`, ordered by id, pre-filtered
    /// by `search` on raw card data, at most `limit`.
    async fn directory_page(
        &self,
        group: GroupId,
        viewer: AccountId,
        after: Option<AccountId>,
        limit: u32,
        search: &DirectorySearch,
    ) -> Result<Vec<MemberCard>>;
    /// The current membership and card of each subject that has a membership in the group.
    async fn member_cards(&self, group: GroupId, subjects: &[AccountId]) -> Result<Vec<MemberCard>>;

    // Change log

    /// Change-log entries after `since`, in version order, at most `limit`.
    async fn changes_since(&self, group: GroupId, since: i64, limit: u32) -> Result<Vec<Change>>;
    /// Compacts change logs: in each group, drops the entries that are both no younger than
    /// `before` and not among its last `keep_versions`, and raises the group's floor to match.
    /// Returns the number of entries dropped.
    async fn compact_log(&self, keep_versions: i64, before: OffsetDateTime) -> Result<u64>;

    // Cards to report again

    /// Notes that `terminal`'s next incremental sync of the book keyed `book` must report
    /// `subject` again (its edit of that card was refused); at most `cap` per terminal and
    /// book, the oldest giving way.
    async fn add_refetch(
        &self,
        terminal: TerminalId,
        book: &str,
        subject: AccountId,
        cap: u32,
        at: OffsetDateTime,
    ) -> Result<()>;
    /// Takes (and forgets) the cards `terminal` must be told again in the book keyed `book`.
    async fn take_refetches(&self, terminal: TerminalId, book: &str) -> Result<Vec<AccountId>>;
}
