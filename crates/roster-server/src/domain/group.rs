//! Groups and memberships: creation, invites, joining and approval, leaving and removal,
//! roles and ownership, and each member's share policy.
//!
//! A caller who is not an active (or, where stated, pending) member gets `NotFound` for
//! everything about a group, so that group ids reveal nothing. Members lacking the role get
//! `Forbidden`.

use super::error::{Error, FieldErrors, Result};
use super::ids::{AccountId, GroupId, InviteId};
use super::model::{Group, GroupUpdate, Invite, Joining, MemberRow, Membership};
use super::secret::{new_secret, secret_hash};
use super::share_policy::ShareFields;
use super::terminal::Caller;
use super::{Roster, now};
use roster_proto::api::{
    CardField, CreateGroupRequest, CreateInviteRequest, JoinPolicy, MembershipState, Role, UpdateGroupRequest,
};
use std::time::Duration;

const INVITE_PREFIX: &str = "inv_";
const MAX_GROUP_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 2000;

/// A group with the caller's membership in it.
#[derive(Debug, Clone)]
pub struct GroupWithMembership {
    /// The group.
    pub group: Group,
    /// The caller's membership.
    pub membership: Membership,
}

/// An invite as its link shows it to anyone who has it.
#[derive(Debug, Clone)]
pub struct InvitePreview {
    /// The group it joins.
    pub group: Group,
    /// Whether it can still be used (not expired, not used up).
    pub usable: bool,
}

/// A freshly created invite with its secret code (shown once) and link.
#[derive(Debug, Clone)]
pub struct CreatedInvite {
    /// The invite.
    pub invite: Invite,
    /// The secret code.
    pub code: String,
    /// The link to share.
    pub url: String,
}

fn check_text(errors: &mut FieldErrors, field: &str, value: &str, min: usize, max: usize) -> Option<String> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min || len > max {
        errors.add(field, format!("{min} to {max} characters"));
        None
    } else if value.chars().any(|c| c.is_control() && c != '\n') {
        errors.add(field, "contains control characters");
        None
    } else {
        Some(value.to_string())
    }
}

/// Extracts an invite code from a code or a link ending in one.
pub fn invite_code(code_or_link: &str) -> &str {
    code_or_link
        .trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// How a member who does not share their name is listed: "Member" and the start of the
/// account id, stable and telling nothing the row does not already show.
pub fn neutral_label(account: AccountId) -> String {
    let short: String = account.0.simple().to_string().chars().take(8).collect();
    format!("Member {short}")
}

impl Roster {
    /// The caller's membership if it is active; otherwise the group does not exist for them.
    pub(crate) async fn active_membership(&self, caller: &Caller, group: GroupId) -> Result<Membership> {
        match self.store.membership(group, caller.account.id).await? {
            Some(m) if m.is_active() => Ok(m),
            _ => Err(Error::NotFound("group")),
        }
    }

    async fn admin_membership(&self, caller: &Caller, group: GroupId) -> Result<Membership> {
        let membership = self.active_membership(caller, group).await?;
        if !membership.is_admin() {
            return Err(Error::Forbidden("only the group's admins may do this".into()));
        }
        Ok(membership)
    }

    async fn owner_membership(&self, caller: &Caller, group: GroupId) -> Result<Membership> {
        let membership = self.active_membership(caller, group).await?;
        if membership.role != Role::Owner {
            return Err(Error::Forbidden("only the group's owner may do this".into()));
        }
        Ok(membership)
    }

    pub(crate) async fn load_group(&self, id: GroupId) -> Result<Group> {
        self.store.group(id).await?.ok_or(Error::NotFound("group"))
    }

    /// Creates a group owned by the caller, who becomes its first active member.
    pub async fn create_group(&self, caller: &Caller, request: &CreateGroupRequest) -> Result<GroupWithMembership> {
        let mut errors = FieldErrors::default();
        let name = check_text(&mut errors, "name", &request.name, 1, MAX_GROUP_NAME);
        let description = check_text(
            &mut errors,
            "description",
            request.description.as_deref().unwrap_or_default(),
            0,
            MAX_DESCRIPTION,
        );
        let member_limit = self.check_limit(&mut errors, request.member_limit);
        let at = now();
        let group = errors.finish(|| Group {
            id: GroupId::random(),
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default(),
            owner_id: caller.account.id,
            join_policy: request.join_policy.unwrap_or_default(),
            member_limit: member_limit.unwrap_or(self.settings.max_group_size),
            version: 1,
            floor: 0,
            member_count: 1,
            created_at: at,
        })?;
        let changes = self.store.create_group(&group, ShareFields::default_policy()).await?;
        self.announce(&[(caller.account.id, group.id)], &changes);
        tracing::info!(group = %group.id, owner = %caller.account.id, "group created");
        let membership = self.active_membership(caller, group.id).await?;
        Ok(GroupWithMembership { group, membership })
    }

    fn check_limit(&self, errors: &mut FieldErrors, limit: Option<u32>) -> Option<u32> {
        match limit {
            Some(l) if l < 1 || l > self.settings.max_group_size => {
                errors.add("member_limit", format!("1 to {}", self.settings.max_group_size));
                None
            }
            other => other,
        }
    }

    /// The groups where the caller is active or pending.
    pub async fn my_groups(&self, caller: &Caller) -> Result<Vec<GroupWithMembership>> {
        Ok(self
            .store
            .groups_of(caller.account.id)
            .await?
            .into_iter()
            .map(|(group, membership)| GroupWithMembership { group, membership })
            .collect())
    }

    /// One group, for its active or pending members.
    pub async fn group(&self, caller: &Caller, id: GroupId) -> Result<GroupWithMembership> {
        let membership = match self.store.membership(id, caller.account.id).await? {
            Some(m) if matches!(m.state, MembershipState::Active | MembershipState::Pending) => m,
            _ => return Err(Error::NotFound("group")),
        };
        let group = self.load_group(id).await?;
        Ok(GroupWithMembership { group, membership })
    }

    /// One group, for its admins only: what the management pages start from.
    pub async fn admin_group(&self, caller: &Caller, id: GroupId) -> Result<GroupWithMembership> {
        let membership = self.admin_membership(caller, id).await?;
        let group = self.load_group(id).await?;
        Ok(GroupWithMembership { group, membership })
    }

    /// Changes a group's name, description, join policy or limit (admins).
    pub async fn update_group(
        &self,
        caller: &Caller,
        id: GroupId,
        request: &UpdateGroupRequest,
    ) -> Result<GroupWithMembership> {
        self.admin_membership(caller, id).await?;
        let mut errors = FieldErrors::default();
        let update = GroupUpdate {
            name: request
                .name
                .as_deref()
                .and_then(|n| check_text(&mut errors, "name", n, 1, MAX_GROUP_NAME)),
            description: request
                .description
                .as_deref()
                .and_then(|d| check_text(&mut errors, "description", d, 0, MAX_DESCRIPTION)),
            join_policy: request.join_policy,
            member_limit: self.check_limit(&mut errors, request.member_limit),
        };
        let update = errors.finish(|| update)?;
        let before = self.load_group(id).await?;
        self.store.update_group(id, &update).await?;
        if update.name.as_ref().is_some_and(|name| *name != before.name) {
            self.bus.publish(super::ports::Event::GroupRenamed { group: id });
        }
        self.group(caller, id).await
    }

    /// Deletes a group (owner).
    pub async fn delete_group(&self, caller: &Caller, id: GroupId) -> Result<()> {
        self.owner_membership(caller, id).await?;
        let members = self.store.delete_group(id).await?;
        let memberships: Vec<_> = members.into_iter().map(|account| (account, id)).collect();
        self.announce(&memberships, &[]);
        tracing::info!(group = %id, "group deleted");
        Ok(())
    }

    /// Creates an invite link: admins in invite-only and approval groups, any member in
    /// open-with-link groups.
    pub async fn create_invite(
        &self,
        caller: &Caller,
        id: GroupId,
        request: &CreateInviteRequest,
    ) -> Result<CreatedInvite> {
        let membership = self.active_membership(caller, id).await?;
        let group = self.load_group(id).await?;
        if group.join_policy != JoinPolicy::OpenWithLink && !membership.is_admin() {
            return Err(Error::Forbidden("only the group's admins may invite".into()));
        }
        let mut errors = FieldErrors::default();
        let ttl = match request.expires_in {
            None => self.settings.invite_ttl_default,
            Some(secs) if secs == 0 || Duration::from_secs(secs) > self.settings.invite_ttl_max => {
                errors.add(
                    "expires_in",
                    format!("1 to {} seconds", self.settings.invite_ttl_max.as_secs()),
                );
                Duration::ZERO
            }
            Some(secs) => Duration::from_secs(secs),
        };
        if request.max_uses == Some(0) {
            errors.add("max_uses", "at least 1");
        }
        errors.finish(|| ())?;
        self.limits.invite(caller.account.id)?;
        let at = now();
        let invite = Invite {
            id: InviteId::random(),
            group_id: id,
            created_by: caller.account.id,
            created_at: at,
            expires_at: at + ttl,
            max_uses: request.max_uses,
            uses: 0,
        };
        let (code, hash) = new_secret(INVITE_PREFIX);
        self.store.create_invite(&invite, &hash).await?;
        let url = format!("{}/join/{code}", self.settings.public_url.trim_end_matches('/'));
        Ok(CreatedInvite { invite, code, url })
    }

    /// The group's open invites (admins).
    pub async fn invites(&self, caller: &Caller, id: GroupId) -> Result<Vec<Invite>> {
        self.admin_membership(caller, id).await?;
        self.store.invites(id).await
    }

    /// Revokes an invite (admins).
    pub async fn revoke_invite(&self, caller: &Caller, id: GroupId, invite: InviteId) -> Result<()> {
        self.admin_membership(caller, id).await?;
        if self.store.revoke_invite(id, invite, now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound("invite"))
        }
    }

    /// What an invite link shows before anyone signs in: its group (name, description,
    /// member count, join policy) and whether the invite can still be used. Costs one lookup
    /// by hash, like a wrong code.
    pub async fn invite_preview(&self, code_or_link: &str) -> Result<InvitePreview> {
        let code = invite_code(code_or_link);
        if code.is_empty() || code.len() > 200 {
            return Err(Error::NotFound("invite"));
        }
        let invite = self
            .store
            .invite_by_code(&secret_hash(code))
            .await?
            .ok_or(Error::NotFound("invite"))?;
        let group = self.load_group(invite.group_id).await?;
        Ok(InvitePreview {
            usable: invite.usable(now()),
            group,
        })
    }

    /// Uses an invite: joins at once, or files a request in approval groups.
    pub async fn accept_invite(&self, caller: &Caller, code_or_link: &str) -> Result<(Group, MembershipState)> {
        self.accept_invite_sharing(caller, code_or_link, ShareFields::default_policy())
            .await
    }

    /// Uses an invite with the share policy the caller chose for the group, in the same write
    /// (nothing is shown to the group under another policy first).
    pub async fn accept_invite_sharing(
        &self,
        caller: &Caller,
        code_or_link: &str,
        share: ShareFields,
    ) -> Result<(Group, MembershipState)> {
        let code = invite_code(code_or_link);
        let invite = self
            .store
            .invite_by_code(&secret_hash(code))
            .await?
            .ok_or(Error::NotFound("invite"))?;
        let at = now();
        if !invite.usable(at) {
            return Err(Error::InviteUnusable);
        }
        let group = self.load_group(invite.group_id).await?;
        let state = if group.join_policy == JoinPolicy::Approval {
            MembershipState::Pending
        } else {
            MembershipState::Active
        };
        let changes = self
            .store
            .join(&Joining {
                group_id: group.id,
                account_id: caller.account.id,
                state,
                share,
                invite: Some(invite.id),
                at,
            })
            .await?;
        self.announce(&[(caller.account.id, group.id)], &changes);
        tracing::info!(group = %group.id, account = %caller.account.id, ?state, "invite accepted");
        Ok((group, state))
    }

    /// Approves a pending request (admins).
    pub async fn approve(&self, caller: &Caller, id: GroupId, account: AccountId) -> Result<()> {
        self.admin_membership(caller, id).await?;
        let changes = self.store.activate_member(id, account, now()).await?;
        self.announce(&[(account, id)], &changes);
        Ok(())
    }

    /// Denies a pending request (admins).
    pub async fn deny(&self, caller: &Caller, id: GroupId, account: AccountId) -> Result<()> {
        self.admin_membership(caller, id).await?;
        match self.store.membership(id, account).await? {
            Some(m) if m.state == MembershipState::Pending => {}
            _ => return Err(Error::NotFound("join request")),
        }
        self.store
            .end_membership(id, account, MembershipState::Removed, now())
            .await?;
        Ok(())
    }

    /// Leaves a group (or withdraws a pending request). The owner must transfer first.
    pub async fn leave(&self, caller: &Caller, id: GroupId) -> Result<()> {
        self.group(caller, id).await?;
        let changes = self
            .store
            .end_membership(id, caller.account.id, MembershipState::Left, now())
            .await?;
        self.announce(&[(caller.account.id, id)], &changes);
        Ok(())
    }

    /// Removes a member (admins; only the owner removes admins; nobody removes the owner).
    pub async fn remove_member(&self, caller: &Caller, id: GroupId, account: AccountId) -> Result<()> {
        let me = self.admin_membership(caller, id).await?;
        let target = match self.store.membership(id, account).await? {
            Some(m) if m.is_active() => m,
            _ => return Err(Error::NotFound("member")),
        };
        if target.role == Role::Owner {
            return Err(Error::Forbidden("the owner cannot be removed".into()));
        }
        if target.role == Role::Admin && me.role != Role::Owner {
            return Err(Error::Forbidden("only the owner may remove an admin".into()));
        }
        let changes = self
            .store
            .end_membership(id, account, MembershipState::Removed, now())
            .await?;
        self.announce(&[(account, id)], &changes);
        tracing::info!(group = %id, account = %account, by = %caller.account.id, "member removed");
        Ok(())
    }

    /// Makes a member an admin or an admin a member (owner).
    pub async fn set_role(&self, caller: &Caller, id: GroupId, account: AccountId, role: Role) -> Result<()> {
        self.owner_membership(caller, id).await?;
        if role == Role::Owner {
            return Err(Error::invalid("role", "ownership moves with the transfer call"));
        }
        Ok(self.store.set_role(id, account, role).await?)
    }

    /// Hands the group to another active member; the previous owner becomes an admin.
    pub async fn transfer_ownership(&self, caller: &Caller, id: GroupId, to: AccountId) -> Result<()> {
        self.owner_membership(caller, id).await?;
        if to == caller.account.id {
            return Err(Error::invalid("account_id", "already the owner"));
        }
        Ok(self.store.transfer_ownership(id, caller.account.id, to).await?)
    }

    /// Active members (and, for admins, pending requests), ordered by account id. A member's
    /// display name is shown only if they share their name with the group; otherwise a neutral
    /// label made from the account id, which the list shows anyway.
    pub async fn members(&self, caller: &Caller, id: GroupId) -> Result<Vec<MemberRow>> {
        let me = self.active_membership(caller, id).await?;
        self.limits.read(caller.account.id)?;
        let mut rows = self.store.members(id).await?;
        if !me.is_admin() {
            rows.retain(|r| r.membership.is_active());
        }
        for row in &mut rows {
            let subject = row.membership.account_id;
            if subject != caller.account.id && !row.membership.share.contains(CardField::Name) {
                row.display_name = neutral_label(subject);
            }
        }
        Ok(rows)
    }

    /// The caller's share policy for a group (active or pending).
    pub async fn share_policy(&self, caller: &Caller, id: GroupId) -> Result<ShareFields> {
        Ok(self.group(caller, id).await?.membership.share)
    }

    /// Sets which of the caller's card fields a group may see.
    pub async fn set_share_policy(&self, caller: &Caller, id: GroupId, fields: &[CardField]) -> Result<ShareFields> {
        self.group(caller, id).await?;
        let share = ShareFields::of(fields);
        let changes = self.store.set_share(id, caller.account.id, share, now()).await?;
        self.publish(&changes);
        Ok(share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_codes_come_from_links_or_bare_codes() {
        assert_eq!(invite_code("inv_abc"), "inv_abc");
        assert_eq!(invite_code("https://roster.example/join/inv_abc"), "inv_abc");
        assert_eq!(invite_code(" https://roster.example/join/inv_abc/ "), "inv_abc");
    }
}
