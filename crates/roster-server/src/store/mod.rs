//! Storage behind one trait whose methods are whole use cases.
//!
//! Each writing method runs in one transaction and appends the change-log entries its write
//! implies, so the log always commits with the data it describes. The store enforces the
//! invariants that need atomicity (invite uses, member limits, one owner); every other rule
//! lives in `domain`.

pub mod credentials;
pub mod sqlite;
mod sqlite_credentials;

use crate::domain::Result;
use crate::domain::card::Card;
use crate::domain::contacts::Book;
use crate::domain::ids::{AccountId, GroupId, InviteId, RegistrationId, TerminalId};
use crate::domain::model::{
    Account, AccountAuth, Change, Counts, DirectorySearch, Group, GroupUpdate, Invite, Joining, MemberCard, MemberRow,
    Membership, NewTerminal, StoredCard, Terminal,
};
use crate::domain::push::PushRegistration;
use crate::domain::share_policy::ShareFields;
use async_trait::async_trait;
use roster_proto::api::{MembershipState, Role};
use time::OffsetDateTime;

/// Storage for everything Roster keeps.
#[async_trait]
pub trait Store: credentials::CredentialStore + Send + Sync + 'static {
    // Accounts

    /// Stores a new account; `Conflict` when the login is taken.
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<()>;
    /// The account with this login, with its password hash.
    async fn account_auth(&self, login: &str) -> Result<Option<AccountAuth>>;
    /// The account with this id, with its password hash.
    async fn account_auth_by_id(&self, id: AccountId) -> Result<Option<AccountAuth>>;
    /// Sets an account's display name; false when there is no such account.
    async fn set_display_name(&self, id: AccountId, display_name: &str) -> Result<bool>;
    /// Deletes an account: removes it from every group (appending removals) and deletes the
    /// groups it owns alone; `Conflict` when it owns a group that has other active members.
    async fn delete_account(&self, id: AccountId, at: OffsetDateTime) -> Result<Vec<Change>>;

    // Terminals

    /// Stores a new terminal.
    async fn create_terminal(&self, terminal: &NewTerminal) -> Result<()>;
    /// The unrevoked terminal holding this credential hash, with its account.
    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<(Account, Terminal)>>;
    /// Records that a terminal was seen.
    async fn touch_terminal(&self, id: TerminalId, at: OffsetDateTime) -> Result<()>;
    /// The account's unrevoked terminals.
    async fn terminals(&self, account: AccountId) -> Result<Vec<Terminal>>;
    /// Sets whether a terminal lists the per-group books (`None`: as the account says); false
    /// when the account has no such unrevoked terminal.
    async fn set_terminal_group_books(&self, account: AccountId, id: TerminalId, listed: Option<bool>) -> Result<bool>;
    /// Remembers the client that first used a terminal (kept once set).
    async fn note_terminal_client(&self, id: TerminalId, client: &str) -> Result<()>;
    /// Revokes one of the account's terminals, dropping its push registrations; false when
    /// there is no such terminal.
    async fn revoke_terminal(&self, account: AccountId, id: TerminalId, at: OffsetDateTime) -> Result<bool>;

    // Cards

    /// The account's card.
    async fn card(&self, account: AccountId) -> Result<Option<StoredCard>>;
    /// Every stored card of accounts after `after`, in account order, at most `limit`.
    async fn cards_page(&self, after: Option<AccountId>, limit: u32) -> Result<Vec<(AccountId, StoredCard)>>;
    /// Replaces the card if its revision is still `expected_revision` (0: no card yet), and
    /// appends an upsert to every group where the member is active and `changed` intersects
    /// the share policy. `Conflict` when the revision moved. Returns the new revision.
    async fn set_card(
        &self,
        account: AccountId,
        card: &Card,
        expected_revision: i64,
        changed: ShareFields,
        at: OffsetDateTime,
    ) -> Result<(i64, Vec<Change>)>;

    // Groups and memberships

    /// Stores a new group with its owner as active member (one upsert appended).
    async fn create_group(&self, group: &Group, owner_share: ShareFields) -> Result<Vec<Change>>;
    /// The group, with its active member count.
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;
    /// Applies an update.
    async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Result<()>;
    /// Deletes a group with its memberships, invites and log; returns the accounts that were
    /// active or pending in it.
    async fn delete_group(&self, id: GroupId) -> Result<Vec<AccountId>>;
    /// The groups where the account is active or pending, with its membership.
    async fn groups_of(&self, account: AccountId) -> Result<Vec<(Group, Membership)>>;
    /// One membership, in any state.
    async fn membership(&self, group: GroupId, account: AccountId) -> Result<Option<Membership>>;
    /// The group version at which the membership last became active (0: unknown).
    async fn joined_version(&self, group: GroupId, account: AccountId) -> Result<i64>;
    /// Active and pending members, ordered by account id (never by anything a member may hide).
    async fn members(&self, group: GroupId) -> Result<Vec<MemberRow>>;
    /// Records a join or a join request, counting the invite's use and checking the member
    /// limit atomically. `Conflict` when already active/pending, the invite is used up or
    /// expired, or the group is full.
    async fn join(&self, joining: &Joining) -> Result<Vec<Change>>;
    /// Turns a pending request into an active membership (limit checked).
    async fn activate_member(&self, group: GroupId, account: AccountId, at: OffsetDateTime) -> Result<Vec<Change>>;
    /// Ends a membership as `Left` or `Removed`; appends a removal if it was active.
    async fn end_membership(
        &self,
        group: GroupId,
        account: AccountId,
        state: MembershipState,
        at: OffsetDateTime,
    ) -> Result<Vec<Change>>;
    /// Sets a member's share policy; appends an upsert if the member is active.
    async fn set_share(
        &self,
        group: GroupId,
        account: AccountId,
        share: ShareFields,
        at: OffsetDateTime,
    ) -> Result<Vec<Change>>;
    /// Sets a member's role (`Member` or `Admin`).
    async fn set_role(&self, group: GroupId, account: AccountId, role: Role) -> Result<()>;
    /// Makes `to` the owner and the previous owner an admin.
    async fn transfer_ownership(&self, group: GroupId, from: AccountId, to: AccountId) -> Result<()>;

    // Invites

    /// Stores an invite with the hash of its code.
    async fn create_invite(&self, invite: &Invite, code_hash: &[u8]) -> Result<()>;
    /// The unrevoked invite with this code hash.
    async fn invite_by_code(&self, code_hash: &[u8]) -> Result<Option<Invite>>;
    /// The group's unrevoked invites.
    async fn invites(&self, group: GroupId) -> Result<Vec<Invite>>;
    /// Revokes an invite; false when there is no such invite in the group.
    async fn revoke_invite(&self, group: GroupId, id: InviteId, at: OffsetDateTime) -> Result<bool>;

    // Directory and change log

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
    /// Change-log entries after `since`, in version order, at most `limit`.
    async fn changes_since(&self, group: GroupId, since: i64, limit: u32) -> Result<Vec<Change>>;
    /// The current membership and card of each subject that has a membership in the group.
    async fn member_cards(&self, group: GroupId, subjects: &[AccountId]) -> Result<Vec<MemberCard>>;

    // Settings

    /// Whether the account lists one address book per group besides `contacts` (default off).
    async fn list_group_books(&self, account: AccountId) -> Result<bool>;
    /// Sets whether the account lists one address book per group.
    async fn set_list_group_books(&self, account: AccountId, list: bool) -> Result<()>;

    // Streaming

    /// Stores a single-use stream ticket for a terminal.
    async fn create_ticket(&self, ticket_hash: &[u8], terminal: TerminalId, expires_at: OffsetDateTime) -> Result<()>;
    /// Consumes a ticket: the terminal and account it was issued to, if it is unexpired and
    /// the terminal is not revoked. Expired tickets are purged on the way.
    async fn redeem_ticket(&self, ticket_hash: &[u8], now: OffsetDateTime) -> Result<Option<(Account, Terminal)>>;
    /// Compacts change logs: in each group, drops the entries that are both no younger than
    /// `before` and not among its last `keep_versions`, and raises the group's floor to match.
    /// Returns the number of entries dropped.
    async fn compact_log(&self, keep_versions: i64, before: OffsetDateTime) -> Result<u64>;

    // WebDAV-Push

    /// Stores a registration, or renews the one with the same account, book and push
    /// resource (keeping its id). Returns its id and whether it is new; `None` when the
    /// account already holds `max_per_account` registrations and this would be another one.
    async fn upsert_push_registration(
        &self,
        registration: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>>;
    /// One registration.
    async fn push_registration(&self, id: RegistrationId) -> Result<Option<PushRegistration>>;
    /// Deletes a registration (only the account's, when one is named); false when there was
    /// none.
    async fn delete_push_registration(&self, account: Option<AccountId>, id: RegistrationId) -> Result<bool>;
    /// Registrations a change of the group concerns: those of its active members for
    /// `contacts` and for the group's own book.
    async fn push_registrations_for_group(&self, group: GroupId) -> Result<Vec<RegistrationId>>;
    /// The account's registrations for these books, with the terminal holding each.
    async fn push_registrations_of(
        &self,
        account: AccountId,
        books: &[Book],
    ) -> Result<Vec<(RegistrationId, TerminalId)>>;
    /// Deletes registrations that lapsed before `now`; returns how many.
    async fn purge_push_registrations(&self, now: OffsetDateTime) -> Result<u64>;
    /// The secret stored under `name`, storing `candidate` first if there is none yet (so
    /// concurrent first starts agree on one).
    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;
    /// A value the server keeps about itself (e.g. which phone rules read the stored numbers).
    async fn server_value(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Sets a value the server keeps about itself.
    async fn set_server_value(&self, name: &str, value: &[u8]) -> Result<()>;

    // Operations

    /// Totals for metrics.
    async fn counts(&self) -> Result<Counts>;
    /// Answers when the database does, reading no table.
    async fn ping(&self) -> Result<()>;
}
