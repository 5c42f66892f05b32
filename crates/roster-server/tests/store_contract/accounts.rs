//! The accounts port: accounts, terminals, stream tickets, account settings, and what
//! deleting an account takes with it.

use super::fixtures::{account, group, join, later, refusal, registration, request, t0, terminal};
use roster_proto::api::{MembershipState, TerminalKind};
use roster_server::domain::book::Book;
use roster_server::domain::ids::AccountId;
use roster_server::domain::model::{Account, ChangeKind};
use roster_server::domain::ports::{Refusal, Store};
use std::sync::Arc;

pub(crate) async fn accounts_are_found_by_login_and_id_and_a_taken_login_is_refused(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let by_login = store.account_auth("anna").await.unwrap().unwrap();
    assert_eq!(by_login.account.id, anna);
    assert_eq!(by_login.account.login, "anna");
    assert_eq!(by_login.account.display_name, "anna display");
    assert_eq!(by_login.account.created_at, t0());
    assert_eq!(by_login.password_hash, "hash of anna");
    let by_id = store.account_auth_by_id(anna).await.unwrap().unwrap();
    assert_eq!(by_id.account, by_login.account);
    assert!(store.account_auth("nobody").await.unwrap().is_none());
    assert!(store.account_auth_by_id(AccountId::random()).await.unwrap().is_none());

    let again = Account {
        id: AccountId::random(),
        login: "anna".into(),
        display_name: "Another Anna".into(),
        created_at: t0(),
    };
    assert_eq!(
        refusal(store.create_account(&again, "other hash").await),
        Refusal::LoginTaken { login: "anna".into() }
    );
    assert!(store.account_auth_by_id(again.id).await.unwrap().is_none());

    assert!(store.set_display_name(anna, "Anna B.").await.unwrap());
    let renamed = store.account_auth_by_id(anna).await.unwrap().unwrap();
    assert_eq!(renamed.account.display_name, "Anna B.");
    assert!(!store.set_display_name(AccountId::random(), "Nobody").await.unwrap());
}

pub(crate) async fn deleting_an_account_ends_its_memberships_and_takes_its_belongings(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    // Anna owns one group alone (Ben only asked to join) and is a member of Ben's.
    let alone = group(&store, anna, "Alone").await;
    request(&store, alone, ben).await;
    let bens = group(&store, ben, "Ben's").await;
    join(&store, bens, anna).await;
    let phone = terminal(&store, anna, TerminalKind::Session, b"anna-phone").await;
    store.create_ticket(b"anna-ticket", phone.id, later(60)).await.unwrap();
    store.set_list_group_books(anna, true).await.unwrap();
    let registration = registration(anna, phone.id, Book::Contacts, "anna");
    store.upsert_push_registration(&registration, 10, t0()).await.unwrap();
    let before = store.group(bens).await.unwrap().unwrap();

    let changes = store.delete_account(anna, later(1)).await.unwrap();

    assert_eq!(changes.len(), 1, "{changes:?}");
    let removal = &changes[0];
    assert_eq!(
        (removal.group_id, removal.subject, removal.kind),
        (bens, anna, ChangeKind::Remove)
    );
    assert_eq!(removal.version, before.version + 1);
    let logged = store.changes_since(bens, before.version, 100).await.unwrap();
    assert_eq!(logged, changes, "the removal is in the log");
    let after = store.group(bens).await.unwrap().unwrap();
    assert_eq!(after.member_count, before.member_count - 1);
    assert_eq!(after.version, removal.version);
    assert!(store.group(alone).await.unwrap().is_none(), "the lone group is gone");
    assert!(store.groups_of(ben).await.unwrap().iter().all(|(g, _)| g.id != alone));
    assert!(store.account_auth_by_id(anna).await.unwrap().is_none());
    assert!(store.account_auth("anna").await.unwrap().is_none());
    assert!(store.authenticate(b"anna-phone").await.unwrap().is_none());
    assert!(store.terminals(anna).await.unwrap().is_empty());
    assert!(store.redeem_ticket(b"anna-ticket", later(2)).await.unwrap().is_none());
    assert!(store.push_registration(registration.id).await.unwrap().is_none());
    assert!(!store.list_group_books(anna).await.unwrap());
    assert!(store.groups_of(anna).await.unwrap().is_empty());
    // The login is free again.
    account(&store, "anna").await;
}

pub(crate) async fn an_account_owning_a_group_with_other_members_is_not_deleted(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let family = group(&store, anna, "Family").await;
    join(&store, family, ben).await;
    let other = group(&store, ben, "Other").await;
    join(&store, other, anna).await;
    let (family_before, other_before) = (
        store.group(family).await.unwrap().unwrap(),
        store.group(other).await.unwrap().unwrap(),
    );

    assert_eq!(
        refusal(store.delete_account(anna, later(1)).await),
        Refusal::OwnsSharedGroup { group: "Family".into() }
    );

    assert!(store.account_auth_by_id(anna).await.unwrap().is_some());
    assert_eq!(store.group(family).await.unwrap().unwrap(), family_before);
    assert_eq!(store.group(other).await.unwrap().unwrap(), other_before);
    assert_eq!(
        store.changes_since(other, other_before.version, 100).await.unwrap(),
        Vec::new(),
        "a refused deletion logs nothing"
    );
    let membership = store.membership(other, anna).await.unwrap().unwrap();
    assert_eq!(membership.state, MembershipState::Active);
}

pub(crate) async fn terminals_authenticate_by_their_hash_until_revoked(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let phone = terminal(&store, anna, TerminalKind::Session, b"phone-hash").await;
    let laptop = terminal(&store, anna, TerminalKind::AppPassword, b"laptop-hash").await;
    terminal(&store, ben, TerminalKind::Web, b"ben-hash").await;

    let (who, which) = store.authenticate(b"phone-hash").await.unwrap().unwrap();
    assert_eq!(who.id, anna);
    assert_eq!(which, phone);
    assert!(store.authenticate(b"unknown-hash").await.unwrap().is_none());
    let listed = store.terminals(anna).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&phone) && listed.contains(&laptop));

    store.touch_terminal(phone.id, later(90)).await.unwrap();
    let (_, seen) = store.authenticate(b"phone-hash").await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at, Some(later(90)));

    store.note_terminal_client(laptop.id, "DAVx5/4.4").await.unwrap();
    store.note_terminal_client(laptop.id, "Other/1.0").await.unwrap();
    assert!(
        store
            .set_terminal_group_books(anna, laptop.id, Some(true))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_terminal_group_books(ben, laptop.id, Some(false))
            .await
            .unwrap(),
        "not Ben's terminal"
    );
    let (_, laptop_now) = store.authenticate(b"laptop-hash").await.unwrap().unwrap();
    assert_eq!(
        laptop_now.client.as_deref(),
        Some("DAVx5/4.4"),
        "the first client is kept"
    );
    assert_eq!(laptop_now.group_books, Some(true));
    assert_eq!(laptop_now.kind, TerminalKind::AppPassword);

    assert!(
        !store.revoke_terminal(ben, phone.id, later(100)).await.unwrap(),
        "not Ben's"
    );
    assert!(store.revoke_terminal(anna, phone.id, later(100)).await.unwrap());
    assert!(
        !store.revoke_terminal(anna, phone.id, later(101)).await.unwrap(),
        "already revoked"
    );
    assert!(store.authenticate(b"phone-hash").await.unwrap().is_none());
    assert_eq!(store.terminals(anna).await.unwrap().len(), 1);
    assert!(
        !store.set_terminal_group_books(anna, phone.id, None).await.unwrap(),
        "a revoked terminal is not set"
    );
}

pub(crate) async fn stream_tickets_are_single_use_and_expire(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let phone = terminal(&store, anna, TerminalKind::Session, b"phone-hash").await;
    let laptop = terminal(&store, anna, TerminalKind::Session, b"laptop-hash").await;
    store.create_ticket(b"once", phone.id, later(30)).await.unwrap();
    store.create_ticket(b"late", phone.id, later(30)).await.unwrap();
    store.create_ticket(b"revoked", laptop.id, later(30)).await.unwrap();

    let (who, which) = store.redeem_ticket(b"once", later(10)).await.unwrap().unwrap();
    assert_eq!((who.id, which.id), (anna, phone.id));
    assert!(
        store.redeem_ticket(b"once", later(11)).await.unwrap().is_none(),
        "single use"
    );
    assert!(
        store.redeem_ticket(b"late", later(30)).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.redeem_ticket(b"never", later(10)).await.unwrap().is_none());
    store.revoke_terminal(anna, laptop.id, later(12)).await.unwrap();
    assert!(store.redeem_ticket(b"revoked", later(13)).await.unwrap().is_none());
}

pub(crate) async fn group_books_are_listed_only_once_asked(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    assert!(!store.list_group_books(anna).await.unwrap(), "off by default");
    store.set_list_group_books(anna, true).await.unwrap();
    assert!(store.list_group_books(anna).await.unwrap());
    store.set_list_group_books(anna, false).await.unwrap();
    assert!(!store.list_group_books(anna).await.unwrap());
}
