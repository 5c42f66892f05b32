//! The push port: WebDAV-Push registrations, renewed in place, capped per account, found by
//! the change they concern, and purged when lapsed.

use super::fixtures::{account, group, join, later, registration, request, t0, terminal};
use roster_proto::api::TerminalKind;
use roster_server::domain::book::Book;
use roster_server::domain::ids::RegistrationId;
use roster_server::domain::ports::{PushClaim, Store};
use roster_server::domain::push::{PushRegistration, Subscription};
use std::sync::Arc;
use time::OffsetDateTime;

pub(crate) async fn a_renewed_registration_keeps_its_id(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let phone = terminal(&store, anna, TerminalKind::AppPassword, b"phone").await;
    let tablet = terminal(&store, anna, TerminalKind::AppPassword, b"tablet").await;
    let first = registration(anna, phone.id, Book::Contacts, "one");
    assert_eq!(
        store.upsert_push_registration(&first, 10, t0()).await.unwrap(),
        Some((first.id, true))
    );
    assert_eq!(store.push_registration(first.id).await.unwrap(), Some(first.clone()));

    // Same account, book and resource: the stored one is renewed, whatever id was proposed.
    let renewal = PushRegistration {
        id: RegistrationId::random(),
        terminal_id: tablet.id,
        subscription: Subscription {
            public_key: vec![5; 65],
            ..first.subscription.clone()
        },
        expires_at: later(7200),
        ..first.clone()
    };
    assert_eq!(
        store.upsert_push_registration(&renewal, 10, later(1)).await.unwrap(),
        Some((first.id, false))
    );
    let stored = store.push_registration(first.id).await.unwrap().unwrap();
    assert_eq!(
        stored,
        PushRegistration {
            id: first.id,
            ..renewal.clone()
        }
    );
    assert!(store.push_registration(renewal.id).await.unwrap().is_none());

    // Another book or resource is another registration.
    let other_book = registration(anna, phone.id, Book::Me, "one");
    assert_eq!(
        store.upsert_push_registration(&other_book, 10, later(2)).await.unwrap(),
        Some((other_book.id, true))
    );
}

pub(crate) async fn registrations_are_capped_per_account(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let phone = terminal(&store, anna, TerminalKind::AppPassword, b"phone").await;
    let bens = terminal(&store, ben, TerminalKind::AppPassword, b"ben").await;
    let kept: Vec<PushRegistration> = (0..3)
        .map(|n| registration(anna, phone.id, Book::Contacts, &format!("r{n}")))
        .collect();
    for r in &kept {
        assert!(store.upsert_push_registration(r, 3, t0()).await.unwrap().is_some());
    }
    let fourth = registration(anna, phone.id, Book::Contacts, "r3");
    assert_eq!(store.upsert_push_registration(&fourth, 3, t0()).await.unwrap(), None);
    assert!(store.push_registration(fourth.id).await.unwrap().is_none());
    // Renewing one held is no new registration; another account has its own allowance.
    assert_eq!(
        store.upsert_push_registration(&kept[0], 3, later(1)).await.unwrap(),
        Some((kept[0].id, false))
    );
    let other = registration(ben, bens.id, Book::Contacts, "b");
    assert!(store.upsert_push_registration(&other, 3, t0()).await.unwrap().is_some());
}

pub(crate) async fn registrations_are_found_by_group_and_book(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let club = group(&store, anna, "Club").await;
    let other = group(&store, anna, "Other").await;
    join(&store, club, ben).await;
    request(&store, club, carl).await;
    let anna_phone = terminal(&store, anna, TerminalKind::AppPassword, b"a").await;
    let ben_phone = terminal(&store, ben, TerminalKind::AppPassword, b"b").await;
    let carl_phone = terminal(&store, carl, TerminalKind::AppPassword, b"c").await;
    let anna_contacts = registration(anna, anna_phone.id, Book::Contacts, "a1");
    let anna_club = registration(anna, anna_phone.id, Book::Group(club), "a2");
    let anna_other = registration(anna, anna_phone.id, Book::Group(other), "a3");
    let anna_me = registration(anna, anna_phone.id, Book::Me, "a4");
    let ben_club = registration(ben, ben_phone.id, Book::Group(club), "b1");
    let carl_contacts = registration(carl, carl_phone.id, Book::Contacts, "c1");
    for r in [
        &anna_contacts,
        &anna_club,
        &anna_other,
        &anna_me,
        &ben_club,
        &carl_contacts,
    ] {
        store.upsert_push_registration(r, 10, t0()).await.unwrap();
    }

    let mut for_club = store.push_registrations_for_group(club).await.unwrap();
    for_club.sort();
    let mut expected = vec![anna_contacts.id, anna_club.id, ben_club.id];
    expected.sort();
    assert_eq!(for_club, expected, "active members' contacts and club books only");

    let mut of_anna = store
        .push_registrations_of(anna, &[Book::Me, Book::Group(club)])
        .await
        .unwrap();
    of_anna.sort();
    let mut expected = vec![(anna_me.id, anna_phone.id), (anna_club.id, anna_phone.id)];
    expected.sort();
    assert_eq!(of_anna, expected);
    assert!(store.push_registrations_of(ben, &[Book::Me]).await.unwrap().is_empty());
}

pub(crate) async fn registrations_are_deleted_by_their_account_and_purged_when_lapsed(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let phone = terminal(&store, anna, TerminalKind::AppPassword, b"phone").await;
    let first = registration(anna, phone.id, Book::Contacts, "one");
    let second = registration(anna, phone.id, Book::Me, "two");
    let lapsing = PushRegistration {
        expires_at: later(100),
        ..registration(anna, phone.id, Book::Contacts, "three")
    };
    for r in [&first, &second, &lapsing] {
        store.upsert_push_registration(r, 10, t0()).await.unwrap();
    }

    assert!(
        !store.delete_push_registration(Some(ben), first.id).await.unwrap(),
        "not Ben's"
    );
    assert!(store.delete_push_registration(Some(anna), first.id).await.unwrap());
    assert!(
        !store.delete_push_registration(Some(anna), first.id).await.unwrap(),
        "gone"
    );
    assert!(
        store.delete_push_registration(None, second.id).await.unwrap(),
        "by the server"
    );
    assert!(store.push_registration(second.id).await.unwrap().is_none());

    let at: OffsetDateTime = later(99);
    assert_eq!(store.purge_push_registrations(at).await.unwrap(), 0);
    assert_eq!(store.purge_push_registrations(later(100)).await.unwrap(), 1);
    assert!(store.push_registration(lapsing.id).await.unwrap().is_none());
}

pub(crate) async fn each_token_is_claimed_once_per_registration_and_window(store: Arc<dyn Store>) {
    let window = std::time::Duration::from_millis(1500);
    let anna = account(&store, "anna").await;
    let phone = terminal(&store, anna, TerminalKind::AppPassword, b"phone").await;
    let contacts = registration(anna, phone.id, Book::Contacts, "one");
    let me = registration(anna, phone.id, Book::Me, "two");
    for r in [&contacts, &me] {
        store.upsert_push_registration(r, 10, t0()).await.unwrap();
    }

    assert_eq!(
        store.claim_push(contacts.id, "t1", t0(), window).await.unwrap(),
        PushClaim::Claimed
    );
    assert_eq!(
        store.claim_push(contacts.id, "t1", later(60), window).await.unwrap(),
        PushClaim::Told,
        "a token is told once, however late"
    );
    // A new token within the window waits for its end; after it, it is claimed.
    let soon = t0() + time::Duration::milliseconds(400);
    assert_eq!(
        store.claim_push(contacts.id, "t2", soon, window).await.unwrap(),
        PushClaim::NotBefore(t0() + time::Duration::milliseconds(1500))
    );
    let after = t0() + time::Duration::milliseconds(1500);
    assert_eq!(
        store.claim_push(contacts.id, "t2", after, window).await.unwrap(),
        PushClaim::Claimed
    );
    // Registrations are claimed apart.
    assert_eq!(
        store.claim_push(me.id, "t2", after, window).await.unwrap(),
        PushClaim::Claimed
    );
    // A renewed registration (new keys, perhaps) has been told nothing.
    store.upsert_push_registration(&contacts, 10, later(10)).await.unwrap();
    assert_eq!(
        store.claim_push(contacts.id, "t2", after, window).await.unwrap(),
        PushClaim::Claimed
    );
    // A gone registration has nothing to be told.
    store.delete_push_registration(None, me.id).await.unwrap();
    assert_eq!(
        store.claim_push(me.id, "t3", later(60), window).await.unwrap(),
        PushClaim::Told
    );

    // Instances racing for the same token: exactly one wins.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_push(contacts.id, "t4", later(120), window).await.unwrap() })
        })
        .collect();
    let mut claimed = 0;
    for racer in racers {
        if racer.await.unwrap() == PushClaim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1, "one instance pushes a token");
}
