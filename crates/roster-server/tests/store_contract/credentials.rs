//! The credentials port: failed-login counters, password changes, and the registration that
//! joins a group in the same write.

use super::fixtures::{account, group, invite, later, refusal, registration, t0, terminal};
use roster_proto::api::{MembershipState, TerminalKind};
use roster_server::domain::book::Book;
use roster_server::domain::ids::AccountId;
use roster_server::domain::model::{Account, ChangeKind, Joining, LockRule, PasswordChange};
use roster_server::domain::ports::{Refusal, Store};
use roster_server::domain::share_policy::ShareFields;
use std::sync::Arc;
use time::OffsetDateTime;

pub(crate) async fn concurrent_failures_are_each_counted_and_lock_with_back_off(store: Arc<dyn Store>) {
    let rule = LockRule {
        every: 5,
        lock_for: 60,
        max_doublings: 3,
    };
    let at = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_login_failure("anna", "192.0.2.1", rule, at).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let state = store.login_failures("anna", "192.0.2.1").await.unwrap().unwrap();
    assert_eq!(state.failures, 40, "every failure counted once");
    // The 8th lock: the length doubled three times at most.
    assert_eq!(state.locked_until, Some(at + time::Duration::seconds(60 * 8)));
    // Other pairs are untouched; a success clears only its own.
    assert_eq!(store.login_failures("anna", "192.0.2.2").await.unwrap(), None);
    let first = store.record_login_failure("anna", "192.0.2.2", rule, at).await.unwrap();
    assert_eq!((first.failures, first.locked_until), (1, None));
    store.clear_login_failures("anna", "192.0.2.1").await.unwrap();
    assert_eq!(store.login_failures("anna", "192.0.2.1").await.unwrap(), None);
    assert!(store.login_failures("anna", "192.0.2.2").await.unwrap().is_some());
    // Idle, unlocked counters are purged.
    let later = at + time::Duration::days(2);
    assert_eq!(store.purge_login_failures(later, later).await.unwrap(), 1);
}

pub(crate) async fn a_password_change_revokes_the_other_terminals_in_the_same_write(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let asking = terminal(&store, anna, TerminalKind::Session, b"asking").await;
    let other = terminal(&store, anna, TerminalKind::Session, b"other").await;
    let device = terminal(&store, anna, TerminalKind::AppPassword, b"device").await;
    let ben = account(&store, "ben").await;
    terminal(&store, ben, TerminalKind::Session, b"ben").await;
    let registration = registration(anna, other.id, Book::Me, "other");
    store.upsert_push_registration(&registration, 10, t0()).await.unwrap();

    let revoked = store
        .change_password(&PasswordChange {
            account: anna,
            password_hash: "new hash",
            keep: asking.id,
            keep_app_passwords: true,
            at: later(1),
        })
        .await
        .unwrap();
    assert_eq!(revoked, vec![other.id]);
    let auth = store.account_auth_by_id(anna).await.unwrap().unwrap();
    assert_eq!(auth.password_hash, "new hash");
    assert!(store.authenticate(b"other").await.unwrap().is_none());
    assert!(
        store.authenticate(b"device").await.unwrap().is_some(),
        "app passwords kept"
    );
    assert!(store.authenticate(b"asking").await.unwrap().is_some());
    assert!(
        store.authenticate(b"ben").await.unwrap().is_some(),
        "other accounts untouched"
    );
    assert!(
        store.push_registration(registration.id).await.unwrap().is_none(),
        "a revoked terminal's registrations go with it"
    );

    let revoked = store
        .change_password(&PasswordChange {
            account: anna,
            password_hash: "newer hash",
            keep: asking.id,
            keep_app_passwords: false,
            at: later(2),
        })
        .await
        .unwrap();
    assert_eq!(revoked, vec![device.id]);
    assert_eq!(store.terminals(anna).await.unwrap(), vec![asking]);
}

pub(crate) async fn a_registration_through_an_invite_stores_both_or_neither(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let family = group(&store, owner, "Family").await;
    let once = invite(&store, family, owner, b"once", Some(1), later(3600)).await;
    let new_account = |login: &str| Account {
        id: AccountId::random(),
        login: login.into(),
        display_name: login.into(),
        created_at: t0(),
    };
    let joining = |account: &Account| Joining {
        group_id: family,
        account_id: account.id,
        state: MembershipState::Active,
        share: ShareFields::default_policy(),
        invite: Some(once.id),
        at: later(1),
    };

    let anna = new_account("anna");
    let changes = store
        .create_account_joining(&anna, "anna hash", &joining(&anna))
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].subject, changes[0].kind, changes[0].version),
        (anna.id, ChangeKind::Upsert, 2)
    );
    assert!(store.account_auth("anna").await.unwrap().is_some());
    assert!(store.membership(family, anna.id).await.unwrap().unwrap().is_active());

    // The invite is used up: the account is not stored either.
    let ben = new_account("ben");
    assert_eq!(
        refusal(store.create_account_joining(&ben, "ben hash", &joining(&ben)).await),
        Refusal::InviteUsedUp
    );
    assert!(store.account_auth("ben").await.unwrap().is_none());

    // A taken login: the invite's use is not counted.
    let open = invite(&store, family, owner, b"open", Some(1), later(3600)).await;
    let again = new_account("anna");
    let mut with_open = joining(&again);
    with_open.invite = Some(open.id);
    assert_eq!(
        refusal(store.create_account_joining(&again, "hash", &with_open).await),
        Refusal::LoginTaken { login: "anna".into() }
    );
    assert_eq!(store.invite_by_code(b"open").await.unwrap().unwrap().uses, 0);
    assert!(store.membership(family, again.id).await.unwrap().is_none());
    assert_eq!(super::fixtures::logged_versions(&store, family).await, vec![1, 2]);
}
