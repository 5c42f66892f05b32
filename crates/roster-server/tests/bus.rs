//! The buses across instances against real services: two bus instances on one channel (or
//! subject), as two server instances would be.
//!
//! PostgreSQL comes from `ROSTER_TEST_POSTGRES_URL`, NATS from `ROSTER_TEST_NATS_URL`.
//! Without the variable, or without the service, a test says it was skipped, except under
//! `CI=true`, where it fails. Each test has a channel of its own, so tests on one database or
//! server do not hear each other.

use roster_server::bus::postgres::{LISTENER_NAME, PgBus};
use roster_server::domain::ids::{AccountId, GroupId, TerminalId};
use roster_server::domain::ports::{Bus, Event, Heard, Subscription};
use std::io::Write as _;
use std::time::Duration;
use uuid::Uuid;

/// How long a test waits for one announcement before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// The service's URL from `var`, or `None` after saying the test is skipped.
fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => skip(&format!("{var} is not set")),
    }
}

/// Says the test is skipped, outside CI; fails it in CI.
fn skip<T>(why: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} (CI=true: the bus tests must run)"
    );
    // Straight to stderr: the harness swallows `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
    None
}

/// A channel (or subject) no other test uses.
fn fresh_channel() -> String {
    format!("roster_bus_test_{}", Uuid::new_v4().simple())
}

/// Two PostgreSQL buses on one fresh channel, and that channel.
async fn pg_pair() -> Option<(PgBus, PgBus, String)> {
    let url = service("ROSTER_TEST_POSTGRES_URL")?;
    let channel = fresh_channel();
    let first = match PgBus::connect(&url, &channel).await {
        Ok(bus) => bus,
        Err(error) => return skip(&format!("PostgreSQL at ROSTER_TEST_POSTGRES_URL: {error:#}")),
    };
    let second = PgBus::connect(&url, &channel).await.unwrap();
    Some((first, second, channel))
}

/// A plain connection to the test database, to act on the bus from outside.
async fn pg_admin() -> sqlx::PgPool {
    let url = std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

/// One of every kind of announcement.
fn every_variant() -> Vec<Event> {
    vec![
        Event::GroupVersion {
            group: GroupId::random(),
            version: 42,
        },
        Event::Membership {
            account: AccountId::random(),
            group: GroupId::random(),
        },
        Event::GroupRenamed {
            group: GroupId::random(),
        },
        Event::CardChanged {
            account: AccountId::random(),
            revision: 7,
        },
        Event::TerminalRevoked {
            terminal: TerminalId::random(),
        },
        Event::AccountClosed {
            account: AccountId::random(),
        },
    ]
}

/// The next thing heard, failing the test if nothing comes in time.
async fn next(subscription: &mut Subscription) -> Heard {
    tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("nothing heard in time")
        .expect("the bus is gone")
}

/// What one instance publishes the other hears once, and the publisher hears once too (its
/// own delivery), never again as an echo.
async fn each_event_is_heard_once_on_each_instance(first: &dyn Bus, second: &dyn Bus) {
    let mut here = first.subscribe();
    let mut there = second.subscribe();
    let events = every_variant();
    events.iter().for_each(|event| first.publish(*event));
    for event in &events {
        assert_eq!(next(&mut here).await, Heard::Event(*event), "delivered where published");
        assert_eq!(
            next(&mut there).await,
            Heard::Event(*event),
            "carried to the other instance"
        );
    }
    // Messages from the two instances reach each in the order sent: once the second's
    // answer arrives, an echo of the first's own events would have come before it.
    let answer = Event::GroupRenamed {
        group: GroupId::random(),
    };
    second.publish(answer);
    assert_eq!(next(&mut there).await, Heard::Event(answer));
    assert_eq!(next(&mut here).await, Heard::Event(answer), "no echo before the answer");
    let last = Event::AccountClosed {
        account: AccountId::random(),
    };
    first.publish(last);
    assert_eq!(next(&mut here).await, Heard::Event(last));
    assert_eq!(
        next(&mut there).await,
        Heard::Event(last),
        "no echo of the answer on its sender"
    );
}

/// Ten thousand announcements published at once: publishing returns at once, and the other
/// instance hears them in order up to the last, having heard or missed (if its subscriber
/// lagged) every one.
/// `lossless`: the transport loses nothing it accepted (PostgreSQL's NOTIFY queue), so every
/// announcement is heard or counted as missed; NATS core drops messages to a slow consumer
/// without always saying so, which the bus tolerates by design (the log is the truth and
/// streams re-check their groups' versions), so there only order and the tail are promised.
async fn a_burst_reaches_the_other_instance_up_to_its_tail(first: &dyn Bus, second: &dyn Bus, lossless: bool) {
    const BURST: i64 = 10_000;
    let mut there = second.subscribe();
    let group = GroupId::random();
    for version in 1..=BURST {
        first.publish(Event::GroupVersion { group, version });
    }
    let (mut heard, mut lagged, mut last) = (0, 0, 0);
    while last < BURST {
        match next(&mut there).await {
            Heard::Event(Event::GroupVersion { group: g, version }) if g == group => {
                assert!(version > last, "in order: {version} after {last}");
                heard += 1;
                last = version;
            }
            Heard::Missed(0) if lossless => panic!("no connection was lost"),
            Heard::Missed(0) => {}
            Heard::Missed(missed) => lagged += missed,
            other => panic!("unexpected {other:?}"),
        }
    }
    if lossless {
        assert_eq!(heard + i64::try_from(lagged).unwrap(), BURST);
    } else {
        assert!(heard + i64::try_from(lagged).unwrap() <= BURST, "nothing heard twice");
        assert!(heard > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bus_carries_each_event_of_every_kind_once_to_the_other_instance() {
    let Some((first, second, _)) = pg_pair().await else {
        return;
    };
    each_event_is_heard_once_on_each_instance(&first, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bus_takes_a_burst_without_blocking_or_losing_the_tail() {
    let Some((first, second, _)) = pg_pair().await else {
        return;
    };
    a_burst_reaches_the_other_instance_up_to_its_tail(&first, &second, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bus_listeners_cut_off_tell_subscribers_they_missed_some_then_hear_again() {
    let Some((first, second, channel)) = pg_pair().await else {
        return;
    };
    let mut here = first.subscribe();
    let mut there = second.subscribe();
    let admin = pg_admin().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query = $2",
    )
    .bind(LISTENER_NAME)
    .bind(format!(r#"LISTEN "{channel}""#))
    .fetch_all(&admin)
    .await
    .unwrap();
    assert_eq!(killed, [true, true], "both instances' listeners");
    assert_eq!(next(&mut here).await, Heard::Missed(0));
    assert_eq!(next(&mut there).await, Heard::Missed(0));
    // Both listen again before they say so: what is published now is heard.
    let event = Event::GroupVersion {
        group: GroupId::random(),
        version: 2,
    };
    first.publish(event);
    assert_eq!(next(&mut there).await, Heard::Event(event));
    second.publish(event);
    assert_eq!(next(&mut here).await, Heard::Event(event), "the local delivery");
    assert_eq!(next(&mut here).await, Heard::Event(event), "and the other instance's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bus_ignores_a_malformed_notification() {
    let Some((first, second, channel)) = pg_pair().await else {
        return;
    };
    let mut there = second.subscribe();
    let admin = pg_admin().await;
    let sender = Uuid::new_v4();
    let group = GroupId::random();
    for payload in [
        "garbage".to_owned(),
        String::new(),
        format!("2 {sender}\nv {group} 1"),
        format!("1 {sender}\nv {group} not-a-number"),
        format!("1 {sender}\nx {group}"),
        format!("1 {sender}\n\u{1F600}"),
    ] {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&channel)
            .bind(payload)
            .execute(&admin)
            .await
            .unwrap();
    }
    let event = Event::GroupRenamed { group };
    first.publish(event);
    assert_eq!(
        next(&mut there).await,
        Heard::Event(event),
        "only the real announcement"
    );
}

#[tokio::test]
async fn postgres_bus_refuses_a_channel_postgres_would_truncate() {
    let error = PgBus::connect("postgres://127.0.0.1/test", &"c".repeat(64))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("1 to 63 bytes"), "{error}");
}

#[cfg(feature = "nats")]
mod nats {
    use super::*;
    use roster_server::bus::nats::NatsBus;

    /// Two NATS buses on one fresh subject, and that subject with the server's URL.
    async fn pair() -> Option<(NatsBus, NatsBus, String, String)> {
        let url = service("ROSTER_TEST_NATS_URL")?;
        let subject = fresh_channel().replace('_', ".");
        let first = match NatsBus::connect(&url, &subject).await {
            Ok(bus) => bus,
            Err(error) => return skip(&format!("NATS at ROSTER_TEST_NATS_URL: {error:#}")),
        };
        let second = NatsBus::connect(&url, &subject).await.unwrap();
        Some((first, second, subject, url))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nats_bus_carries_each_event_of_every_kind_once_to_the_other_instance() {
        let Some((first, second, ..)) = pair().await else {
            return;
        };
        each_event_is_heard_once_on_each_instance(&first, &second).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nats_bus_takes_a_burst_without_blocking_or_losing_the_tail() {
        let Some((first, second, ..)) = pair().await else {
            return;
        };
        a_burst_reaches_the_other_instance_up_to_its_tail(&first, &second, false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nats_bus_ignores_a_malformed_message() {
        let Some((first, second, subject, url)) = pair().await else {
            return;
        };
        let mut there = second.subscribe();
        let raw = async_nats::connect(url).await.unwrap();
        let group = GroupId::random();
        for payload in [
            b"garbage".to_vec(),
            Vec::new(),
            vec![0xff, 0xfe, b'\n'],
            format!("1 {}\nv {group} x", Uuid::new_v4()).into_bytes(),
        ] {
            raw.publish(subject.clone(), payload.into()).await.unwrap();
        }
        raw.flush().await.unwrap();
        let event = Event::GroupRenamed { group };
        first.publish(event);
        assert_eq!(
            next(&mut there).await,
            Heard::Event(event),
            "only the real announcement"
        );
    }
}
