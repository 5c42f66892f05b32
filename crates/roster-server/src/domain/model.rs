//! The records the domain works with, as the store hands them over.

use super::card::Card;
use super::ids::{AccountId, GroupId, InviteId, TerminalId};
use super::share_policy::ShareFields;
use roster_proto::api::{JoinPolicy, MembershipState, Role, TerminalKind};
use time::OffsetDateTime;

/// A person's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Stable id.
    pub id: AccountId,
    /// Lower-case login name.
    pub login: String,
    /// Shown to fellow members.
    pub display_name: String,
    /// Registration time.
    pub created_at: OffsetDateTime,
}

/// An account with what login needs to check.
#[derive(Debug, Clone)]
pub struct AccountAuth {
    /// The account.
    pub account: Account,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// One logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal {
    /// Stable id.
    pub id: TerminalId,
    /// Its account.
    pub account_id: AccountId,
    /// Name given at login.
    pub name: String,
    /// Kind of credential.
    pub kind: TerminalKind,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last authenticated request (updated at most once a minute).
    pub last_seen_at: Option<OffsetDateTime>,
    /// Whether its address-book home lists the per-group books; `None`: the account's choice.
    pub group_books: Option<bool>,
    /// The client (User-Agent) that first used it over CardDAV.
    pub client: Option<String>,
}

/// A terminal about to be stored, with the hash of its credential.
#[derive(Debug, Clone)]
pub struct NewTerminal {
    /// The terminal.
    pub terminal: Terminal,
    /// SHA-256 of the credential.
    pub token_hash: Vec<u8>,
}

/// An account's card with its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// The card.
    pub card: Card,
    /// Grows by one per change.
    pub revision: i64,
    /// Time of the last change.
    pub updated_at: OffsetDateTime,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Stable id.
    pub id: GroupId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Owner account.
    pub owner_id: AccountId,
    /// How accounts join.
    pub join_policy: JoinPolicy,
    /// Maximum active members.
    pub member_limit: u32,
    /// Latest change-log version.
    pub version: i64,
    /// Versions up to this one have been compacted away.
    pub floor: i64,
    /// Number of active members.
    pub member_count: u64,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// What may change about a group.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New join policy.
    pub join_policy: Option<JoinPolicy>,
    /// New member limit.
    pub member_limit: Option<u32>,
}

/// An account's place in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group.
    pub group_id: GroupId,
    /// The member.
    pub account_id: AccountId,
    /// Role.
    pub role: Role,
    /// State.
    pub state: MembershipState,
    /// What of the member's card the group may see.
    pub share: ShareFields,
    /// When the state last changed.
    pub since: OffsetDateTime,
}

impl Membership {
    /// Active members see the directory and are seen in it.
    pub fn is_active(&self) -> bool {
        self.state == MembershipState::Active
    }

    /// Admins and the owner manage the group.
    pub fn is_admin(&self) -> bool {
        self.is_active() && self.role >= Role::Admin
    }
}

/// A membership with the member's display name, for member lists.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// The membership.
    pub membership: Membership,
    /// The member's display name.
    pub display_name: String,
}

/// A member as the directory engine needs it: membership state, share policy and card.
#[derive(Debug, Clone)]
pub struct MemberCard {
    /// The member.
    pub account_id: AccountId,
    /// Membership state in the group.
    pub state: MembershipState,
    /// Share policy for the group.
    pub share: ShareFields,
    /// The card, if the member has set one.
    pub card: Option<Card>,
}

/// What a change-log entry says happened to a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The subject's visible card may differ.
    Upsert,
    /// The subject left the directory.
    Remove,
}

/// One entry of a group's change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The group.
    pub group_id: GroupId,
    /// Gap-free, per group.
    pub version: i64,
    /// The member concerned.
    pub subject: AccountId,
    /// What happened.
    pub kind: ChangeKind,
}

/// An invite link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Stable id.
    pub id: InviteId,
    /// The group it joins.
    pub group_id: GroupId,
    /// Who created it.
    pub created_by: AccountId,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// After this it no longer joins.
    pub expires_at: OffsetDateTime,
    /// Maximum joins.
    pub max_uses: Option<u32>,
    /// Joins so far.
    pub uses: u32,
}

impl Invite {
    /// Whether the invite can still be used at `now`.
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at && self.max_uses.is_none_or(|max| self.uses < max)
    }
}

/// The pre-filter a directory search passes to the store; the share policy is applied after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectorySearch {
    /// Every member.
    All,
    /// Members whose name contains this lower-case text.
    Name(String),
    /// Members with a phone whose search keys start with one of these digit prefixes (the
    /// readings of one search text).
    PhonePrefixes(Vec<String>),
}

/// Totals for the metrics endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Accounts.
    pub accounts: u64,
    /// Groups.
    pub groups: u64,
    /// Terminals that are not revoked.
    pub terminals: u64,
}

/// A new membership to record: how the account joins.
#[derive(Debug, Clone)]
pub struct Joining {
    /// The group.
    pub group_id: GroupId,
    /// The account.
    pub account_id: AccountId,
    /// `Active` or `Pending`.
    pub state: MembershipState,
    /// Its initial share policy.
    pub share: ShareFields,
    /// The invite used, whose use is counted (and checked) in the same transaction.
    pub invite: Option<InviteId>,
    /// When.
    pub at: OffsetDateTime,
}

/// Failed main-password logins of one login name from one client network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures since the last success (or since the row was purged).
    pub failures: i64,
    /// Logins from that network are refused until then.
    pub locked_until: Option<OffsetDateTime>,
}

/// How a failure is counted: every `every` failures lock the pair for `lock_for` seconds,
/// doubled at each further lock, at most `max_doublings` times.
#[derive(Debug, Clone, Copy)]
pub struct LockRule {
    /// Failures per lock.
    pub every: i64,
    /// First lock's length in seconds.
    pub lock_for: i64,
    /// Most doublings of the lock's length.
    pub max_doublings: i64,
}

/// What a password change does to the account's other terminals.
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    /// The account.
    pub account: AccountId,
    /// The new argon2id PHC string.
    pub password_hash: &'a str,
    /// The terminal that asked, which stays.
    pub keep: TerminalId,
    /// Whether app passwords (CardDAV devices) stay.
    pub keep_app_passwords: bool,
    /// When.
    pub at: OffsetDateTime,
}
