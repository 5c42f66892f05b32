//! A directory that outgrows one box, on SQLite and PostgreSQL side by side in one run:
//! 1,000,000 accounts of which 100,000 are one group, seeded through the bulk path.
//!
//! Figures (medians, through the domain's use cases as the HTTP handlers call them):
//! - the directory's first page (100 cards) and the whole directory read by a new terminal
//!   (pages of 1,000; goal < 3 s on SQLite);
//! - a 1-change incremental read, next to the same read in a group of 100 (goal: same cost);
//! - card writes per second sustained by 8 writers of the big group, on one instance and, on
//!   PostgreSQL, on two instances (two pools, two buses) sharing the database.
//!
//! Run: `cargo bench -p roster-server --bench scale`. PostgreSQL is measured when
//! `ROSTER_TEST_POSTGRES_URL` names one (each run in a schema of its own, dropped after).
//! `ROSTER_BENCH_ACCOUNTS`, `ROSTER_BENCH_GROUP` and `ROSTER_BENCH_WRITE_SECONDS` change the
//! sizes (defaults 1,000,000, 100,000 and 10); `ROSTER_BENCH_ONLY=sqlite` or `postgres`
//! measures one backend.
//!
//! `ROSTER_BENCH_SIZES=100,1000,10000,100000` measures instead the reads and the one-change
//! read at each group size (each in a database of its own, of as many accounts as members
//! unless `ROSTER_BENCH_ACCOUNTS` asks for more), with no write test: the curves of
//! `docs/BENCHMARKS.md` (`roster-report run`). With `ROSTER_BENCH_OUT` set, every figure is
//! also appended to that file as a JSON line (`group-size-directory`, `group-size-changes`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/card.rs"]
mod card;
#[path = "common/out.rs"]
mod out;

use roster_proto::api::{CardInput, PhoneInput, TerminalKind};
use roster_server::app::settings;
use roster_server::config::Config;
use roster_server::domain::Roster;
use roster_server::domain::card::Card;
use roster_server::domain::directory::encode_cursor;
use roster_server::domain::ids::GroupId;
use roster_server::domain::share_policy::ShareFields;
use roster_server::domain::terminal::Caller;
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::{Database, Migrate, bulk};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn input(i: usize) -> CardInput {
    CardInput {
        formatted_name: format!("Member {i}"),
        phones: vec![PhoneInput {
            number: format!("+49 30 {:07}", 1_000_000 + i % 9_000_000),
            kind: None,
        }],
        ..CardInput::default()
    }
}

fn card(i: usize) -> Card {
    card::parse_card(&input(i))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config() -> Config {
    let mut config = Config::for_tests(std::path::Path::new("unused"));
    config.rates.reads_per_minute = u32::MAX;
    config.rates.card_writes_per_minute = u32::MAX;
    config
}

/// One instance: a store of its own (its own pool) and the bus the URL implies.
async fn instance(url: &str) -> Roster {
    let database = Database::open(url, &Default::default(), Migrate::Yes).await.unwrap();
    let bus = roster_server::bus::open(None, url).await.unwrap();
    Roster::new(database.store(), bus, settings(&config(), String::new()))
}

async fn caller(roster: &Roster, account: roster_server::domain::ids::AccountId) -> Caller {
    let (token, _) = roster
        .create_terminal(account, "bench".into(), TerminalKind::Session)
        .await
        .unwrap();
    roster.authenticate(&token).await.unwrap()
}

struct Seeded {
    roster: Roster,
    viewer: Caller,
    writers: Vec<roster_server::domain::ids::AccountId>,
    group: GroupId,
    version: i64,
}

/// Seeds `accounts` with a group of `members`, then one change (member 1's card).
async fn seed(url: &str, accounts: usize, members: usize) -> Seeded {
    let database = Database::open(url, &Default::default(), Migrate::Yes).await.unwrap();
    let started = Instant::now();
    let seeded = bulk::seed(
        &database,
        accounts,
        members,
        "not a hash",
        card,
        ShareFields::default_policy(),
    )
    .await
    .unwrap();
    println!(
        "  seeded {accounts} accounts, a group of {members}: {:.1} s (bulk path)",
        started.elapsed().as_secs_f64()
    );
    let roster = instance(url).await;
    let viewer = caller(&roster, seeded.accounts[0]).await;
    let writer = caller(&roster, seeded.accounts[1]).await;
    roster.set_card(&writer, &input(members + 1), None).await.unwrap();
    Seeded {
        roster,
        viewer,
        writers: seeded.accounts[1..9.min(members)].to_vec(),
        group: seeded.group,
        version: seeded.version + 1,
    }
}

/// Median wall time of `runs` runs of `work`.
async fn median<F, Fut>(runs: usize, mut work: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        work().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Appends a figure's point, in milliseconds, to `ROSTER_BENCH_OUT` (when set).
fn record(figure: &str, series: &str, members: usize, d: Duration) {
    out::record(figure, series, members as f64, d.as_secs_f64() * 1000.0, "ms");
}

async fn reads(name: &str, s: &Seeded, members: usize) {
    let first = median(31, || async {
        let page = s
            .roster
            .directory(&s.viewer, s.group, None, Some(100), None)
            .await
            .unwrap();
        assert_eq!(page.entries.len(), 100.min(members - 1));
    })
    .await;
    println!("  directory first page (100 cards): {}", ms(first));
    record(
        "group-size-directory",
        &format!("{name}, first page (100 cards)"),
        members,
        first,
    );
    let whole = median(3, || async {
        let mut cursor: Option<String> = None;
        let mut cards = 0;
        loop {
            let page = s
                .roster
                .directory(&s.viewer, s.group, cursor.as_deref(), Some(1000), None)
                .await
                .unwrap();
            cards += page.entries.len();
            match page.next {
                Some(next) => cursor = Some(encode_cursor(next)),
                None => break,
            }
        }
        assert_eq!(cards, members - 1);
    })
    .await;
    println!(
        "  whole directory to a new terminal ({} cards, pages of 1000): {}",
        members - 1,
        ms(whole)
    );
    record(
        "group-size-directory",
        &format!("{name}, whole directory"),
        members,
        whole,
    );
}

async fn incremental(s: &Seeded) -> Duration {
    median(201, || async {
        let changes = s.roster.changes(&s.viewer, s.group, s.version - 1).await.unwrap();
        assert_eq!(changes.deltas.len(), 1);
    })
    .await
}

/// Card writes per second by 8 writers spread over `instances` for `seconds`.
async fn writes(instances: &[Arc<Roster>], s: &Seeded, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (n, writer) in s.writers.iter().enumerate() {
        let roster = instances[n % instances.len()].clone();
        let caller = caller(&roster, *writer).await;
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < until {
                i += 1;
                roster
                    .set_card(&caller, &input(5_000_000 + n * 100_000 + i), None)
                    .await
                    .unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn backend(name: &str, url: &str, small_url: &str, accounts: usize, members: usize, seconds: u64) {
    println!("{name}");
    let big = seed(url, accounts, members).await;
    reads(name, &big, members).await;
    let small = seed(small_url, 100, 100).await;
    let (at_big, at_small) = (incremental(&big).await, incremental(&small).await);
    println!(
        "  1-change incremental read: {} at {members} members, {} at 100 members",
        ms(at_big),
        ms(at_small)
    );
    record("group-size-changes", name, 100, at_small);
    record("group-size-changes", name, members, at_big);
    let one = writes(&[Arc::new(instance(url).await)], &big, seconds).await;
    println!("  card writes, 8 writers, one instance: {one:.0}/s");
    if name == "PostgreSQL" {
        let two = [Arc::new(instance(url).await), Arc::new(instance(url).await)];
        let rate = writes(&two, &big, seconds).await;
        println!("  card writes, 8 writers, two instances: {rate:.0}/s");
    }
}

/// The reads and the one-change read at each group size of `sizes`, each group in a database
/// of its own made by `url(size)`.
async fn sweep(name: &str, url: impl Fn(usize) -> String, accounts: Option<usize>, sizes: &[usize]) {
    println!("{name}");
    for &members in sizes {
        let seeded = seed(&url(members), accounts.unwrap_or(members).max(members), members).await;
        reads(name, &seeded, members).await;
        let one = incremental(&seeded).await;
        println!("  1-change incremental read at {members} members: {}", ms(one));
        record("group-size-changes", name, members, one);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` from the harness is ignored.
    let accounts = env_or("ROSTER_BENCH_ACCOUNTS", 1_000_000);
    let members = env_or("ROSTER_BENCH_GROUP", 100_000).min(accounts);
    let seconds = env_or("ROSTER_BENCH_WRITE_SECONDS", 10) as u64;
    let sizes: Option<Vec<usize>> = std::env::var("ROSTER_BENCH_SIZES").ok().map(|s| {
        s.split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|n| *n >= 2)
            .collect()
    });
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
        let only = std::env::var("ROSTER_BENCH_ONLY").unwrap_or_default();
        if let Some(sizes) = &sizes {
            let wanted = std::env::var("ROSTER_BENCH_ACCOUNTS").ok().and_then(|v| v.parse().ok());
            if only != "postgres" {
                sweep("SQLite", |n| sqlite(&format!("sweep-{n}.db")), wanted, sizes).await;
            }
            if only == "sqlite" {
                return;
            }
            let mut schemas = Vec::new();
            for &n in sizes {
                match TestSchema::from_env(&format!("scale_{n}")).await {
                    Some(schema) => schemas.push((n, schema)),
                    None => {
                        println!("PostgreSQL: not measured");
                        return;
                    }
                }
            }
            let url = |n: usize| {
                let found = schemas.iter().find(|(size, _)| *size == n);
                found.map(|(_, schema)| schema.url().to_string()).unwrap_or_default()
            };
            sweep("PostgreSQL", url, wanted, sizes).await;
            return;
        }
        if only != "postgres" {
            backend(
                "SQLite",
                &sqlite("big.db"),
                &sqlite("small.db"),
                accounts,
                members,
                seconds,
            )
            .await;
        }
        if only == "sqlite" {
            return;
        }
        if let Some(big) = TestSchema::from_env("scale").await {
            let small = TestSchema::from_env("scale_small").await.unwrap();
            backend("PostgreSQL", big.url(), small.url(), accounts, members, seconds).await;
        } else {
            println!("PostgreSQL: not measured");
        }
    });
}
