//! [`GroupStore`] on PostgreSQL: groups, memberships and invites. Every write that changes a
//! group's members, limit or owner first locks the group's row (after the member's account
//! row where the member's card is logged), so concurrent joins count invite uses and places
//! against committed state, one at a time per group.

use super::{AccountLock, PgStore, append, internal, lock_account, lock_group, retry};
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
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// One membership, read inside the caller's transaction.
async fn membership_in(conn: &mut PgConnection, group: GroupId, account: AccountId) -> Result<Option<Membership>> {
    let row: Option<MembershipRow> = sqlx::query_as(
        "SELECT group_id, account_id, role, state, share, updated_at FROM memberships \
         WHERE group_id = $1 AND account_id = $2",
    )
    .bind(group.0)
    .bind(account.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(internal)?;
    row.map(Membership::try_from).transpose()
}

/// Checks that one more active member fits, and counts it. One conditional statement: it
/// holds even without the group lock the callers take.
async fn admit_one(conn: &mut PgConnection, group: GroupId) -> Refusable<()> {
    let admitted =
        sqlx::query("UPDATE groups SET active_count = active_count + 1 WHERE id = $1 AND active_count < member_limit")
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
    conn: &mut PgConnection,
    group: GroupId,
    account: AccountId,
    state: MembershipState,
    at: OffsetDateTime,
) -> Result<()> {
    sqlx::query("UPDATE memberships SET state = $1, updated_at = $2 WHERE group_id = $3 AND account_id = $4")
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
async fn mark_joined(conn: &mut PgConnection, change: &Change) -> Result<()> {
    sqlx::query("UPDATE memberships SET joined_version = $1 WHERE group_id = $2 AND account_id = $3")
        .bind(change.version)
        .bind(change.group_id.0)
        .bind(change.subject.0)
        .execute(&mut *conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// Records a join inside a write transaction (see [`GroupStore::join`]).
pub(super) async fn join_in(tx: &mut PgConnection, joining: &Joining) -> Refusable<Vec<Change>> {
    if joining.state == MembershipState::Active {
        lock_account(tx, joining.account_id, AccountLock::Shared).await?;
    }
    // Every join of the group waits here for the one before to commit, so the membership,
    // the invite's uses and the member count read below are the committed ones.
    if !lock_group(tx, joining.group_id).await? {
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
        // The group's lock orders the joins; the invite's keeps a revocation from landing
        // between this check and the count.
        let row: Option<InviteRow> = sqlx::query_as(
            "SELECT id, group_id, created_by, created_at, expires_at, max_uses, uses FROM invites \
             WHERE id = $1 AND group_id = $2 AND revoked_at IS NULL FOR NO KEY UPDATE",
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
        sqlx::query("UPDATE invites SET uses = uses + 1 WHERE id = $1")
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
         VALUES ($1, $2, 'member', $3, $4, $5) \
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

impl PgStore {
    /// One attempt at [`GroupStore::create_group`].
    async fn create_group_once(&self, group: &Group, owner_share: ShareFields) -> Result<Vec<Change>> {
        let mut tx = self.write().await?;
        // The owner's card is logged in the new group: no card write may be half done.
        lock_account(&mut tx, group.owner_id, AccountLock::Shared).await?;
        sqlx::query(
            "INSERT INTO groups (id, name, description, owner_id, join_policy, member_limit, active_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
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
             VALUES ($1, $2, 'owner', 'active', $3, $4)",
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

    /// One attempt at [`GroupStore::update_group`].
    async fn update_group_once(&self, id: GroupId, update: &GroupUpdate) -> Refusable<()> {
        let mut tx = self.write().await?;
        // Locked before the count is read: no join can pass the new limit meanwhile.
        let count: Option<i64> = sqlx::query_scalar("SELECT active_count FROM groups WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
        if let Some(limit) = update.member_limit
            && count.is_some_and(|c| c > i64::from(limit))
        {
            return Err(Refusal::LimitBelowMembers.into());
        }
        sqlx::query(
            "UPDATE groups SET name = COALESCE($1, name), description = COALESCE($2, description), \
             join_policy = COALESCE($3, join_policy), member_limit = COALESCE($4, member_limit) WHERE id = $5",
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

    /// One attempt at [`GroupStore::delete_group`].
    async fn delete_group_once(&self, id: GroupId) -> Result<Vec<AccountId>> {
        let mut tx = self.write().await?;
        // Locked first, so that no join lands between the listing and the delete.
        lock_group(&mut tx, id).await?;
        let members: Vec<Uuid> = sqlx::query_scalar(
            "SELECT account_id FROM memberships WHERE group_id = $1 AND state IN ('active', 'pending')",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(members.into_iter().map(AccountId).collect())
    }

    /// One attempt at [`GroupStore::join`].
    async fn join_once(&self, joining: &Joining) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        let changes = join_in(&mut tx, joining).await?;
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    /// One attempt at [`GroupStore::activate_member`].
    async fn activate_member_once(
        &self,
        group: GroupId,
        account: AccountId,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        lock_account(&mut tx, account, AccountLock::Shared).await?;
        lock_group(&mut tx, group).await?;
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

    /// One attempt at [`GroupStore::end_membership`].
    async fn end_membership_once(
        &self,
        group: GroupId,
        account: AccountId,
        state: MembershipState,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        // Locked before the role is read: a concurrent transfer cannot make the leaver owner.
        lock_group(&mut tx, group).await?;
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
        sqlx::query("UPDATE memberships SET role = 'member' WHERE group_id = $1 AND account_id = $2")
            .bind(group.0)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let mut changes = Vec::new();
        if current.is_active() {
            sqlx::query("UPDATE groups SET active_count = active_count - 1 WHERE id = $1")
                .bind(group.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            changes.push(append(&mut tx, group, account, ChangeKind::Remove, at).await?);
        }
        tx.commit().await.map_err(internal)?;
        Ok(changes)
    }

    /// One attempt at [`GroupStore::set_share`].
    async fn set_share_once(
        &self,
        group: GroupId,
        account: AccountId,
        share: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>> {
        let mut tx = self.write().await?;
        lock_account(&mut tx, account, AccountLock::Shared).await?;
        lock_group(&mut tx, group).await?;
        let Some(current) = membership_in(&mut tx, group, account).await? else {
            return Err(Refusal::NoGroup.into());
        };
        if current.share == share {
            return Ok(Vec::new());
        }
        sqlx::query("UPDATE memberships SET share = $1 WHERE group_id = $2 AND account_id = $3")
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

    /// One attempt at [`GroupStore::transfer_ownership`].
    async fn transfer_ownership_once(&self, group: GroupId, from: AccountId, to: AccountId) -> Refusable<()> {
        let mut tx = self.write().await?;
        // Locked before the new owner's membership is read: they cannot leave meanwhile, and
        // of two transfers the second finds the first's owner.
        lock_group(&mut tx, group).await?;
        let target = membership_in(&mut tx, group, to).await?;
        if !target.is_some_and(|m| m.is_active()) {
            return Err(Refusal::NoMember.into());
        }
        let owner = sqlx::query("UPDATE groups SET owner_id = $1 WHERE id = $2 AND owner_id = $3")
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
            sqlx::query("UPDATE memberships SET role = $1 WHERE group_id = $2 AND account_id = $3")
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
}

#[async_trait]
impl GroupStore for PgStore {
    async fn create_group(&self, group: &Group, owner_share: ShareFields) -> Result<Vec<Change>> {
        retry(|| self.create_group_once(group, owner_share)).await
    }

    async fn group(&self, id: GroupId) -> Result<Option<Group>> {
        let row: Option<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(Group::try_from).transpose()
    }

    async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Refusable<()> {
        retry(|| self.update_group_once(id, update)).await
    }

    async fn delete_group(&self, id: GroupId) -> Result<Vec<AccountId>> {
        retry(|| self.delete_group_once(id)).await
    }

    async fn groups_of(&self, account: AccountId) -> Result<Vec<(Group, Membership)>> {
        // One query, not one per group: every CardDAV request of the merged book reads this.
        let rows: Vec<GroupMembershipRow> = sqlx::query_as(
            "SELECT g.id, g.name, g.description, g.owner_id, g.join_policy, g.member_limit, g.active_count, \
                    g.version, g.floor, g.created_at, \
                    m.group_id, m.account_id, m.role, m.state, m.share, m.updated_at \
             FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.account_id = $1 AND m.state IN ('active', 'pending') ORDER BY m.group_id",
        )
        .bind(account.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(GroupMembershipRow::into_pair).collect()
    }

    async fn joined_version(&self, group: GroupId, account: AccountId) -> Result<i64> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT joined_version FROM memberships WHERE group_id = $1 AND account_id = $2")
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
             WHERE m.group_id = $1 AND m.state IN ('active', 'pending') ORDER BY m.account_id",
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
        retry(|| self.join_once(joining)).await
    }

    async fn activate_member(&self, group: GroupId, account: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>> {
        retry(|| self.activate_member_once(group, account, at)).await
    }

    async fn end_membership(
        &self,
        group: GroupId,
        account: AccountId,
        state: MembershipState,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>> {
        retry(|| self.end_membership_once(group, account, state, at)).await
    }

    async fn set_share(
        &self,
        group: GroupId,
        account: AccountId,
        share: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>> {
        retry(|| self.set_share_once(group, account, share, at)).await
    }

    async fn set_role(&self, group: GroupId, account: AccountId, role: Role) -> Refusable<()> {
        // One conditional statement: it waits for a concurrent transfer on the same row and
        // then re-checks the role, so the owner's role is never overwritten.
        let done = sqlx::query(
            "UPDATE memberships SET role = $1 WHERE group_id = $2 AND account_id = $3 \
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
        retry(|| self.transfer_ownership_once(group, from, to)).await
    }

    async fn create_invite(&self, invite: &Invite, code_hash: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO invites (id, group_id, code_hash, created_by, created_at, expires_at, max_uses) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
             WHERE code_hash = $1 AND revoked_at IS NULL",
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
             WHERE group_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
        )
        .bind(group.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter().map(Invite::try_from).collect()
    }

    async fn revoke_invite(&self, group: GroupId, id: InviteId, at: OffsetDateTime) -> Result<bool> {
        let done =
            sqlx::query("UPDATE invites SET revoked_at = $1 WHERE id = $2 AND group_id = $3 AND revoked_at IS NULL")
                .bind(ts(at))
                .bind(id.0)
                .bind(group.0)
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        Ok(done.rows_affected() == 1)
    }
}
