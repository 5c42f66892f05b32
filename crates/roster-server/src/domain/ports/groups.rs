//! The groups port: groups, memberships and invites, with the invariants that need one
//! transaction (member limit, invite uses, one owner).

use super::Refusable;
use crate::domain::Result;
use crate::domain::ids::{AccountId, GroupId, InviteId};
use crate::domain::model::{Change, Group, GroupUpdate, Invite, Joining, MemberRow, Membership};
use crate::domain::share_policy::ShareFields;
use async_trait::async_trait;
use roster_proto::api::{MembershipState, Role};
use time::OffsetDateTime;

/// Storage of groups, memberships and invites.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    // Groups

    /// Stores a new group with its owner as active member (one upsert appended).
    async fn create_group(&self, group: &Group, owner_share: ShareFields) -> Result<Vec<Change>>;
    /// The group, with its active member count.
    async fn group(&self, id: GroupId) -> Result<Option<Group>>;
    /// Applies an update; refused with `LimitBelowMembers` when a new member limit is below
    /// the active member count.
    async fn update_group(&self, id: GroupId, update: &GroupUpdate) -> Refusable<()>;
    /// Deletes a group with its memberships, invites and log; returns the accounts that were
    /// active or pending in it.
    async fn delete_group(&self, id: GroupId) -> Result<Vec<AccountId>>;
    /// The groups where the account is active or pending, with its membership, in group order.
    async fn groups_of(&self, account: AccountId) -> Result<Vec<(Group, Membership)>>;

    // Memberships

    /// One membership, in any state.
    async fn membership(&self, group: GroupId, account: AccountId) -> Result<Option<Membership>>;
    /// The group version at which the membership last became active (0: unknown).
    async fn joined_version(&self, group: GroupId, account: AccountId) -> Result<i64>;
    /// Active and pending members, ordered by account id (never by anything a member may hide).
    async fn members(&self, group: GroupId) -> Result<Vec<MemberRow>>;
    /// Records a join or a join request, counting the invite's use and checking the member
    /// limit atomically; an active join appends an upsert. Refused when there is no such
    /// group or invite, the account is already active (or pending, for a request), the invite
    /// is used up or expired, or the group is full.
    async fn join(&self, joining: &Joining) -> Refusable<Vec<Change>>;
    /// Turns a pending request into an active membership (limit checked), appending an
    /// upsert. Refused with `AlreadyActive`, `NoJoinRequest` or `GroupFull`.
    async fn activate_member(&self, group: GroupId, account: AccountId, at: OffsetDateTime) -> Refusable<Vec<Change>>;
    /// Ends an active or pending membership as `Left` or `Removed`; appends a removal if it
    /// was active. Refused with `NoMember`, or `OwnerCannotLeave` for the owner.
    async fn end_membership(
        &self,
        group: GroupId,
        account: AccountId,
        state: MembershipState,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>>;
    /// Sets a member's share policy; appends an upsert if it changed and the member is
    /// active. Refused with `NoGroup` when the account has no membership.
    async fn set_share(
        &self,
        group: GroupId,
        account: AccountId,
        share: ShareFields,
        at: OffsetDateTime,
    ) -> Refusable<Vec<Change>>;
    /// Sets an active member's role (`Member` or `Admin`); refused with `NoMember` when the
    /// account is not an active member other than the owner.
    async fn set_role(&self, group: GroupId, account: AccountId, role: Role) -> Refusable<()>;
    /// Makes `to` the owner and the previous owner an admin. Refused with `NoMember` when
    /// `to` is not active, `NotOwner` when `from` does not own the group.
    async fn transfer_ownership(&self, group: GroupId, from: AccountId, to: AccountId) -> Refusable<()>;

    // Invites

    /// Stores an invite with the hash of its code.
    async fn create_invite(&self, invite: &Invite, code_hash: &[u8]) -> Result<()>;
    /// The unrevoked invite with this code hash.
    async fn invite_by_code(&self, code_hash: &[u8]) -> Result<Option<Invite>>;
    /// The group's unrevoked invites, oldest first.
    async fn invites(&self, group: GroupId) -> Result<Vec<Invite>>;
    /// Revokes an invite; false when there is no such invite in the group.
    async fn revoke_invite(&self, group: GroupId, id: InviteId, at: OffsetDateTime) -> Result<bool>;
}
