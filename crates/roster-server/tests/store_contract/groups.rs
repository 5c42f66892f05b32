//! The groups port: groups, memberships and invites, and the invariants a store keeps in
//! one transaction (member limit, invite uses, one owner).

use super::fixtures::{
    account, group, group_limited, invite, join, joining, later, logged_versions, refusal, request, t0, version,
};
use roster_proto::api::{CardField, JoinPolicy, MembershipState, Role};
use roster_server::domain::ids::{AccountId, GroupId};
use roster_server::domain::model::{ChangeKind, GroupUpdate, Joining};
use roster_server::domain::ports::{Refusal, Store};
use roster_server::domain::share_policy::ShareFields;
use std::sync::Arc;

pub(crate) async fn a_new_group_has_its_owner_as_first_active_member(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let family = group(&store, anna, "Family").await;
    let stored = store.group(family).await.unwrap().unwrap();
    assert_eq!(stored.name, "Family");
    assert_eq!(stored.description, "Family description");
    assert_eq!(stored.owner_id, anna);
    assert_eq!(stored.join_policy, JoinPolicy::InviteOnly);
    assert_eq!(stored.member_limit, 100);
    assert_eq!((stored.member_count, stored.version, stored.floor), (1, 1, 0));
    assert_eq!(stored.created_at, t0());
    let log = store.changes_since(family, 0, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].subject, log[0].kind, log[0].version),
        (anna, ChangeKind::Upsert, 1)
    );
    let owner = store.membership(family, anna).await.unwrap().unwrap();
    assert_eq!((owner.role, owner.state), (Role::Owner, MembershipState::Active));
    assert_eq!(owner.share, ShareFields::default_policy());
    let members = store.members(family).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].membership, owner);
    assert_eq!(members[0].display_name, "anna display");
    assert!(store.group(GroupId::random()).await.unwrap().is_none());
}

pub(crate) async fn a_group_update_applies_and_a_limit_below_the_members_is_refused(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let family = group(&store, anna, "Family").await;
    join(&store, family, ben).await;
    store
        .update_group(
            family,
            &GroupUpdate {
                name: Some("Family B".into()),
                join_policy: Some(JoinPolicy::Approval),
                member_limit: Some(2),
                ..GroupUpdate::default()
            },
        )
        .await
        .unwrap();
    let updated = store.group(family).await.unwrap().unwrap();
    assert_eq!(updated.name, "Family B");
    assert_eq!(updated.description, "Family description", "unnamed fields are kept");
    assert_eq!(updated.join_policy, JoinPolicy::Approval);
    assert_eq!(updated.member_limit, 2);
    let below = GroupUpdate {
        name: Some("Not applied".into()),
        member_limit: Some(1),
        ..GroupUpdate::default()
    };
    assert_eq!(
        refusal(store.update_group(family, &below).await),
        Refusal::LimitBelowMembers
    );
    assert_eq!(store.group(family).await.unwrap().unwrap(), updated, "nothing applied");
}

pub(crate) async fn deleting_a_group_names_its_members_and_drops_its_log(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let dora = account(&store, "dora").await;
    let family = group(&store, anna, "Family").await;
    join(&store, family, ben).await;
    request(&store, family, carl).await;
    join(&store, family, dora).await;
    store
        .end_membership(family, dora, MembershipState::Left, later(1))
        .await
        .unwrap();
    let code = invite(&store, family, anna, b"code", None, later(3600)).await;

    let mut members = store.delete_group(family).await.unwrap();
    members.sort();
    let mut expected = vec![anna, ben, carl];
    expected.sort();
    assert_eq!(members, expected, "active and pending, not those who left");
    assert!(store.group(family).await.unwrap().is_none());
    assert!(store.membership(family, ben).await.unwrap().is_none());
    assert!(store.changes_since(family, 0, 100).await.unwrap().is_empty());
    assert!(store.invite_by_code(b"code").await.unwrap().is_none());
    assert!(store.invites(code.group_id).await.unwrap().is_empty());
    assert!(store.groups_of(anna).await.unwrap().is_empty());
}

pub(crate) async fn memberships_move_through_join_approval_leaving_and_rejoining(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let family = group(&store, anna, "Family").await;

    // A request: pending, nothing logged.
    let asking = joining(family, ben, MembershipState::Pending);
    assert!(store.join(&asking).await.unwrap().is_empty());
    let pending = store.membership(family, ben).await.unwrap().unwrap();
    assert_eq!((pending.state, pending.role), (MembershipState::Pending, Role::Member));
    assert_eq!(refusal(store.join(&asking).await), Refusal::AlreadyPending);
    assert_eq!(
        store.members(family).await.unwrap().len(),
        2,
        "pending members are listed"
    );
    assert_eq!(store.group(family).await.unwrap().unwrap().member_count, 1);

    // Approval: active, one upsert, the joined version remembered.
    let approved = store.activate_member(family, ben, later(1)).await.unwrap();
    assert_eq!(approved.len(), 1);
    assert_eq!(
        (approved[0].subject, approved[0].kind, approved[0].version),
        (ben, ChangeKind::Upsert, 2)
    );
    assert_eq!(store.joined_version(family, ben).await.unwrap(), 2);
    assert_eq!(store.membership(family, ben).await.unwrap().unwrap().since, later(1));
    assert_eq!(
        refusal(store.activate_member(family, ben, later(2)).await),
        Refusal::AlreadyActive
    );
    assert_eq!(
        refusal(store.join(&joining(family, ben, MembershipState::Active)).await),
        Refusal::AlreadyMember
    );
    assert_eq!(
        refusal(store.join(&joining(family, ben, MembershipState::Pending)).await),
        Refusal::AlreadyMember
    );
    assert_eq!(store.group(family).await.unwrap().unwrap().member_count, 2);

    // Leaving: one removal; the membership stays, as `left`.
    let left = store
        .end_membership(family, ben, MembershipState::Left, later(3))
        .await
        .unwrap();
    assert_eq!(
        (left[0].subject, left[0].kind, left[0].version),
        (ben, ChangeKind::Remove, 3)
    );
    let gone = store.membership(family, ben).await.unwrap().unwrap();
    assert_eq!((gone.state, gone.role), (MembershipState::Left, Role::Member));
    assert_eq!(
        refusal(
            store
                .end_membership(family, ben, MembershipState::Removed, later(4))
                .await
        ),
        Refusal::NoMember
    );
    assert_eq!(
        refusal(store.activate_member(family, ben, later(4)).await),
        Refusal::NoJoinRequest
    );
    assert_eq!(store.members(family).await.unwrap().len(), 1);
    assert_eq!(store.group(family).await.unwrap().unwrap().member_count, 1);

    // Rejoining: active again, joined at the new version.
    let rejoined = store
        .join(&Joining {
            at: later(5),
            ..joining(family, ben, MembershipState::Active)
        })
        .await
        .unwrap();
    assert_eq!(rejoined[0].version, 4);
    assert_eq!(store.joined_version(family, ben).await.unwrap(), 4);

    // A withdrawn request logs nothing; the owner cannot leave.
    let carl = account(&store, "carl").await;
    request(&store, family, carl).await;
    assert!(
        store
            .end_membership(family, carl, MembershipState::Left, later(6))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        refusal(
            store
                .end_membership(family, anna, MembershipState::Left, later(7))
                .await
        ),
        Refusal::OwnerCannotLeave
    );
    assert_eq!(
        refusal(
            store
                .end_membership(family, AccountId::random(), MembershipState::Left, later(7))
                .await
        ),
        Refusal::NoMember
    );
    assert_eq!(
        refusal(
            store
                .join(&joining(GroupId::random(), carl, MembershipState::Active))
                .await
        ),
        Refusal::NoGroup
    );
    assert_eq!(logged_versions(&store, family).await, vec![1, 2, 3, 4]);
    assert_eq!(store.joined_version(family, carl).await.unwrap(), 0);
    assert_eq!(store.joined_version(family, AccountId::random()).await.unwrap(), 0);
}

pub(crate) async fn roles_change_for_active_members_and_ownership_moves_from_the_owner(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let family = group(&store, anna, "Family").await;
    join(&store, family, ben).await;
    request(&store, family, carl).await;

    store.set_role(family, ben, Role::Admin).await.unwrap();
    assert_eq!(store.membership(family, ben).await.unwrap().unwrap().role, Role::Admin);
    assert_eq!(
        refusal(store.set_role(family, anna, Role::Member).await),
        Refusal::NoMember,
        "the owner"
    );
    assert_eq!(
        refusal(store.set_role(family, carl, Role::Admin).await),
        Refusal::NoMember,
        "pending"
    );

    assert_eq!(
        refusal(store.transfer_ownership(family, ben, carl).await),
        Refusal::NoMember
    );
    assert_eq!(
        refusal(store.transfer_ownership(family, ben, anna).await),
        Refusal::NotOwner
    );
    let before = version(&store, family).await;
    store.transfer_ownership(family, anna, ben).await.unwrap();
    assert_eq!(store.group(family).await.unwrap().unwrap().owner_id, ben);
    assert_eq!(store.membership(family, ben).await.unwrap().unwrap().role, Role::Owner);
    assert_eq!(store.membership(family, anna).await.unwrap().unwrap().role, Role::Admin);
    assert_eq!(
        version(&store, family).await,
        before,
        "roles are not in the directory's log"
    );
    // Leaving drops the role.
    store
        .end_membership(family, anna, MembershipState::Left, later(1))
        .await
        .unwrap();
    assert_eq!(
        store.membership(family, anna).await.unwrap().unwrap().role,
        Role::Member
    );
}

pub(crate) async fn a_share_change_is_logged_only_for_an_active_member_and_a_real_change(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let family = group(&store, anna, "Family").await;
    request(&store, family, ben).await;
    let more = ShareFields::of(&[CardField::Name, CardField::Phones, CardField::Emails]);

    assert!(
        store.set_share(family, ben, more, later(1)).await.unwrap().is_empty(),
        "pending"
    );
    assert_eq!(store.membership(family, ben).await.unwrap().unwrap().share, more);
    let changes = store.set_share(family, anna, more, later(2)).await.unwrap();
    assert_eq!(
        (changes[0].subject, changes[0].kind, changes[0].version),
        (anna, ChangeKind::Upsert, 2)
    );
    assert!(
        store.set_share(family, anna, more, later(3)).await.unwrap().is_empty(),
        "no change"
    );
    assert_eq!(
        refusal(store.set_share(family, AccountId::random(), more, later(4)).await),
        Refusal::NoGroup
    );
    assert_eq!(logged_versions(&store, family).await, vec![1, 2]);
}

pub(crate) async fn the_member_limit_holds_for_joins_and_approvals(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let dora = account(&store, "dora").await;
    let small = group_limited(&store, anna, "Small", 2).await;
    join(&store, small, ben).await;

    assert_eq!(
        refusal(store.join(&joining(small, carl, MembershipState::Active)).await),
        Refusal::GroupFull
    );
    assert!(
        store.membership(small, carl).await.unwrap().is_none(),
        "nothing written"
    );
    // A request does not take a place, but its approval must find one.
    request(&store, small, dora).await;
    assert_eq!(
        refusal(store.activate_member(small, dora, later(1)).await),
        Refusal::GroupFull
    );
    assert_eq!(
        store.membership(small, dora).await.unwrap().unwrap().state,
        MembershipState::Pending
    );
    store
        .end_membership(small, ben, MembershipState::Left, later(2))
        .await
        .unwrap();
    store.activate_member(small, dora, later(3)).await.unwrap();
    let stored = store.group(small).await.unwrap().unwrap();
    assert_eq!(stored.member_count, 2);
    assert_eq!(logged_versions(&store, small).await, vec![1, 2, 3, 4]);
}

pub(crate) async fn invite_uses_are_capped_under_concurrent_joins(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let code = invite(&store, club, owner, b"three", Some(3), later(3600)).await;
    let mut joiners = Vec::new();
    for n in 0..8 {
        joiners.push(account(&store, &format!("joiner{n}")).await);
    }
    let tasks: Vec<_> = joiners
        .iter()
        .map(|&joiner| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .join(&Joining {
                        invite: Some(code.id),
                        at: later(1),
                        ..joining(club, joiner, MembershipState::Active)
                    })
                    .await
            })
        })
        .collect();
    let mut joined = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(changes) => {
                assert_eq!(changes.len(), 1);
                joined += 1;
            }
            refused => assert_eq!(refusal(refused), Refusal::InviteUsedUp),
        }
    }
    assert_eq!(joined, 3, "exactly max_uses joins");
    assert_eq!(store.invite_by_code(b"three").await.unwrap().unwrap().uses, 3);
    let stored = store.group(club).await.unwrap().unwrap();
    assert_eq!((stored.member_count, stored.version), (4, 4));
    assert_eq!(logged_versions(&store, club).await, vec![1, 2, 3, 4]);
}

pub(crate) async fn expired_revoked_and_foreign_invites_do_not_join(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let ben = account(&store, "ben").await;
    let club = group(&store, owner, "Club").await;
    let other = group(&store, owner, "Other").await;
    let with = |invite: &roster_server::domain::model::Invite, at| Joining {
        invite: Some(invite.id),
        at,
        ..joining(club, ben, MembershipState::Active)
    };

    let expiring = invite(&store, club, owner, b"expiring", None, later(10)).await;
    assert_eq!(
        refusal(store.join(&with(&expiring, later(10))).await),
        Refusal::InviteUsedUp
    );
    let revoked = invite(&store, club, owner, b"revoked", None, later(3600)).await;
    assert!(store.revoke_invite(club, revoked.id, later(1)).await.unwrap());
    assert_eq!(refusal(store.join(&with(&revoked, later(2))).await), Refusal::NoInvite);
    let foreign = invite(&store, other, owner, b"foreign", None, later(3600)).await;
    assert_eq!(refusal(store.join(&with(&foreign, later(2))).await), Refusal::NoInvite);

    assert!(store.membership(club, ben).await.unwrap().is_none());
    assert_eq!(store.invite_by_code(b"foreign").await.unwrap().unwrap().uses, 0);
    assert_eq!(logged_versions(&store, club).await, vec![1]);
    // Still usable just before it expires.
    store.join(&with(&expiring, later(9))).await.unwrap();
}

pub(crate) async fn invites_are_listed_found_by_code_and_revoked(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let other = group(&store, owner, "Other").await;
    let first = invite(&store, club, owner, b"first", Some(5), later(3600)).await;
    let second = invite(&store, club, owner, b"second", None, later(7200)).await;
    invite(&store, other, owner, b"elsewhere", None, later(3600)).await;

    assert_eq!(store.invite_by_code(b"first").await.unwrap(), Some(first.clone()));
    assert!(store.invite_by_code(b"none").await.unwrap().is_none());
    let listed = store.invites(club).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&first) && listed.contains(&second));

    assert!(
        !store.revoke_invite(other, first.id, later(1)).await.unwrap(),
        "not that group's"
    );
    assert!(store.revoke_invite(club, first.id, later(1)).await.unwrap());
    assert!(
        !store.revoke_invite(club, first.id, later(2)).await.unwrap(),
        "already revoked"
    );
    assert!(store.invite_by_code(b"first").await.unwrap().is_none());
    assert_eq!(store.invites(club).await.unwrap(), vec![second]);
}

pub(crate) async fn groups_of_lists_active_and_pending_memberships(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let mut groups = Vec::new();
    for name in ["One", "Two", "Three", "Four"] {
        groups.push(group(&store, anna, name).await);
    }
    join(&store, groups[0], ben).await;
    request(&store, groups[1], ben).await;
    join(&store, groups[2], ben).await;
    store
        .end_membership(groups[2], ben, MembershipState::Left, later(1))
        .await
        .unwrap();

    let of_ben = store.groups_of(ben).await.unwrap();
    let mut expected = vec![groups[0], groups[1]];
    expected.sort();
    assert_eq!(
        of_ben.iter().map(|(g, _)| g.id).collect::<Vec<_>>(),
        expected,
        "in group order"
    );
    for (group, membership) in &of_ben {
        assert_eq!(membership.group_id, group.id);
        assert_eq!(membership.account_id, ben);
        assert_eq!(*group, store.group(group.id).await.unwrap().unwrap());
        let state = if group.id == groups[0] {
            MembershipState::Active
        } else {
            MembershipState::Pending
        };
        assert_eq!(membership.state, state);
    }
    assert_eq!(store.groups_of(anna).await.unwrap().len(), 4);
}
