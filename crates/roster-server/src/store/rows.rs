//! Codecs between rows and the domain's records, shared by every SQL backend: the row types,
//! the text each enum is stored as, and Unix-second timestamps. Both backends store ids as
//! UUIDs (16-byte blobs in SQLite, `uuid` in PostgreSQL), times and counts as 64-bit
//! integers and enums as text, so one row type reads from either. A stored value that no
//! version of Roster writes is an error here, never read as some valid value.

use crate::domain::book::Book;
use crate::domain::card::Card;
use crate::domain::ids::{AccountId, GroupId, InviteId, RegistrationId, TerminalId};
use crate::domain::model::{Account, AccountAuth, Change, ChangeKind, Group, Invite, MemberCard, Membership, Terminal};
use crate::domain::push::{PushRegistration, Subscription};
use crate::domain::share_policy::ShareFields;
use crate::domain::{Error, Result};
use roster_proto::api::{JoinPolicy, MembershipState, Role, TerminalKind};
use time::OffsetDateTime;
use uuid::Uuid;

/// A time as stored: Unix seconds.
pub(super) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// A time stored to the millisecond (push claims, where seconds are too coarse).
pub(super) fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A time stored to the millisecond.
pub(super) fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A stored time.
pub(super) fn from_ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(super) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// A stored value that no version of Roster writes: the database was changed by hand or is
/// damaged. Refused rather than read as some valid value.
pub(super) fn corrupt(what: &str, value: &str) -> Error {
    Error::Internal(anyhow::anyhow!("the database holds an unknown {what}: `{value}`"))
}

/// A stored count or limit, which no version of Roster writes negative or out of range.
fn count<T: TryFrom<i64>>(what: &str, value: i64) -> Result<T> {
    T::try_from(value).map_err(|_| corrupt(what, &value.to_string()))
}

pub(super) fn parse_role(s: &str) -> Result<Role> {
    match s {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(corrupt("role", other)),
    }
}

pub(super) fn state_str(state: MembershipState) -> &'static str {
    match state {
        MembershipState::Pending => "pending",
        MembershipState::Active => "active",
        MembershipState::Left => "left",
        MembershipState::Removed => "removed",
    }
}

pub(super) fn parse_state(s: &str) -> Result<MembershipState> {
    match s {
        "pending" => Ok(MembershipState::Pending),
        "active" => Ok(MembershipState::Active),
        "left" => Ok(MembershipState::Left),
        "removed" => Ok(MembershipState::Removed),
        other => Err(corrupt("membership state", other)),
    }
}

pub(super) fn policy_str(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::InviteOnly => "invite_only",
        JoinPolicy::Approval => "approval",
        JoinPolicy::OpenWithLink => "open_with_link",
    }
}

pub(super) fn parse_policy(s: &str) -> Result<JoinPolicy> {
    match s {
        "invite_only" => Ok(JoinPolicy::InviteOnly),
        "approval" => Ok(JoinPolicy::Approval),
        "open_with_link" => Ok(JoinPolicy::OpenWithLink),
        other => Err(corrupt("join policy", other)),
    }
}

pub(super) fn kind_str(kind: TerminalKind) -> &'static str {
    match kind {
        TerminalKind::Session => "session",
        TerminalKind::AppPassword => "app_password",
        TerminalKind::Web => "web",
    }
}

/// A LIKE pattern that matches `text` anywhere, literally (backslash is the escape character).
pub(super) fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// One directory page from the pages read for each reading of a phone search: in account
/// order, each member once, at most `limit`.
pub(super) fn merge_pages(pages: Vec<Vec<MemberCard>>, limit: u32) -> Vec<MemberCard> {
    let mut found: Vec<MemberCard> = Vec::new();
    for card in pages.into_iter().flatten() {
        if !found.iter().any(|f| f.account_id == card.account_id) {
            found.push(card);
        }
    }
    found.sort_by_key(|card| card.account_id);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    found
}

pub(super) fn parse_card(json: &str) -> Result<Card> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored card is corrupt")))
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: Uuid,
    login: String,
    display_name: String,
    password_hash: String,
    created_at: i64,
}

impl AccountRow {
    pub(super) fn account(&self) -> Account {
        Account {
            id: AccountId(self.id),
            login: self.login.clone(),
            display_name: self.display_name.clone(),
            created_at: from_ts(self.created_at),
        }
    }

    pub(super) fn auth(self) -> AccountAuth {
        AccountAuth {
            account: self.account(),
            password_hash: self.password_hash,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TerminalRow {
    id: Uuid,
    pub(super) account_id: Uuid,
    name: String,
    kind: String,
    created_at: i64,
    last_seen_at: Option<i64>,
    group_books: Option<bool>,
    client: Option<String>,
}

/// `SELECT` of the columns a [`TerminalRow`] is read from, followed by the rest of a query.
macro_rules! select_terminals {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, name, kind, created_at, last_seen_at, group_books, client FROM terminals ",
            $rest
        )
    };
}
pub(super) use select_terminals;

impl TryFrom<TerminalRow> for Terminal {
    type Error = Error;

    fn try_from(row: TerminalRow) -> Result<Self> {
        Ok(Terminal {
            id: TerminalId(row.id),
            account_id: AccountId(row.account_id),
            kind: match row.kind.as_str() {
                "session" => TerminalKind::Session,
                "app_password" => TerminalKind::AppPassword,
                "web" => TerminalKind::Web,
                other => return Err(corrupt("terminal kind", other)),
            },
            name: row.name,
            created_at: from_ts(row.created_at),
            last_seen_at: row.last_seen_at.map(from_ts),
            group_books: row.group_books,
            client: row.client,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct GroupRow {
    id: Uuid,
    name: String,
    description: String,
    owner_id: Uuid,
    join_policy: String,
    member_limit: i64,
    active_count: i64,
    version: i64,
    floor: i64,
    created_at: i64,
}

impl TryFrom<GroupRow> for Group {
    type Error = Error;

    fn try_from(row: GroupRow) -> Result<Self> {
        Ok(Group {
            id: GroupId(row.id),
            name: row.name,
            description: row.description,
            owner_id: AccountId(row.owner_id),
            join_policy: parse_policy(&row.join_policy)?,
            member_limit: count("member limit", row.member_limit)?,
            version: row.version,
            floor: row.floor,
            member_count: count("active member count", row.active_count)?,
            created_at: from_ts(row.created_at),
        })
    }
}

/// A group and one account's membership in it, read together.
#[derive(sqlx::FromRow)]
pub(super) struct GroupMembershipRow {
    #[sqlx(flatten)]
    group: GroupRow,
    #[sqlx(flatten)]
    membership: MembershipRow,
}

impl GroupMembershipRow {
    pub(super) fn into_pair(self) -> Result<(Group, Membership)> {
        Ok((Group::try_from(self.group)?, Membership::try_from(self.membership)?))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MembershipRow {
    group_id: Uuid,
    account_id: Uuid,
    role: String,
    state: String,
    share: i64,
    updated_at: i64,
}

impl TryFrom<MembershipRow> for Membership {
    type Error = Error;

    fn try_from(row: MembershipRow) -> Result<Self> {
        Ok(Membership {
            group_id: GroupId(row.group_id),
            account_id: AccountId(row.account_id),
            role: parse_role(&row.role)?,
            state: parse_state(&row.state)?,
            share: ShareFields::from_bits(row.share),
            since: from_ts(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MemberCardRow {
    account_id: Uuid,
    state: String,
    share: i64,
    card: Option<String>,
}

impl MemberCardRow {
    pub(super) fn into_member_card(self) -> Result<MemberCard> {
        Ok(MemberCard {
            account_id: AccountId(self.account_id),
            state: parse_state(&self.state)?,
            share: ShareFields::from_bits(self.share),
            card: self.card.as_deref().map(parse_card).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct InviteRow {
    id: Uuid,
    group_id: Uuid,
    created_by: Uuid,
    created_at: i64,
    expires_at: i64,
    max_uses: Option<i64>,
    uses: i64,
}

impl TryFrom<InviteRow> for Invite {
    type Error = Error;

    fn try_from(row: InviteRow) -> Result<Self> {
        Ok(Invite {
            id: InviteId(row.id),
            group_id: GroupId(row.group_id),
            created_by: AccountId(row.created_by),
            created_at: from_ts(row.created_at),
            expires_at: from_ts(row.expires_at),
            // A negative maximum must not read as "unlimited".
            max_uses: row
                .max_uses
                .map(|max| count("invite's maximum uses", max))
                .transpose()?,
            uses: count("invite's uses", row.uses)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    group_id: Uuid,
    version: i64,
    subject_id: Uuid,
    kind: String,
}

impl TryFrom<ChangeRow> for Change {
    type Error = Error;

    fn try_from(row: ChangeRow) -> Result<Self> {
        Ok(Change {
            group_id: GroupId(row.group_id),
            version: row.version,
            subject: AccountId(row.subject_id),
            kind: match row.kind.as_str() {
                "upsert" => ChangeKind::Upsert,
                "remove" => ChangeKind::Remove,
                other => return Err(corrupt("change kind", other)),
            },
        })
    }
}

/// How a change's kind is stored.
pub(super) fn change_kind_str(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Upsert => "upsert",
        ChangeKind::Remove => "remove",
    }
}

pub(super) const GROUP_COLUMNS: &str =
    "id, name, description, owner_id, join_policy, member_limit, active_count, version, floor, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct PushRow {
    id: Uuid,
    terminal_id: Uuid,
    account_id: Uuid,
    book: String,
    push_resource: String,
    public_key: Vec<u8>,
    auth_secret: Vec<u8>,
    expires_at: i64,
}

impl PushRow {
    /// The registration; `None` for a book key this build does not know.
    pub(super) fn registration(self) -> Option<PushRegistration> {
        Some(PushRegistration {
            id: RegistrationId(self.id),
            terminal_id: TerminalId(self.terminal_id),
            account_id: AccountId(self.account_id),
            book: Book::from_key(&self.book)?,
            subscription: Subscription {
                push_resource: self.push_resource,
                public_key: self.public_key,
                auth_secret: self.auth_secret,
            },
            expires_at: from_ts(self.expires_at),
        })
    }
}
