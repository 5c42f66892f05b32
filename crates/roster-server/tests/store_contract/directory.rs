//! The directory port: cards, directory pages and the per-group change log — gap-free
//! versions, written in the same transaction as the data, compacted from the old end.

use super::fixtures::{
    account, card, group, join, joining, later, logged_versions, refusal, request, t0, terminal, version,
};
use roster_proto::api::{CardField, MembershipState, TerminalKind};
use roster_server::domain::ids::{AccountId, GroupId};
use roster_server::domain::model::{Change, ChangeKind, DirectorySearch};
use roster_server::domain::ports::{Refusal, Store};
use roster_server::domain::share_policy::ShareFields;
use std::sync::Arc;

fn phones() -> ShareFields {
    ShareFields::of(&[CardField::Phones])
}

pub(crate) async fn a_card_write_needs_the_revision_it_was_based_on(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    assert!(store.card(anna).await.unwrap().is_none());
    let first = card("Anna", "030 1234567");
    let (revision, _) = store.set_card(anna, &first, 0, phones(), later(1)).await.unwrap();
    assert_eq!(revision, 1);
    let stored = store.card(anna).await.unwrap().unwrap();
    assert_eq!(
        (stored.card, stored.revision, stored.updated_at),
        (first.clone(), 1, later(1))
    );

    let second = card("Anna B", "030 7654321");
    assert_eq!(
        refusal(store.set_card(anna, &second, 0, phones(), later(2)).await),
        Refusal::CardChanged
    );
    assert_eq!(store.card(anna).await.unwrap().unwrap().card, first, "nothing written");
    let (revision, _) = store.set_card(anna, &second, 1, phones(), later(3)).await.unwrap();
    assert_eq!(revision, 2);
    assert_eq!(
        refusal(store.set_card(ben, &first, 1, phones(), later(3)).await),
        Refusal::CardChanged,
        "no card yet: revision 0"
    );

    // Every card, in account order, paged.
    let mut accounts = vec![anna, ben];
    for n in 0..3 {
        let other = account(&store, &format!("other{n}")).await;
        store
            .set_card(other, &card("Other", "030 1111111"), 0, phones(), later(4))
            .await
            .unwrap();
        accounts.push(other);
    }
    accounts.retain(|a| *a != ben);
    accounts.sort();
    let page = store.cards_page(None, 2).await.unwrap();
    assert_eq!(page.iter().map(|(a, _)| *a).collect::<Vec<_>>(), accounts[..2]);
    let rest = store.cards_page(Some(page[1].0), 10).await.unwrap();
    assert_eq!(rest.iter().map(|(a, _)| *a).collect::<Vec<_>>(), accounts[2..]);
    let anna_in_page = page.iter().chain(&rest).find(|(a, _)| *a == anna).unwrap();
    assert_eq!(anna_in_page.1.card, second);
}

pub(crate) async fn a_card_change_is_logged_where_the_changed_fields_are_shared(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let anna = account(&store, "anna").await;
    let sees_phones = group(&store, owner, "Phones").await;
    let sees_names = group(&store, owner, "Names").await;
    let pending = group(&store, owner, "Pending").await;
    join(&store, sees_phones, anna).await;
    join(&store, sees_names, anna).await;
    store
        .set_share(sees_names, anna, ShareFields::of(&[CardField::Name]), t0())
        .await
        .unwrap();
    request(&store, pending, anna).await;
    let (phones_before, names_before, pending_before) = (
        version(&store, sees_phones).await,
        version(&store, sees_names).await,
        version(&store, pending).await,
    );

    let (_, changes) = store
        .set_card(anna, &card("Anna", "030 1234567"), 0, phones(), later(1))
        .await
        .unwrap();

    assert_eq!(
        changes,
        vec![Change {
            group_id: sees_phones,
            version: phones_before + 1,
            subject: anna,
            kind: ChangeKind::Upsert,
        }]
    );
    assert_eq!(version(&store, sees_names).await, names_before);
    assert_eq!(version(&store, pending).await, pending_before);
    let (_, both) = store
        .set_card(anna, &card("Anna B", "030 1234567"), 1, ShareFields::ALL, later(2))
        .await
        .unwrap();
    let mut groups: Vec<GroupId> = both.iter().map(|c| c.group_id).collect();
    groups.sort();
    let mut expected = vec![sees_phones, sees_names];
    expected.sort();
    assert_eq!(groups, expected);
}

pub(crate) async fn versions_are_gap_free_under_concurrent_writers(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const ROUNDS: i64 = 6;
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let mut members = Vec::new();
    for n in 0..WRITERS {
        let member = account(&store, &format!("member{n}")).await;
        join(&store, club, member).await;
        members.push(member);
    }
    let tasks: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(n, &member)| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut returned = Vec::new();
                for round in 0..ROUNDS {
                    let name = format!("Member {n} round {round}");
                    let (_, changes) = store
                        .set_card(
                            member,
                            &card(&name, "030 1234567"),
                            round,
                            ShareFields::ALL,
                            later(round),
                        )
                        .await
                        .unwrap();
                    returned.extend(changes);
                    // Alternate the share policy, so that shares interleave with card writes.
                    let share = if round % 2 == 0 {
                        ShareFields::ALL
                    } else {
                        ShareFields::default_policy()
                    };
                    returned.extend(store.set_share(club, member, share, later(round)).await.unwrap());
                }
                returned
            })
        })
        .collect();
    let mut returned: Vec<Change> = Vec::new();
    for task in tasks {
        returned.extend(task.await.unwrap());
    }

    let log = store.changes_since(club, 0, u32::MAX).await.unwrap();
    let n = i64::try_from(log.len()).unwrap();
    assert_eq!(
        log.iter().map(|c| c.version).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>(),
        "versions 1..=N, no gap, no duplicate"
    );
    let joins = 1 + i64::try_from(WRITERS).unwrap();
    let writes = i64::try_from(WRITERS).unwrap() * ROUNDS * 2;
    assert_eq!(n, joins + writes, "every write logged once");
    assert_eq!(version(&store, club).await, n);
    returned.sort_by_key(|c| c.version);
    assert_eq!(
        returned,
        log[usize::try_from(joins).unwrap()..],
        "what the writers were told is the log"
    );
}

pub(crate) async fn every_returned_change_is_logged_and_a_refused_write_logs_nothing(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let family = group(&store, anna, "Family").await;
    let tiny = super::fixtures::group_limited(&store, carl, "Tiny", 1).await;
    let mut told: Vec<Change> = store.changes_since(family, 0, 10).await.unwrap();
    told.extend(
        store
            .join(&joining(family, ben, MembershipState::Active))
            .await
            .unwrap(),
    );
    told.extend(
        store
            .set_card(ben, &card("Ben", "030 1234567"), 0, phones(), later(1))
            .await
            .unwrap()
            .1,
    );
    told.extend(store.set_share(family, ben, ShareFields::ALL, later(2)).await.unwrap());
    told.extend(
        store
            .end_membership(family, ben, MembershipState::Removed, later(3))
            .await
            .unwrap(),
    );
    told.extend(
        store
            .join(&joining(family, carl, MembershipState::Pending))
            .await
            .unwrap(),
    );
    told.extend(store.activate_member(family, carl, later(4)).await.unwrap());
    let logged = store.changes_since(family, 0, 100).await.unwrap();
    assert_eq!(logged, told);

    // Refused writes: the log does not move.
    let before = version(&store, family).await;
    refusal(
        store
            .set_card(ben, &card("Ben", "030 1234567"), 0, phones(), later(5))
            .await,
    );
    refusal(store.join(&joining(family, carl, MembershipState::Active)).await);
    refusal(
        store
            .end_membership(family, anna, MembershipState::Left, later(5))
            .await,
    );
    refusal(store.activate_member(family, ben, later(5)).await);
    refusal(store.join(&joining(tiny, anna, MembershipState::Active)).await);
    refusal(store.delete_account(anna, later(5)).await);
    assert_eq!(version(&store, family).await, before);
    assert_eq!(store.changes_since(family, 0, 100).await.unwrap(), logged);
    assert_eq!(logged_versions(&store, tiny).await, vec![1]);
}

pub(crate) async fn directory_pages_skip_the_viewer_and_page_in_account_order(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let mut members = vec![owner];
    for n in 0..5 {
        let member = account(&store, &format!("member{n}")).await;
        join(&store, club, member).await;
        members.push(member);
    }
    store
        .set_card(members[1], &card("Has Card", "030 1234567"), 0, phones(), later(1))
        .await
        .unwrap();
    let pending = account(&store, "pending").await;
    request(&store, club, pending).await;
    store
        .end_membership(club, members[5], MembershipState::Left, later(2))
        .await
        .unwrap();
    let viewer = members[2];
    let mut expected: Vec<AccountId> = members[..5].iter().copied().filter(|m| *m != viewer).collect();
    expected.sort();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .directory_page(club, viewer, after, 2, &DirectorySearch::All)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.account_id);
        for member in &page {
            assert_eq!(member.state, MembershipState::Active);
            assert_eq!(member.share, ShareFields::default_policy());
            assert_eq!(member.card.is_some(), member.account_id == members[1]);
        }
        seen.extend(page.iter().map(|m| m.account_id));
    }
    assert_eq!(seen, expected, "active members but the viewer, in account order");
}

pub(crate) async fn directory_search_prefilters_by_name_and_phone_prefix(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let mut named = Vec::new();
    for (login, name, phone) in [
        ("anna", "Anna Schmidt", "030 1234567"),
        ("ben", "Ben 100% Müller_x", "+44 20 7946 0958"),
        ("carl", "Carl Schmidt", "089 7654321"),
    ] {
        let member = account(&store, login).await;
        join(&store, club, member).await;
        store
            .set_card(member, &card(name, phone), 0, phones(), later(1))
            .await
            .unwrap();
        named.push(member);
    }
    let search = |search: DirectorySearch| {
        let store = store.clone();
        async move {
            store
                .directory_page(club, owner, None, 10, &search)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.account_id)
                .collect::<Vec<_>>()
        }
    };
    let mut schmidts = vec![named[0], named[2]];
    schmidts.sort();
    assert_eq!(search(DirectorySearch::Name("schmidt".into())).await, schmidts);
    assert_eq!(
        search(DirectorySearch::Name("100%".into())).await,
        vec![named[1]],
        "% is literal"
    );
    assert_eq!(search(DirectorySearch::Name("r_x".into())).await, vec![named[1]]);
    assert!(
        search(DirectorySearch::Name("n%".into())).await.is_empty(),
        "% is no wildcard"
    );
    assert!(
        search(DirectorySearch::Name("n_1".into())).await.is_empty(),
        "_ is no wildcard"
    );
    assert_eq!(
        search(DirectorySearch::PhonePrefixes(vec!["4930123".into()])).await,
        vec![named[0]]
    );
    assert_eq!(
        search(DirectorySearch::PhonePrefixes(vec!["4930".into(), "4989".into()])).await,
        schmidts,
        "several readings merge in account order"
    );
    assert!(
        search(DirectorySearch::PhonePrefixes(vec!["1".into()]))
            .await
            .is_empty()
    );
}

pub(crate) async fn member_cards_reads_the_named_subjects_in_any_state(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let ben = account(&store, "ben").await;
    let carl = account(&store, "carl").await;
    let stranger = account(&store, "stranger").await;
    let club = group(&store, owner, "Club").await;
    join(&store, club, ben).await;
    join(&store, club, carl).await;
    let ben_card = card("Ben", "030 1234567");
    store.set_card(ben, &ben_card, 0, phones(), later(1)).await.unwrap();
    store
        .end_membership(club, carl, MembershipState::Removed, later(2))
        .await
        .unwrap();
    store
        .set_card(stranger, &card("Stranger", "030 7654321"), 0, phones(), later(1))
        .await
        .unwrap();

    let mut read = store
        .member_cards(club, &[ben, carl, stranger, AccountId::random()])
        .await
        .unwrap();
    read.sort_by_key(|m| m.account_id);
    let mut expected = vec![ben, carl];
    expected.sort();
    assert_eq!(
        read.iter().map(|m| m.account_id).collect::<Vec<_>>(),
        expected,
        "only members"
    );
    let of = |id| read.iter().find(|m| m.account_id == id).unwrap();
    assert_eq!(of(ben).state, MembershipState::Active);
    assert_eq!(of(ben).card, Some(ben_card));
    assert_eq!(of(carl).state, MembershipState::Removed);
    assert_eq!(of(carl).card, None);
    assert!(store.member_cards(club, &[]).await.unwrap().is_empty());
    // Many subjects at once.
    let many: Vec<AccountId> = (0..1200).map(|_| AccountId::random()).chain([ben]).collect();
    assert_eq!(store.member_cards(club, &many).await.unwrap().len(), 1);
}

pub(crate) async fn changes_since_reads_after_the_cursor_up_to_the_limit(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let other = group(&store, owner, "Other").await;
    for n in 0..5 {
        let member = account(&store, &format!("member{n}")).await;
        join(&store, club, member).await;
    }
    let page = store.changes_since(club, 2, 2).await.unwrap();
    assert_eq!(page.iter().map(|c| c.version).collect::<Vec<_>>(), vec![3, 4]);
    assert!(page.iter().all(|c| c.group_id == club && c.kind == ChangeKind::Upsert));
    assert!(store.changes_since(club, 6, 10).await.unwrap().is_empty());
    assert_eq!(logged_versions(&store, other).await, vec![1], "logs are per group");
}

pub(crate) async fn compaction_drops_old_entries_raises_the_floor_and_keeps_the_last(store: Arc<dyn Store>) {
    let owner = account(&store, "owner").await;
    let club = group(&store, owner, "Club").await;
    let quiet = group(&store, owner, "Quiet").await;
    let member = account(&store, "member").await;
    join(&store, club, member).await;
    // Versions 3..=10 at later(1..=8), on top of 1 and 2 at t0.
    for n in 1..=8 {
        let share = if n % 2 == 1 {
            ShareFields::ALL
        } else {
            ShareFields::default_policy()
        };
        store.set_share(club, member, share, later(n)).await.unwrap();
    }
    assert_eq!(version(&store, club).await, 10);

    // Keep the last 3 (8..=10), and everything younger than later(4) (versions 7 and up).
    let dropped = store.compact_log(3, later(4)).await.unwrap();
    assert_eq!(dropped, 6);
    let compacted = store.group(club).await.unwrap().unwrap();
    assert_eq!((compacted.floor, compacted.version), (6, 10));
    assert_eq!(logged_versions(&store, club).await, vec![7, 8, 9, 10]);
    assert_eq!(
        store.group(quiet).await.unwrap().unwrap().floor,
        0,
        "nothing to compact"
    );

    // Old enough now: only the last 3 stay.
    assert_eq!(store.compact_log(3, later(100)).await.unwrap(), 1);
    assert_eq!(store.group(club).await.unwrap().unwrap().floor, 7);
    assert_eq!(logged_versions(&store, club).await, vec![8, 9, 10]);
    assert_eq!(store.compact_log(3, later(100)).await.unwrap(), 0, "idempotent");
    // The log goes on from the top.
    store.set_share(club, member, phones(), later(101)).await.unwrap();
    assert_eq!(logged_versions(&store, club).await, vec![8, 9, 10, 11]);
}

pub(crate) async fn refused_edits_are_reported_again_once_per_terminal_and_book(store: Arc<dyn Store>) {
    let anna = account(&store, "anna").await;
    let ben = account(&store, "ben").await;
    let cara = account(&store, "cara").await;
    let phone = terminal(&store, anna, TerminalKind::AppPassword, b"phone").await.id;
    let laptop = terminal(&store, anna, TerminalKind::AppPassword, b"laptop").await.id;
    store.add_refetch(phone, "contacts", ben, 32, later(1)).await.unwrap();
    store.add_refetch(phone, "contacts", ben, 32, later(2)).await.unwrap();
    store.add_refetch(phone, "me", cara, 32, later(2)).await.unwrap();
    assert!(
        store.take_refetches(laptop, "contacts").await.unwrap().is_empty(),
        "another terminal's"
    );
    assert_eq!(
        store.take_refetches(phone, "contacts").await.unwrap(),
        vec![ben],
        "once"
    );
    assert!(
        store.take_refetches(phone, "contacts").await.unwrap().is_empty(),
        "taken"
    );
    assert_eq!(store.take_refetches(phone, "me").await.unwrap(), vec![cara]);

    // Bounded per terminal and book: the oldest give way.
    let mut subjects = Vec::new();
    for n in 0..5 {
        let subject = account(&store, &format!("subject{n}")).await;
        store
            .add_refetch(phone, "contacts", subject, 3, later(10 + n))
            .await
            .unwrap();
        subjects.push(subject);
    }
    let mut kept = store.take_refetches(phone, "contacts").await.unwrap();
    kept.sort();
    let mut newest = subjects[2..].to_vec();
    newest.sort();
    assert_eq!(kept, newest);

    // They go with their terminal.
    store.add_refetch(laptop, "contacts", ben, 32, later(20)).await.unwrap();
    store.revoke_terminal(anna, laptop, later(21)).await.unwrap();
    store.delete_account(anna, later(22)).await.unwrap();
    assert!(store.take_refetches(laptop, "contacts").await.unwrap().is_empty());
}
