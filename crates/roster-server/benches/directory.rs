//! Directory and incremental-sync reads on SQLite for groups of 100, 10,000 and 100,000
//! members. The claim to check: a one-change incremental read costs about the same whatever
//! the group size, because it reads the change log, not the group; and a full batch of
//! changes costs what its subjects cost, not their square.
//!
//! Run: `cargo bench -p roster-server --bench directory`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use roster_proto::api::{CardInput, PhoneInput, TerminalKind};
use roster_server::app::settings;
use roster_server::bus::local::LocalBus;
use roster_server::config::Config;
use roster_server::domain::Roster;
use roster_server::domain::card::Card;
use roster_server::domain::ids::GroupId;
use roster_server::domain::ports::{DirectoryStore, GroupStore};
use roster_server::domain::share_policy::ShareFields;
use roster_server::domain::terminal::Caller;
use roster_server::store::sqlite::SqliteStore;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::runtime::Runtime;

struct Seeded {
    roster: Roster,
    viewer: Caller,
    group: GroupId,
    version: i64,
    _dir: tempfile::TempDir,
}

fn card(i: usize) -> Card {
    common::parse_card(&CardInput {
        formatted_name: format!("Member {i}"),
        phones: vec![PhoneInput {
            number: format!("+49 30 {:07}", 1_000_000 + i),
            kind: None,
        }],
        ..CardInput::default()
    })
}

/// Seeds a group, then changes one member's card so that there is exactly one new change.
async fn seed(members: usize) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.rates.reads_per_minute = u32::MAX;
    let store = Arc::new(SqliteStore::connect(&config.database_url).await.unwrap());
    let seeded = common::seed_group(&store, members, card, ShareFields::default_policy()).await;
    let bus = Arc::new(LocalBus::default());
    let roster = Roster::new(store.clone(), bus, settings(&config, String::new()));
    let (token, _) = roster
        .create_terminal(seeded.members[0], "bench".into(), TerminalKind::Session)
        .await
        .unwrap();
    let viewer = roster.authenticate(&token).await.unwrap();
    // One change: the last member's number.
    let last = *seeded.members.last().unwrap();
    store
        .set_card(last, &card(members + 1), 1, ShareFields::ALL, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let version = store.group(seeded.group).await.unwrap().unwrap().version;
    Seeded {
        roster,
        viewer,
        group: seeded.group,
        version,
        _dir: dir,
    }
}

fn directory_and_changes(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut reads = c.benchmark_group("sqlite");
    reads.sample_size(50);
    for members in [100usize, 10_000, 100_000] {
        let seeded = runtime.block_on(seed(members));
        reads.bench_function(format!("directory first page of 100/{members} members"), |b| {
            b.to_async(&runtime).iter(|| async {
                let page = seeded
                    .roster
                    .directory(&seeded.viewer, seeded.group, None, Some(100), None)
                    .await
                    .unwrap();
                assert_eq!(page.entries.len(), 100.min(members - 1));
            })
        });
        reads.bench_function(format!("changes since V-1 (1 change)/{members} members"), |b| {
            b.to_async(&runtime).iter(|| async {
                let changes = seeded
                    .roster
                    .changes(&seeded.viewer, seeded.group, seeded.version - 1)
                    .await
                    .unwrap();
                assert_eq!(changes.deltas.len(), 1);
            })
        });
        if members > 1000 {
            // A full batch of the log, each entry a different member: the engine's per-subject
            // work (de-duplication, matching cards to subjects) shows here, not in one change.
            reads.bench_function(
                format!("changes since V-1001 (a batch of 1000)/{members} members"),
                |b| {
                    b.to_async(&runtime).iter(|| async {
                        let changes = seeded
                            .roster
                            .changes(&seeded.viewer, seeded.group, seeded.version - 1001)
                            .await
                            .unwrap();
                        assert_eq!(changes.deltas.len(), 1000);
                    })
                },
            );
        }
        reads.bench_function(format!("phone-prefix search/{members} members"), |b| {
            b.to_async(&runtime).iter(|| async {
                let page = seeded
                    .roster
                    .directory(&seeded.viewer, seeded.group, None, Some(10), Some("+49 30 100005"))
                    .await
                    .unwrap();
                assert!(!page.entries.is_empty());
            })
        });
    }
    reads.finish();
}

criterion_group!(benches, directory_and_changes);
criterion_main!(benches);
