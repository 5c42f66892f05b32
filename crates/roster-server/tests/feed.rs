//! The feed engine under faults, driven through the library: a bus that loses messages, and
//! a terminal that stops reading while changes pile up.

use roster_proto::api::{CardInput, CreateGroupRequest, LoginRequest, PhoneInput, RegisterRequest, TerminalKind};
use roster_server::Config;
use roster_server::app::settings;
use roster_server::bus::local::LocalBus;
use roster_server::domain::Roster;
use roster_server::domain::feed::FeedItem;
use roster_server::domain::ports::{Bus, Event, Subscription};
use roster_server::domain::sync::Delta;
use roster_server::domain::terminal::Caller;
use roster_server::store::sqlite::SqliteStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A bus that silently drops group-version announcements while `lose` is set.
struct LossyBus {
    inner: LocalBus,
    lose: AtomicBool,
}

impl Bus for LossyBus {
    fn publish(&self, event: Event) {
        if self.lose.load(Ordering::SeqCst) && matches!(event, Event::GroupVersion { .. }) {
            return;
        }
        self.inner.publish(event);
    }

    fn subscribe(&self) -> Subscription {
        self.inner.subscribe()
    }
}

async fn setup(bus: Arc<dyn Bus>) -> (Arc<Roster>, Caller, Caller, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path());
    let store = Arc::new(SqliteStore::connect(&config.database_url).await.unwrap());
    let roster = Arc::new(Roster::new(store, bus, settings(&config, "http://localhost".into())));
    tokio::spawn(roster.clone().run_hub());
    let mut callers = Vec::new();
    for login in ["anna", "ben"] {
        let register = RegisterRequest {
            login: login.into(),
            password: "long enough".into(),
            display_name: None,
            invite: None,
        };
        roster.register(&register, None).await.unwrap();
        let login = LoginRequest {
            login: login.into(),
            password: "long enough".into(),
            terminal_name: None,
        };
        let (token, _, _) = roster.login(&login, TerminalKind::Session, None).await.unwrap();
        callers.push(roster.authenticate(&token).await.unwrap());
    }
    let ben = callers.pop().unwrap();
    let anna = callers.pop().unwrap();
    let request = CreateGroupRequest {
        name: "G".into(),
        description: None,
        join_policy: None,
        member_limit: None,
    };
    let group = roster.create_group(&anna, &request).await.unwrap().group.id;
    let code = roster
        .create_invite(&anna, group, &Default::default())
        .await
        .unwrap()
        .code;
    roster.accept_invite(&ben, &code).await.unwrap();
    (roster, anna, ben, dir)
}

fn card(n: u32) -> CardInput {
    CardInput {
        formatted_name: "Ben".into(),
        phones: vec![PhoneInput {
            number: format!("030 {n}"),
            kind: None,
        }],
        ..CardInput::default()
    }
}

fn last_phone(items: &[FeedItem]) -> Option<String> {
    items.iter().rev().find_map(|item| match item {
        FeedItem::Changes(batch) => batch.deltas.iter().rev().find_map(|d| match d {
            Delta::Upsert(_, card) => card.phones.first().map(|p| p.number.clone()),
            Delta::Remove(_) => None,
        }),
        _ => None,
    })
}

#[tokio::test]
async fn a_lost_bus_message_only_delays_until_the_periodic_check() {
    let bus = Arc::new(LossyBus {
        inner: LocalBus::default(),
        lose: AtomicBool::new(false),
    });
    let (roster, anna, ben, _dir) = setup(bus.clone()).await;
    let (mut feed, _) = roster.open_feed(anna, &BTreeMap::new()).await.unwrap();
    // The hub may still be delivering what setup committed: let that settle first, so that
    // only the lost announcement is missing below.
    while tokio::time::timeout(Duration::from_millis(300), feed.changed())
        .await
        .is_ok()
    {
        feed.poll().await.unwrap();
    }
    bus.lose.store(true, Ordering::SeqCst);
    roster.set_card(&ben, &card(1234567), None).await.unwrap();
    // Nothing arrives: the announcement was lost.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), feed.changed())
            .await
            .is_err()
    );
    // The periodic check finds the group ahead of the feed and catches up from the log.
    let items = feed.check().await.unwrap();
    assert_eq!(last_phone(&items).as_deref(), Some("+49301234567"));
}

#[tokio::test]
async fn a_terminal_that_stops_reading_is_bounded_and_catches_up() {
    let (roster, anna, ben, _dir) = setup(Arc::new(LocalBus::default())).await;
    let (mut stalled, _) = roster.open_feed(anna.clone(), &BTreeMap::new()).await.unwrap();
    let (mut reader, _) = roster.open_feed(anna, &BTreeMap::new()).await.unwrap();
    let mut seen = 0;
    for n in 0..400u32 {
        roster.set_card(&ben, &card(1_000_000 + n), None).await.unwrap();
        // One terminal keeps up, change by change.
        while let Ok(()) = tokio::time::timeout(Duration::from_millis(50), reader.changed()).await {
            let items = reader.poll().await.unwrap();
            seen += items.iter().filter(|i| matches!(i, FeedItem::Changes(_))).count();
            if last_phone(&items).as_deref() == Some(&format!("+4930{}", 1_000_000 + n)) {
                break;
            }
        }
    }
    assert!(seen >= 400, "the reading terminal got every change: {seen}");
    // The stalled one overflowed its bounded inbox; its next poll catches up in one go, from
    // the log, to the last change.
    let items = stalled.poll().await.unwrap();
    let batches = items.iter().filter(|i| matches!(i, FeedItem::Changes(_))).count();
    assert!(batches < 10, "caught up in a few batches, not 400: {batches}");
    assert_eq!(last_phone(&items).as_deref(), Some("+49301000399"));
}
