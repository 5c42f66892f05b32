//! [`GroupStore`] on SQLite: groups, memberships and invites, with the member limit and
//! invite uses counted in the transaction that admits a member.

use super::{SqliteStore, append, internal};
use crate::domain::Result;
use crate::domain::ids::{AccountId, GroupId, InviteId};
use crate::domain::model::{Change, ChangeKind, Group, GroupUpdate, Invite, Joining, MemberRow, Membership};
use crate::domain::ports::{GroupStore, Refusable, Refusal};
use crate::domain::share_policy::ShareFields;
use crate::store::rows::{
    GROUP_COLUMNS, GroupMembershipRow, GroupRow, InviteRow, MembershipRow, policy_str, role_str, state_str, ts,
};
use async_trait::async_trait;
use roster_proto::api::{MembershipState, Role};
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// One membership, read inside the caller's transaction.
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
async fn admit_one(conn: &mut SqliteConnection, group: GroupId) -> Refusable<()> {
    let admitted =
        sqlx::query("UPDATE groups SET active_count = active_count + 1 WHERE id = ? AND active_count < member_limit")
            .bind(group.0)
            .execute(&mut *conn)
            .await
            .map_err(internal)?;
    if admitted.rows_affected() == 0 {
        return Err(Refusal::GroupFull.into());
    }
    Ok(())
}

/// Sets a membership's state, dating the change.
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

/// Records a join inside a write transaction (see [`GroupStore::join`]).
pub(super) async fn join_in(tx: &mut SqliteConnection, joining: &Joining) -> Refusable<Vec<Change>> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM groups WHERE id = ?")
        .bind(joining.group_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
    if exists.is_none() {
        return Err(Refusal::NoGroup.into());
    }
    let existing = membership_in(tx, joining.group_id, joining.account_id).await?;
    match existing.as_ref().map(|m| m.state) {
        Some(MembershipState::Active) => return Err(Refusal::AlreadyMember.into()),
        Some(MembershipState::Pending) if joining.state == MembershipState::Pending => {
            return Err(Refusal::AlreadyPending.into());
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
        match row.map(Invite::try_from).transpose()? {
            Some(invite) if invite.usable(joining.at) => {}
            Some(_) => return Err(Refusal::InviteUsedUp.into()),
            None => return Err(Refusal::NoInvite.into()),
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
impl GroupStore for SqliteStore {
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

    async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Refusable<()> {
        let mut tx = self.write().await?;
        if let Some(limit) = update.member_limit {
            let count: Option<i64> = sqlx::query_scalar("SELECT active_count FROM groups WHERE id = ?")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
            if count.is_some_and(|c| c > i64::from(limit)) {
                return Err(Refusal::LimitBelowMembers.into());
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
        rows.into_iter().map(GroupMembershipRow::into_pair).collect()
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

    async fn join(&self, joining: &Joining) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        let changes = join_in(&mut tx, joining).await?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    async fn activate_member(&self, group: GroupId, account: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        match membership_in(&mut tx, group, account).await?.map(|m| m.state) {
            Some(MembershipState::Pending) => {}
            Some(MembershipState::Active) => return Err(Refusal::AlreadyActive.into()),
            _ => return Err(Refusal::NoJoinRequest.into()),
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
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        let Some(current) = membership_in(&mut tx, group, account).await? else {
            return Err(Refusal::NoMember.into());
        };
        if !matches!(current.state, MembershipState::Active | MembershipState::Pending) {
            return Err(Refusal::NoMember.into());
        }
        if current.role == Role::Owner {
            return Err(Refusal::OwnerCannotLeave.into());
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
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        let Some(current) = membership_in(&mut tx, group, account).await? else {
            return Err(Refusal::NoGroup.into());
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

    async fn set_role(&self, group: GroupId, account: AccountId, role: Role) -> Refusable<()> {
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
            return Err(Refusal::NoMember.into());
        }
        Ok(())
    }

    async fn transfer_ownership(&self, group: GroupId, from: AccountId, to: AccountId) -> Refusable<()> {
        let mut tx = self.write().await?;
        let target = membership_in(&mut tx, group, to).await?;
        if !target.is_some_and(|m| m.is_active()) {
            return Err(Refusal::NoMember.into());
        }
        let owner = sqlx::query("UPDATE groups SET owner_id = ? WHERE id = ? AND owner_id = ?")
            .bind(to.0)
            .bind(group.0)
            .bind(from.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        if owner.rows_affected() == 0 {
            return Err(Refusal::NotOwner.into());
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
        row.map(Invite::try_from).transpose()
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
        rows.into_iter().map(Invite::try_from).collect()
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
}
