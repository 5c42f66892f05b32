//! Server time of the web pages for a 10,000-member group: the directory's first page, a name
//! search and a phone-prefix search, each rendered through the whole router (session cookie,
//! page layer, domain, template) without a network in between. The goal: ≤ 20 ms a page.
//!
//! Run: `cargo bench -p roster-server --bench web`

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use roster_proto::api::{CardInput, PhoneInput, TerminalKind};
use roster_server::app::settings;
use roster_server::bus::local::LocalBus;
use roster_server::config::Config;
use roster_server::domain::Roster;
use roster_server::domain::card::Card;
use roster_server::domain::share_policy::ShareFields;
use roster_server::http::ready::Readiness;
use roster_server::http::{AppState, HttpSettings, metrics, router};
use roster_server::store::Database;
use roster_server::store::sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;
use tower::ServiceExt;

fn card(i: usize) -> Card {
    common::parse_card(&CardInput {
        formatted_name: format!("Member {i}"),
        phones: vec![PhoneInput {
            number: format!("+49 30 {:07}", 1_000_000 + i),
            kind: None,
        }],
        organization: Some(format!("School {}", i % 7)),
        ..CardInput::default()
    })
}

fn pages(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let members = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let (app, cookie, group) = runtime.block_on(async {
        let mut config = Config::for_tests(dir.path());
        config.rates.reads_per_minute = u32::MAX;
        let store = Arc::new(SqliteStore::connect(&config.database_url).await.unwrap());
        let seeded = common::seed_group(&store, members, card, ShareFields::ALL).await;
        let readiness = Arc::new(Readiness::new(Database::Sqlite(SqliteStore::clone(&store))));
        let roster = Arc::new(Roster::new(
            store,
            Arc::new(LocalBus::default()),
            settings(&config, "http://127.0.0.1".into()),
        ));
        let (token, _) = roster
            .create_terminal(seeded.members[0], "bench".into(), TerminalKind::Web)
            .await
            .unwrap();
        let state = AppState {
            roster,
            metrics: metrics::handle(),
            trusted_proxies: Arc::from(Vec::new()),
            metrics_token: None,
            frames: Arc::default(),
            readiness,
        };
        let settings = HttpSettings {
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            metrics_here: false,
        };
        let cookie = format!("roster_session={token}; roster_csrf=bench");
        (router(state, settings), cookie, seeded.group)
    });
    let mut bench = c.benchmark_group("web");
    bench.sample_size(50);
    let cases = [
        ("directory page (first 50)", format!("/groups/{group}")),
        ("directory name search", format!("/groups/{group}?q=Member%209999")),
        (
            "directory phone-prefix search",
            format!("/groups/{group}?q=%2B49%2030%20100005"),
        ),
    ];
    for (name, path) in cases {
        bench.bench_function(format!("{name}/{members} members"), |b| {
            b.to_async(&runtime).iter(|| async {
                let request = Request::get(&path)
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                assert!(body.len() > 1000);
            })
        });
    }
    bench.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
