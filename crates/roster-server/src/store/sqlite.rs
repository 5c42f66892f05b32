//! The embedded SQLite store, the default.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions: SQLite has one writer, and taking the write
//! lock up front avoids deadlocking two readers that both try to upgrade.

use super::{Joining, Store};
use crate::domain::card::Card;
use crate::domain::contacts::Book;
use crate::domain::ids::{AccountId, GroupId, InviteId, RegistrationId, TerminalId};
use crate::domain::model::{
    Account, AccountAuth, Change, ChangeKind, Counts, DirectorySearch, Group, GroupUpdate, Invite, MemberCard,
    MemberRow, Membership, NewTerminal, StoredCard, Terminal,
};
use crate::domain::push::{PushRegistration, Subscription};
use crate::domain::share_policy::ShareFields;
use crate::domain::{Error, Result};
use anyhow::Context;
use async_trait::async_trait;
use roster_proto::api::{JoinPolicy, MembershipState, Role, TerminalKind};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
}

impl SqliteStore {
    /// Active members (not `viewer`) after `after` with a phone search key starting with
    /// `digits`, in account order, at most `limit`.
    async fn phone_prefix_page(
        &self,
        group: GroupId,
        viewer: AccountId,
        after: Option<AccountId>,
        limit: u32,
        digits: &str,
    ) -> Result<Vec<MemberCard>> {
        // Walk the matching key range only (':' sorts right after '9'). CROSS JOIN makes
        // SQLite keep the key range as the outer loop instead of scanning the group in
        // account order to satisfy ORDER BY.
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT DISTINCT m.account_id, m.state, m.share, c.card FROM card_phone_keys k \
             CROSS JOIN memberships m ON m.group_id = ?1 AND m.account_id = k.account_id \
             CROSS JOIN cards c ON c.account_id = k.account_id \
             WHERE k.key >= ?4 AND k.key < ?4 || ':' AND m.state = 'active' \
             AND m.account_id != ?2 AND m.account_id > ?3 \
             ORDER BY m.account_id LIMIT ?5",
        )
        .bind(group.0)
        .bind(viewer.0)
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(digits)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid SQLite URL {url}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the SQLite database {url}"))?;
        MIGRATOR
            .run(&pool)
            .await
            .context("cannot migrate the SQLite database")?;
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for operations tooling and tests (pragmas, checks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(super) async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(internal)
    }
}

/// SQLite result codes (primary) that mean "cannot write now", not "broken": the disk or the
/// database's size limit is full, or the database is read-only. Reads still work.
const SQLITE_READONLY: i64 = 8;
const SQLITE_FULL: i64 = 13;
/// How soon a write refused for want of space may be tried again.
const FULL_RETRY: Duration = Duration::from_secs(60);

/// A database error as a domain error, by kind: storage that cannot take writes is
/// `Unavailable` (503, the service resumes by itself once space returns); the rest is internal.
pub(super) fn internal(e: sqlx::Error) -> Error {
    let primary = match &e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .map(|code| code & 0xff),
        _ => None,
    };
    if let Some(code @ (SQLITE_READONLY | SQLITE_FULL)) = primary {
        tracing::error!(error = %e, code, "the database refuses writes (disk full or read-only)");
        return Error::Unavailable {
            reason: "the server cannot store changes right now (storage full or read-only)",
            retry_after: FULL_RETRY,
        };
    }
    Error::Internal(anyhow::Error::new(e).context("SQLite"))
}

pub(super) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(super) fn from_ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// A stored value that no version of Roster writes: the database was changed by hand or is
/// damaged. Refused rather than read as some valid value.
fn corrupt(what: &str, value: &str) -> Error {
    Error::Internal(anyhow::anyhow!("the database holds an unknown {what}: `{value}`"))
}

fn parse_role(s: &str) -> Result<Role> {
    match s {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(corrupt("role", other)),
    }
}

fn state_str(state: MembershipState) -> &'static str {
    match state {
        MembershipState::Pending => "pending",
        MembershipState::Active => "active",
        MembershipState::Left => "left",
        MembershipState::Removed => "removed",
    }
}

fn parse_state(s: &str) -> Result<MembershipState> {
    match s {
        "pending" => Ok(MembershipState::Pending),
        "active" => Ok(MembershipState::Active),
        "left" => Ok(MembershipState::Left),
        "removed" => Ok(MembershipState::Removed),
        other => Err(corrupt("membership state", other)),
    }
}

fn policy_str(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::InviteOnly => "invite_only",
        JoinPolicy::Approval => "approval",
        JoinPolicy::OpenWithLink => "open_with_link",
    }
}

fn parse_policy(s: &str) -> Result<JoinPolicy> {
    match s {
        "invite_only" => Ok(JoinPolicy::InviteOnly),
        "approval" => Ok(JoinPolicy::Approval),
        "open_with_link" => Ok(JoinPolicy::OpenWithLink),
        other => Err(corrupt("join policy", other)),
    }
}

fn kind_str(kind: TerminalKind) -> &'static str {
    match kind {
        TerminalKind::Session => "session",
        TerminalKind::AppPassword => "app_password",
        TerminalKind::Web => "web",
    }
}

fn parse_card(json: &str) -> Result<Card> {
    serde_json::from_str(json).map_err(|e| Error::Internal(anyhow::Error::new(e).context("stored card is corrupt")))
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: Uuid,
    login: String,
    display_name: String,
    password_hash: String,
    created_at: i64,
}

impl AccountRow {
    fn account(&self) -> Account {
        Account {
            id: AccountId(self.id),
            login: self.login.clone(),
            display_name: self.display_name.clone(),
            created_at: from_ts(self.created_at),
        }
    }

    fn auth(self) -> AccountAuth {
        AccountAuth {
            account: self.account(),
            password_hash: self.password_hash,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TerminalRow {
    id: Uuid,
    account_id: Uuid,
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
struct GroupRow {
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
            member_limit: u32::try_from(row.member_limit).unwrap_or(u32::MAX),
            version: row.version,
            floor: row.floor,
            member_count: u64::try_from(row.active_count).unwrap_or(0),
            created_at: from_ts(row.created_at),
        })
    }
}

/// A group and one account's membership in it, read together.
#[derive(sqlx::FromRow)]
struct GroupMembershipRow {
    #[sqlx(flatten)]
    group: GroupRow,
    #[sqlx(flatten)]
    membership: MembershipRow,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
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
struct MemberCardRow {
    account_id: Uuid,
    state: String,
    share: i64,
    card: Option<String>,
}

impl MemberCardRow {
    fn into_member_card(self) -> Result<MemberCard> {
        Ok(MemberCard {
            account_id: AccountId(self.account_id),
            state: parse_state(&self.state)?,
            share: ShareFields::from_bits(self.share),
            card: self.card.as_deref().map(parse_card).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: Uuid,
    group_id: Uuid,
    created_by: Uuid,
    created_at: i64,
    expires_at: i64,
    max_uses: Option<i64>,
    uses: i64,
}

impl From<InviteRow> for Invite {
    fn from(row: InviteRow) -> Self {
        Invite {
            id: InviteId(row.id),
            group_id: GroupId(row.group_id),
            created_by: AccountId(row.created_by),
            created_at: from_ts(row.created_at),
            expires_at: from_ts(row.expires_at),
            max_uses: row.max_uses.and_then(|m| u32::try_from(m).ok()),
            uses: u32::try_from(row.uses).unwrap_or(u32::MAX),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    group_id: Uuid,
    version: i64,
    subject_id: Uuid,
    kind: String,
}

impl From<ChangeRow> for Change {
    fn from(row: ChangeRow) -> Self {
        Change {
            group_id: GroupId(row.group_id),
            version: row.version,
            subject: AccountId(row.subject_id),
            kind: if row.kind == "remove" {
                ChangeKind::Remove
            } else {
                ChangeKind::Upsert
            },
        }
    }
}

const GROUP_COLUMNS: &str =
    "id, name, description, owner_id, join_policy, member_limit, active_count, version, floor, created_at";

/// Appends one change to a group's log, taking the next version: the caller's transaction
/// holds the write lock, so versions stay gap-free.
async fn append(
    conn: &mut SqliteConnection,
    group: GroupId,
    subject: AccountId,
    kind: ChangeKind,
    at: OffsetDateTime,
) -> Result<Change> {
    let version: i64 = sqlx::query_scalar("UPDATE groups SET version = version + 1 WHERE id = ? RETURNING version")
        .bind(group.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    sqlx::query("INSERT INTO changes (group_id, version, subject_id, kind, at) VALUES (?, ?, ?, ?, ?)")
        .bind(group.0)
        .bind(version)
        .bind(subject.0)
        .bind(match kind {
            ChangeKind::Upsert => "upsert",
            ChangeKind::Remove => "remove",
        })
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(Change {
        group_id: group,
        version,
        subject,
        kind,
    })
}

async fn membership_in(conn: &mut SqliteConnection, group: GroupId, account: AccountId) -> Result<Option<Membership>> {
    let row: Option<MembershipRow> = sqlx::query_as(
        "SELECT group_id, account_id, role, state, share, updated_at FROM memberships \
         WHERE group_id = ? AND account_id = ?",
    )
    .bind(group.0)
    .bind(account.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?;
    row.map(Membership::try_from).transpose()
}

/// Checks that one more active member fits, and counts it.
async fn admit_one(conn: &mut SqliteConnection, group: GroupId) -> Result<()> {
    let admitted =
        sqlx::query("UPDATE groups SET active_count = active_count + 1 WHERE id = ? AND active_count < member_limit")
            .bind(group.0)
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
    if admitted.rows_affected() == 0 {
        return Err(Error::Conflict("the group has reached its member limit".into()));
    }
    Ok(())
}

async fn set_state(
    conn: &mut SqliteConnection,
    group: GroupId,
    account: AccountId,
    state: MembershipState,
    at: OffsetDateTime,
) -> Result<()> {
    sqlx::query("UPDATE memberships SET state = ?, updated_at = ? WHERE group_id = ? AND account_id = ?")
        .bind(state_str(state))
        .bind(ts(at))
        .bind(group.0)
        .bind(account.0)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// Stores a new account; `Conflict` when the login is taken.
pub(super) async fn insert_account(conn: &mut SqliteConnection, account: &Account, password_hash: &str) -> Result<()> {
    let result =
        sqlx::query("INSERT INTO accounts (id, login, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(account.id.0)
            .bind(&account.login)
            .bind(&account.display_name)
            .bind(password_hash)
            .bind(ts(account.created_at))
            .execute(&mut *conn)
            .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(Error::Conflict(format!("the login `{}` is taken", account.login)))
        }
        Err(e) => Err(internal(e)),
    }
}

/// Remembers the version at which a membership became active.
async fn mark_joined(conn: &mut SqliteConnection, change: &Change) -> Result<()> {
    sqlx::query("UPDATE memberships SET joined_version = ? WHERE group_id = ? AND account_id = ?")
        .bind(change.version)
        .bind(change.group_id.0)
        .bind(change.subject.0)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// Records a join inside a write transaction (see [`Store::join`]).
pub(super) async fn join_in(tx: &mut SqliteConnection, joining: &Joining) -> Result<Vec<Change>> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM groups WHERE id = ?")
        .bind(joining.group_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
    if exists.is_none() {
        return Err(Error::NotFound("group"));
    }
    let existing = membership_in(tx, joining.group_id, joining.account_id).await?;
    match existing.as_ref().map(|m| m.state) {
        Some(MembershipState::Active) => {
            return Err(Error::Conflict("already a member of this group".into()));
        }
        Some(MembershipState::Pending) if joining.state == MembershipState::Pending => {
            return Err(Error::Conflict("a request to join is already pending".into()));
        }
        _ => {}
    }
    if let Some(invite) = joining.invite {
        let row: Option<InviteRow> = sqlx::query_as(
            "SELECT id, group_id, created_by, created_at, expires_at, max_uses, uses FROM invites \
             WHERE id = ? AND group_id = ? AND revoked_at IS NULL",
        )
        .bind(invite.0)
        .bind(joining.group_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        match row.map(Invite::from) {
            Some(invite) if invite.usable(joining.at) => {}
            Some(_) => return Err(Error::Conflict("the invite has expired or been used up".into())),
            None => return Err(Error::NotFound("invite")),
        }
        sqlx::query("UPDATE invites SET uses = uses + 1 WHERE id = ?")
            .bind(invite.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    if joining.state == MembershipState::Active {
        admit_one(tx, joining.group_id).await?;
    }
    sqlx::query(
        "INSERT INTO memberships (group_id, account_id, role, state, share, updated_at) \
         VALUES (?, ?, 'member', ?, ?, ?) \
         ON CONFLICT (group_id, account_id) DO UPDATE SET role = 'member', state = excluded.state, \
         share = excluded.share, updated_at = excluded.updated_at",
    )
    .bind(joining.group_id.0)
    .bind(joining.account_id.0)
    .bind(state_str(joining.state))
    .bind(joining.share.bits())
    .bind(ts(joining.at))
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    let mut changes = Vec::new();
    if joining.state == MembershipState::Active {
        let change = append(tx, joining.group_id, joining.account_id, ChangeKind::Upsert, joining.at).await?;
        mark_joined(tx, &change).await?;
        changes.push(change);
    }
    Ok(changes)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, account: &Account, password_hash: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        insert_account(&mut conn, account, password_hash).await
    }

    async fn account_auth(&self, login: &str) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE login = ?")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn account_auth_by_id(&self, id: AccountId) -> Result<Option<AccountAuth>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(AccountRow::auth))
    }

    async fn set_display_name(&self, id: AccountId, display_name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE accounts SET display_name = ? WHERE id = ?")
            .bind(display_name)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_account(&self, id: AccountId, at: OffsetDateTime) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        let owned: Vec<(Uuid, String, i64)> =
            sqlx::query_as("SELECT id, name, active_count FROM groups WHERE owner_id = ?")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(internal)?;
        if let Some((_, name, _)) = owned.iter().find(|(_, _, count)| *count > 1) {
            return Err(Error::Conflict(format!(
                "the account owns the group `{name}`, which has other members: transfer or delete it first"
            )));
        }
        for (group, _, _) in &owned {
            sqlx::query("DELETE FROM groups WHERE id = ?")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let active: Vec<Uuid> =
            sqlx::query_scalar("SELECT group_id FROM memberships WHERE account_id = ? AND state = 'active'")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(internal)?;
        let mut changes = Vec::with_capacity(active.len());
        for group in active {
            sqlx::query("UPDATE groups SET active_count = active_count - 1 WHERE id = ?")
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            changes.push(append(&mut tx, GroupId(group), id, ChangeKind::Remove, at).await?);
        }
        sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn create_terminal(&self, new: &NewTerminal) -> Result<()> {
        let t = &new.terminal;
        sqlx::query(
            "INSERT INTO terminals (id, account_id, name, kind, token_hash, created_at, last_seen_at, group_books) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id.0)
        .bind(t.account_id.0)
        .bind(&t.name)
        .bind(kind_str(t.kind))
        .bind(&new.token_hash)
        .bind(ts(t.created_at))
        .bind(t.last_seen_at.map(ts))
        .bind(t.group_books)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<(Account, Terminal)>> {
        let Some(terminal): Option<TerminalRow> =
            sqlx::query_as(select_terminals!("WHERE token_hash = ? AND revoked_at IS NULL"))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?
        else {
            return Ok(None);
        };
        let account: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(terminal.account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        account
            .map(|a| Ok((a.account(), Terminal::try_from(terminal)?)))
            .transpose()
    }

    async fn touch_terminal(&self, id: TerminalId, at: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE terminals SET last_seen_at = ? WHERE id = ?")
            .bind(ts(at))
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn terminals(&self, account: AccountId) -> Result<Vec<Terminal>> {
        let rows: Vec<TerminalRow> = sqlx::query_as(select_terminals!(
            "WHERE account_id = ? AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(Terminal::try_from).collect()
    }

    async fn set_terminal_group_books(&self, account: AccountId, id: TerminalId, listed: Option<bool>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE terminals SET group_books = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL")
                .bind(listed)
                .bind(id.0)
                .bind(account.0)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn note_terminal_client(&self, id: TerminalId, client: &str) -> Result<()> {
        sqlx::query("UPDATE terminals SET client = ? WHERE id = ? AND client IS NULL")
            .bind(client)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn revoke_terminal(&self, account: AccountId, id: TerminalId, at: OffsetDateTime) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("UPDATE terminals SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(id.0)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        sqlx::query("DELETE FROM push_registrations WHERE terminal_id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn card(&self, account: AccountId) -> Result<Option<StoredCard>> {
        let row: Option<(String, i64, i64)> =
            sqlx::query_as("SELECT card, revision, updated_at FROM cards WHERE account_id = ?")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        row.map(|(card, revision, updated_at)| {
            Ok(StoredCard {
                card: parse_card(&card)?,
                revision,
                updated_at: from_ts(updated_at),
            })
        })
        .transpose()
    }

    async fn cards_page(&self, after: Option<AccountId>, limit: u32) -> Result<Vec<(AccountId, StoredCard)>> {
        let rows: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
            "SELECT account_id, card, revision, updated_at FROM cards WHERE account_id > ? \
             ORDER BY account_id LIMIT ?",
        )
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|(account, card, revision, updated_at)| {
                Ok((
                    AccountId(account),
                    StoredCard {
                        card: parse_card(&card)?,
                        revision,
                        updated_at: from_ts(updated_at),
                    },
                ))
            })
            .collect()
    }

    async fn set_card(
        &self,
        account: AccountId,
        card: &Card,
        expected_revision: i64,
        changed: ShareFields,
        at: OffsetDateTime,
    ) -> Result<(i64, Vec<Change>)> {
        let json = serde_json::to_string(card).map_err(|e| Error::Internal(e.into()))?;
        let mut tx = self.write().await?;
        let current: i64 = sqlx::query_scalar("SELECT revision FROM cards WHERE account_id = ?")
            .bind(account.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?
            .unwrap_or(0);
        if current != expected_revision {
            return Err(Error::Conflict("the card was changed meanwhile; read it again".into()));
        }
        let revision = current + 1;
        sqlx::query(
            "INSERT INTO cards (account_id, card, revision, search_name, phone_keys, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET card = excluded.card, revision = excluded.revision, \
             search_name = excluded.search_name, phone_keys = excluded.phone_keys, updated_at = excluded.updated_at",
        )
        .bind(account.0)
        .bind(&json)
        .bind(revision)
        .bind(card.search_name())
        .bind(card.phone_keys())
        .bind(ts(at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM card_phone_keys WHERE account_id = ?")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        for key in card.phones.iter().flat_map(|p| p.number.search_keys()) {
            sqlx::query("INSERT OR IGNORE INTO card_phone_keys (key, account_id) VALUES (?, ?)")
                .bind(key)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        let groups: Vec<Uuid> = sqlx::query_scalar(
            "SELECT group_id FROM memberships WHERE account_id = ? AND state = 'active' AND (share & ?) != 0",
        )
        .bind(account.0)
        .bind(changed.bits())
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        let mut changes = Vec::with_capacity(groups.len());
        for group in groups {
            changes.push(append(&mut tx, GroupId(group), account, ChangeKind::Upsert, at).await?);
        }
        tx.commit().await.map_err(internal)?;
        Ok((revision, changes))
    }

    async fn create_group(&self, group: &Group, owner_share: ShareFields) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO groups (id, name, description, owner_id, join_policy, member_limit, active_count, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
        )
        .bind(group.id.0)
        .bind(&group.name)
        .bind(&group.description)
        .bind(group.owner_id.0)
        .bind(policy_str(group.join_policy))
        .bind(i64::from(group.member_limit))
        .bind(ts(group.created_at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query(
            "INSERT INTO memberships (group_id, account_id, role, state, share, updated_at) \
             VALUES (?, ?, 'owner', 'active', ?, ?)",
        )
        .bind(group.id.0)
        .bind(group.owner_id.0)
        .bind(owner_share.bits())
        .bind(ts(group.created_at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        let change = append(&mut tx, group.id, group.owner_id, ChangeKind::Upsert, group.created_at).await?;
        tx.commit().await.map_err(internal)?;
        Ok(vec![change])
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        let row: Option<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE id = ?"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(Group::try_from).transpose()
    }

    async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Result<()> {
        let mut tx = self.write().await?;
        if let Some(limit) = update.member_limit {
            let count: Option<i64> = sqlx::query_scalar("SELECT active_count FROM groups WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
            if count.is_some_and(|c| c > i64::from(limit)) {
                return Err(Error::Conflict(
                    "the group has more active members than the new limit".into(),
                ));
            }
        }
        sqlx::query(
            "UPDATE groups SET name = COALESCE(?, name), description = COALESCE(?, description), \
             join_policy = COALESCE(?, join_policy), member_limit = COALESCE(?, member_limit) WHERE id = ?",
        )
        .bind(update.name.as_deref())
        .bind(update.description.as_deref())
        .bind(update.join_policy.map(policy_str))
        .bind(update.member_limit.map(i64::from))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn delete_group(&self, id: GroupId) -> Result<Vec<AccountId>> {
        let mut tx = self.write().await?;
        let members: Vec<Uuid> = sqlx::query_scalar(
            "SELECT account_id FROM memberships WHERE group_id = ? AND state IN ('active', 'pending')",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM groups WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(members.into_iter().map(AccountId).collect())
    }

    async fn groups_of(&self, account: AccountId) -> Result<Vec<(Group, Membership)>> {
        // One query, not one per group: every CardDAV request of the merged book reads this.
        let rows: Vec<GroupMembershipRow> = sqlx::query_as(
            "SELECT g.id, g.name, g.description, g.owner_id, g.join_policy, g.member_limit, g.active_count, \
                    g.version, g.floor, g.created_at, \
                    m.group_id, m.account_id, m.role, m.state, m.share, m.updated_at \
             FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.account_id = ? AND m.state IN ('active', 'pending') ORDER BY m.group_id",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|row| Ok((Group::try_from(row.group)?, Membership::try_from(row.membership)?)))
            .collect()
    }

    async fn joined_version(&self, group: GroupId, account: AccountId) -> Result<i64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT joined_version FROM memberships WHERE group_id = ? AND account_id = ?")
                .bind(group.0)
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(version.unwrap_or(0))
    }

    async fn membership(&self, group: GroupId, account: AccountId) -> Result<Option<Membership>> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        membership_in(&mut conn, group, account).await
    }

    async fn members(&self, group: GroupId) -> Result<Vec<MemberRow>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            membership: MembershipRow,
            display_name: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT m.group_id, m.account_id, m.role, m.state, m.share, m.updated_at, a.display_name \
             FROM memberships m JOIN accounts a ON a.id = m.account_id \
             WHERE m.group_id = ? AND m.state IN ('active', 'pending') ORDER BY m.account_id",
        )
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|r| {
                Ok(MemberRow {
                    membership: r.membership.try_into()?,
                    display_name: r.display_name,
                })
            })
            .collect()
    }

    async fn join(&self, joining: &Joining) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        let changes = join_in(&mut tx, joining).await?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn activate_member(&self, group: GroupId, account: AccountId, at: OffsetDateTime) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        match membership_in(&mut tx, group, account).await?.map(|m| m.state) {
            Some(MembershipState::Pending) => {}
            Some(MembershipState::Active) => return Err(Error::Conflict("already an active member".into())),
            _ => return Err(Error::NotFound("join request")),
        }
        admit_one(&mut tx, group).await?;
        set_state(&mut tx, group, account, MembershipState::Active, at).await?;
        let change = append(&mut tx, group, account, ChangeKind::Upsert, at).await?;
        mark_joined(&mut tx, &change).await?;
        tx.commit().await.map_err(internal)?;
        Ok(vec![change])
    }

    async fn end_membership(
        &self,
        group: GroupId,
        account: AccountId,
        state: MembershipState,
        at: OffsetDateTime,
    ) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        let Some(current) = membership_in(&mut tx, group, account).await? else {
            return Err(Error::NotFound("member"));
        };
        if !matches!(current.state, MembershipState::Active | MembershipState::Pending) {
            return Err(Error::NotFound("member"));
        }
        if current.role == Role::Owner {
            return Err(Error::Conflict(
                "the owner cannot leave: transfer ownership or delete the group".into(),
            ));
        }
        set_state(&mut tx, group, account, state, at).await?;
        sqlx::query("UPDATE memberships SET role = 'member' WHERE group_id = ? AND account_id = ?")
            .bind(group.0)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let mut changes = Vec::new();
        if current.is_active() {
            sqlx::query("UPDATE groups SET active_count = active_count - 1 WHERE id = ?")
                .bind(group.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            changes.push(append(&mut tx, group, account, ChangeKind::Remove, at).await?);
        }
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn set_share(
        &self,
        group: GroupId,
        account: AccountId,
        share: ShareFields,
        at: OffsetDateTime,
    ) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        let Some(current) = membership_in(&mut tx, group, account).await? else {
            return Err(Error::NotFound("group"));
        };
        if current.share == share {
            return Ok(Vec::new());
        }
        sqlx::query("UPDATE memberships SET share = ? WHERE group_id = ? AND account_id = ?")
            .bind(share.bits())
            .bind(group.0)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let mut changes = Vec::new();
        if current.is_active() {
            changes.push(append(&mut tx, group, account, ChangeKind::Upsert, at).await?);
        }
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn set_role(&self, group: GroupId, account: AccountId, role: Role) -> Result<()> {
        let done = sqlx::query(
            "UPDATE memberships SET role = ? WHERE group_id = ? AND account_id = ? \
             AND state = 'active' AND role != 'owner'",
        )
        .bind(role_str(role))
        .bind(group.0)
        .bind(account.0)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("member"));
        }
        Ok(())
    }

    async fn transfer_ownership(&self, group: GroupId, from: AccountId, to: AccountId) -> Result<()> {
        let mut tx = self.write().await?;
        let target = membership_in(&mut tx, group, to).await?;
        if !target.is_some_and(|m| m.is_active()) {
            return Err(Error::NotFound("member"));
        }
        let owner = sqlx::query("UPDATE groups SET owner_id = ? WHERE id = ? AND owner_id = ?")
            .bind(to.0)
            .bind(group.0)
            .bind(from.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        if owner.rows_affected() == 0 {
            return Err(Error::Conflict("only the owner can transfer the group".into()));
        }
        for (account, role) in [(from, Role::Admin), (to, Role::Owner)] {
            sqlx::query("UPDATE memberships SET role = ? WHERE group_id = ? AND account_id = ?")
                .bind(role_str(role))
                .bind(group.0)
                .bind(account.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn create_invite(&self, invite: &Invite, code_hash: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (id, group_id, code_hash, created_by, created_at, expires_at, max_uses) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(invite.id.0)
        .bind(invite.group_id.0)
        .bind(code_hash)
        .bind(invite.created_by.0)
        .bind(ts(invite.created_at))
        .bind(ts(invite.expires_at))
        .bind(invite.max_uses.map(i64::from))
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn invite_by_code(&self, code_hash: &[u8]) -> Result<Option<Invite>> {
        let row: Option<InviteRow> = sqlx::query_as(
            "SELECT id, group_id, created_by, created_at, expires_at, max_uses, uses FROM invites \
             WHERE code_hash = ? AND revoked_at IS NULL",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(Invite::from))
    }

    async fn invites(&self, group: GroupId) -> Result<Vec<Invite>> {
        let rows: Vec<InviteRow> = sqlx::query_as(
            "SELECT id, group_id, created_by, created_at, expires_at, max_uses, uses FROM invites \
             WHERE group_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows.into_iter().map(Invite::from).collect())
    }

    async fn revoke_invite(&self, group: GroupId, id: InviteId, at: OffsetDateTime) -> Result<bool> {
        let done =
            sqlx::query("UPDATE invites SET revoked_at = ? WHERE id = ? AND group_id = ? AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(id.0)
                .bind(group.0)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn directory_page(
        &self,
        group: GroupId,
        viewer: AccountId,
        after: Option<AccountId>,
        limit: u32,
        search: &DirectorySearch,
    ) -> Result<Vec<MemberCard>> {
        if let DirectorySearch::PhonePrefixes(prefixes) = search {
            // Each reading of the search text walks its own key range; the pages are merged in
            // account order. A search has a handful of readings at most.
            let mut found: Vec<MemberCard> = Vec::new();
            for prefix in prefixes {
                for card in self.phone_prefix_page(group, viewer, after, limit, prefix).await? {
                    if !found.iter().any(|f| f.account_id == card.account_id) {
                        found.push(card);
                    }
                }
            }
            found.sort_by_key(|card| card.account_id);
            found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            return Ok(found);
        }
        let name = match search {
            DirectorySearch::Name(text) => Some(format!("%{}%", escape_like(text))),
            _ => None,
        };
        let rows: Vec<MemberCardRow> = sqlx::query_as(
            "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
             LEFT JOIN cards c ON c.account_id = m.account_id \
             WHERE m.group_id = ?1 AND m.state = 'active' AND m.account_id != ?2 AND m.account_id > ?3 \
             AND (?4 IS NULL OR c.search_name LIKE ?4 ESCAPE '\\') \
             ORDER BY m.account_id LIMIT ?5",
        )
        .bind(group.0)
        .bind(viewer.0)
        .bind(after.map_or(Uuid::nil(), |a| a.0))
        .bind(name)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(MemberCardRow::into_member_card).collect()
    }

    async fn changes_since(&self, group: GroupId, since: i64, limit: u32) -> Result<Vec<Change>> {
        let rows: Vec<ChangeRow> = sqlx::query_as(
            "SELECT group_id, version, subject_id, kind FROM changes \
             WHERE group_id = ? AND version > ? ORDER BY version LIMIT ?",
        )
        .bind(group.0)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows.into_iter().map(Change::from).collect())
    }

    async fn member_cards(&self, group: GroupId, subjects: &[AccountId]) -> Result<Vec<MemberCard>> {
        let mut out = Vec::with_capacity(subjects.len());
        // SQLite allows 32766 bound parameters; stay well below.
        for chunk in subjects.chunks(500) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT m.account_id, m.state, m.share, c.card FROM memberships m \
                 LEFT JOIN cards c ON c.account_id = m.account_id WHERE m.group_id = ",
            );
            query.push_bind(group.0).push(" AND m.account_id IN (");
            let mut ids = query.separated(", ");
            for subject in chunk {
                ids.push_bind(subject.0);
            }
            query.push(")");
            let rows: Vec<MemberCardRow> = query.build_query_as().fetch_all(&self.pool).await.map_err(internal)?;
            for row in rows {
                out.push(row.into_member_card()?);
            }
        }
        Ok(out)
    }

    async fn list_group_books(&self, account: AccountId) -> Result<bool> {
        let list: Option<bool> =
            sqlx::query_scalar("SELECT list_group_books FROM directory_settings WHERE account_id = ?")
                .bind(account.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(list.unwrap_or(false))
    }

    async fn set_list_group_books(&self, account: AccountId, list: bool) -> Result<()> {
        sqlx::query(
            "INSERT INTO directory_settings (account_id, list_group_books) VALUES (?1, ?2) \
             ON CONFLICT (account_id) DO UPDATE SET list_group_books = ?2",
        )
        .bind(account.0)
        .bind(list)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn create_ticket(&self, ticket_hash: &[u8], terminal: TerminalId, expires_at: OffsetDateTime) -> Result<()> {
        sqlx::query("INSERT INTO stream_tickets (ticket_hash, terminal_id, expires_at) VALUES (?, ?, ?)")
            .bind(ticket_hash)
            .bind(terminal.0)
            .bind(ts(expires_at))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn redeem_ticket(&self, ticket_hash: &[u8], now: OffsetDateTime) -> Result<Option<(Account, Terminal)>> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM stream_tickets WHERE expires_at <= ?")
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let terminal: Option<Uuid> =
            sqlx::query_scalar("DELETE FROM stream_tickets WHERE ticket_hash = ? RETURNING terminal_id")
                .bind(ticket_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let Some(terminal) = terminal else {
            return Ok(None);
        };
        let row: Option<TerminalRow> = sqlx::query_as(select_terminals!("WHERE id = ? AND revoked_at IS NULL"))
            .bind(terminal)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let account: Option<AccountRow> = sqlx::query_as("SELECT * FROM accounts WHERE id = ?")
            .bind(row.account_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        account.map(|a| Ok((a.account(), Terminal::try_from(row)?))).transpose()
    }

    async fn compact_log(&self, keep_versions: i64, before: OffsetDateTime) -> Result<u64> {
        let groups: Vec<(Uuid, i64, i64)> =
            sqlx::query_as("SELECT id, version, floor FROM groups WHERE version - floor > ?")
                .bind(keep_versions.max(0))
                .fetch_all(&self.pool)
                .await
                .map_err(internal)?;
        let mut dropped = 0;
        for (group, version, floor) in groups {
            let mut tx = self.write().await?;
            let new_floor: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM changes WHERE group_id = ? AND version <= ? AND at <= ?")
                    .bind(group)
                    .bind(version - keep_versions.max(0))
                    .bind(ts(before))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(internal)?;
            let Some(new_floor) = new_floor.filter(|f| *f > floor) else {
                continue;
            };
            let done = sqlx::query("DELETE FROM changes WHERE group_id = ? AND version <= ?")
                .bind(group)
                .bind(new_floor)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            sqlx::query("UPDATE groups SET floor = ? WHERE id = ?")
                .bind(new_floor)
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            dropped += done.rows_affected();
        }
        Ok(dropped)
    }

    async fn upsert_push_registration(
        &self,
        registration: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>> {
        let r = registration;
        let book = r.book.key();
        let mut tx = self.write().await?;
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM push_registrations WHERE account_id = ? AND book = ? AND push_resource = ?",
        )
        .bind(r.account_id.0)
        .bind(&book)
        .bind(&r.subscription.push_resource)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        if let Some(id) = existing {
            sqlx::query(
                "UPDATE push_registrations SET terminal_id = ?, public_key = ?, auth_secret = ?, expires_at = ? \
                 WHERE id = ?",
            )
            .bind(r.terminal_id.0)
            .bind(&r.subscription.public_key)
            .bind(&r.subscription.auth_secret)
            .bind(ts(r.expires_at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            return Ok(Some((RegistrationId(id), false)));
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM push_registrations WHERE account_id = ?")
            .bind(r.account_id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        if held >= i64::from(max_per_account) {
            return Ok(None);
        }
        let group = match r.book {
            Book::Group(id) => Some(id.0),
            Book::Contacts | Book::Me => None,
        };
        sqlx::query(
            "INSERT INTO push_registrations (id, terminal_id, account_id, book, group_id, push_resource, \
             public_key, auth_secret, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.0)
        .bind(r.terminal_id.0)
        .bind(r.account_id.0)
        .bind(&book)
        .bind(group)
        .bind(&r.subscription.push_resource)
        .bind(&r.subscription.public_key)
        .bind(&r.subscription.auth_secret)
        .bind(ts(at))
        .bind(ts(r.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Some((r.id, true)))
    }

    async fn push_registration(&self, id: RegistrationId) -> Result<Option<PushRegistration>> {
        let row: Option<PushRow> = sqlx::query_as(
            "SELECT id, terminal_id, account_id, book, push_resource, public_key, auth_secret, expires_at \
             FROM push_registrations WHERE id = ?",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.and_then(PushRow::registration))
    }

    async fn delete_push_registration(&self, account: Option<AccountId>, id: RegistrationId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE id = ? AND (? IS NULL OR account_id = ?)")
            .bind(id.0)
            .bind(account.map(|a| a.0))
            .bind(account.map(|a| a.0))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_registrations_for_group(&self, group: GroupId) -> Result<Vec<RegistrationId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT r.id FROM push_registrations r \
             JOIN memberships m ON m.account_id = r.account_id AND m.group_id = ? AND m.state = 'active' \
             WHERE r.book = 'contacts' OR r.group_id = m.group_id",
        )
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(ids.into_iter().map(RegistrationId).collect())
    }

    async fn push_registrations_of(
        &self,
        account: AccountId,
        books: &[Book],
    ) -> Result<Vec<(RegistrationId, TerminalId)>> {
        let mut query =
            QueryBuilder::<Sqlite>::new("SELECT id, terminal_id FROM push_registrations WHERE account_id = ");
        query.push_bind(account.0).push(" AND book IN (");
        let mut keys = query.separated(", ");
        for book in books {
            keys.push_bind(book.key());
        }
        query.push(")");
        let rows: Vec<(Uuid, Uuid)> = query.build_query_as().fetch_all(&self.pool).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, terminal)| (RegistrationId(id), TerminalId(terminal)))
            .collect())
    }

    async fn purge_push_registrations(&self, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE expires_at <= ?")
            .bind(ts(now))
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(done.rows_affected())
    }

    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        sqlx::query("INSERT OR IGNORE INTO server_keys (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(internal)
    }

    async fn server_value(&self, name: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)
    }

    async fn set_server_value(&self, name: &str, value: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(internal)?;
        Ok(())
    }

    async fn counts(&self) -> Result<Counts> {
        let (accounts, groups, terminals): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM groups), \
             (SELECT COUNT(*) FROM terminals WHERE revoked_at IS NULL)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        Ok(Counts {
            accounts: u64::try_from(accounts).unwrap_or(0),
            groups: u64::try_from(groups).unwrap_or(0),
            terminals: u64::try_from(terminals).unwrap_or(0),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PushRow {
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
    fn registration(self) -> Option<PushRegistration> {
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

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
