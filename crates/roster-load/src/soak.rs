//! `soak`: a fixed mix of what terminals do — directory reads, card writes, incremental
//! CardDAV syncs, stream connects and disconnects — at a fixed rate for a given time, against
//! a running server. Every `every` seconds it prints the server's RSS and open files and each
//! operation's count and p50/p99; at the end it fails when RSS or open files grew beyond the
//! bounds from the first report (after the warm-up: pools and caches filled) to the last, or
//! when any operation failed.
//!
//! Every request goes to the server under test on loopback.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use roster_proto::stream::{ClientFrame, ServerFrame};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// The server under test and the credentials the mix uses.
pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) pid: u32,
    pub(crate) group: Uuid,
    /// Session tokens of members: readers, writers and stream terminals.
    pub(crate) sessions: Vec<String>,
    /// (login, app password) of members' phones.
    pub(crate) phones: Vec<(String, String)>,
}

/// How long, how fast, and the bounds.
pub(crate) struct Settings {
    pub(crate) seconds: u64,
    /// Operations per second, all kinds together.
    pub(crate) rate: u32,
    /// Seconds between two reports.
    pub(crate) every: u64,
    pub(crate) max_rss_growth_kib: u64,
    pub(crate) max_fd_growth: u64,
}

/// The kinds of operation, in the order the mix takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Read,
    Write,
    Sync,
    Stream,
}

const MIX: [Op; 4] = [Op::Read, Op::Write, Op::Sync, Op::Stream];
/// Operations in flight at most; beyond it a tick is skipped (and counted).
const IN_FLIGHT: usize = 64;

/// What the operations of one report period did.
#[derive(Default)]
struct Window {
    latencies: BTreeMap<Op, Vec<Duration>>,
    failures: BTreeMap<Op, Vec<String>>,
}

/// The server's resident memory (KiB) and open files.
fn usage(pid: u32) -> (u64, u64) {
    let rss = crate::rss_kib(pid).map_or(0, |(rss, _)| rss);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count() as u64);
    (rss, fds)
}

struct Shared {
    target: Target,
    http: reqwest::Client,
    window: Mutex<Window>,
    /// Each phone's sync token, and each session's stream cursor.
    tokens: Vec<tokio::sync::Mutex<String>>,
    cursors: Vec<tokio::sync::Mutex<i64>>,
    written: AtomicU64,
}

impl Shared {
    async fn run(&self, op: Op, n: usize) -> anyhow::Result<()> {
        let sessions = &self.target.sessions;
        let session = &sessions[n % sessions.len()];
        let base = &self.target.base;
        match op {
            Op::Read => {
                let response = self
                    .http
                    .get(format!(
                        "{base}/api/v1/groups/{}/directory?limit=100",
                        self.target.group
                    ))
                    .bearer_auth(session)
                    .send()
                    .await?;
                check(response.status())?;
                response.bytes().await?;
            }
            Op::Write => {
                let number = 2_000_000 + self.written.fetch_add(1, Ordering::Relaxed) % 7_000_000;
                let response = self
                    .http
                    .put(format!("{base}/api/v1/me/card"))
                    .bearer_auth(session)
                    .json(&crate::card(&format!("Soak {n}"), number))
                    .send()
                    .await?;
                check(response.status())?;
            }
            Op::Sync => {
                let phone = n % self.target.phones.len();
                let (login, password) = &self.target.phones[phone];
                let mut token = self.tokens[phone].lock().await;
                let body = format!(
                    r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
                );
                let response = self
                    .http
                    .request(
                        reqwest::Method::from_bytes(b"REPORT")?,
                        format!("{base}/dav/addressbooks/{login}/contacts/"),
                    )
                    .basic_auth(login, Some(password))
                    .header("content-type", "application/xml")
                    .body(body)
                    .send()
                    .await?;
                check(response.status())?;
                let text = response.text().await?;
                let start = text.find("<D:sync-token>").context("no sync-token")? + "<D:sync-token>".len();
                let end = start + text[start..].find('<').context("no sync-token end")?;
                *token = text[start..end].to_string();
            }
            Op::Stream => {
                let mut cursor = self.cursors[n % sessions.len()].lock().await;
                let url = format!("{}/api/v1/stream", base.replacen("http", "ws", 1));
                let mut request = url.into_client_request()?;
                request
                    .headers_mut()
                    .insert("authorization", format!("Bearer {session}").parse()?);
                let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
                let cursors = [(self.target.group, *cursor)].into_iter().collect();
                ws.send(Message::text(serde_json::to_string(&ClientFrame::Hello { cursors })?))
                    .await?;
                // Caught up once the group's cursor frame comes; then hang up, as a phone
                // going to sleep does.
                loop {
                    let Some(message) = ws.next().await else {
                        bail!("the stream closed before catching up")
                    };
                    let Message::Text(text) = message? else { continue };
                    if !text.as_str().starts_with(r#"{"type":"cursor""#) {
                        continue;
                    }
                    if let ServerFrame::Cursor { group, cursor: at } = serde_json::from_str(text.as_str())?
                        && group == self.target.group
                    {
                        *cursor = at;
                        break;
                    }
                }
                ws.close(None).await?;
            }
        }
        Ok(())
    }
}

fn check(status: reqwest::StatusCode) -> anyhow::Result<()> {
    if status.is_success() {
        Ok(())
    } else {
        bail!("answered {status}")
    }
}

/// Runs the mix and reports; an error when a bound was broken or an operation failed.
pub(crate) async fn run(target: Target, settings: Settings) -> anyhow::Result<()> {
    if target.sessions.is_empty() || target.phones.is_empty() {
        bail!("soak needs terminals and phones");
    }
    let shared = Arc::new(Shared {
        tokens: target.phones.iter().map(|_| Default::default()).collect(),
        cursors: target.sessions.iter().map(|_| Default::default()).collect(),
        http: reqwest::Client::new(),
        window: Mutex::default(),
        written: AtomicU64::new(0),
        target,
    });
    let pid = shared.target.pid;
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs(1) / settings.rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = Duration::from_secs(settings.every.max(1));
    let started = Instant::now();
    let end = started + Duration::from_secs(settings.seconds);
    let mut next_report = started + every;
    let mut reports: Vec<(u64, u64)> = Vec::new();
    let (mut skipped, mut failed_total, mut n) = (0u64, 0usize, 0usize);
    println!(
        "soak: {} operations/s for {} s (reads, writes, CardDAV syncs, stream connects in turn), \
         a report every {} s",
        settings.rate,
        settings.seconds,
        every.as_secs()
    );
    while Instant::now() < end {
        tick.tick().await;
        let op = MIX[n % MIX.len()];
        n += 1;
        match gate.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                // Each kind cycles through the terminals on its own.
                let which = n / MIX.len();
                tokio::spawn(async move {
                    let sent = Instant::now();
                    let result = shared.run(op, which).await;
                    let mut window = shared.window.lock().unwrap_or_else(|e| e.into_inner());
                    match result {
                        Ok(()) => window.latencies.entry(op).or_default().push(sent.elapsed()),
                        Err(e) => window.failures.entry(op).or_default().push(format!("{e:#}")),
                    }
                    drop(permit);
                });
            }
            Err(_) => skipped += 1,
        }
        if Instant::now() >= next_report {
            next_report += every;
            let window = std::mem::take(&mut *shared.window.lock().unwrap_or_else(|e| e.into_inner()));
            let (rss, fds) = usage(pid);
            reports.push((rss, fds));
            let mut line = format!(
                "t={:>5}s  rss {:>7.1} MiB  fds {:>4}",
                started.elapsed().as_secs(),
                rss as f64 / 1024.0,
                fds
            );
            for op in MIX {
                let mut latencies = window.latencies.get(&op).cloned().unwrap_or_default();
                latencies.sort();
                let failed = window.failures.get(&op).map_or(0, Vec::len);
                line.push_str(&format!(
                    "  {op:?} n={} p50 {:.1?} p99 {:.1?}{}",
                    latencies.len(),
                    crate::percentile(&latencies, 0.50),
                    crate::percentile(&latencies, 0.99),
                    if failed > 0 {
                        format!(" FAILED {failed}")
                    } else {
                        String::new()
                    }
                ));
            }
            if skipped > 0 {
                line.push_str(&format!("  skipped {skipped}"));
            }
            println!("{line}");
            for (op, failures) in &window.failures {
                failed_total += failures.len();
                if let Some(first) = failures.first() {
                    println!("  {op:?} failed {} times, first: {first}", failures.len());
                }
            }
        }
    }
    // Let the last operations finish.
    let _ = gate.acquire_many(IN_FLIGHT as u32).await;
    let window = std::mem::take(&mut *shared.window.lock().unwrap_or_else(|e| e.into_inner()));
    failed_total += window.failures.values().map(Vec::len).sum::<usize>();
    let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
        bail!("the soak ended before its first report: run it longer than --every");
    };
    let rss_growth = last.0.saturating_sub(first.0);
    let fd_growth = last.1.saturating_sub(first.1);
    println!(
        "soak over: from the first report to the last, RSS {:+.1} MiB (bound {:.1} MiB), open files {:+} \
         (bound {}); {n} operations started, {skipped} skipped, {failed_total} failed",
        rss_growth as f64 / 1024.0,
        settings.max_rss_growth_kib as f64 / 1024.0,
        fd_growth,
        settings.max_fd_growth
    );
    if rss_growth > settings.max_rss_growth_kib {
        bail!("the server's RSS grew by {} KiB, beyond the bound", rss_growth);
    }
    if fd_growth > settings.max_fd_growth {
        bail!("the server's open files grew by {fd_growth}, beyond the bound");
    }
    if failed_total > 0 {
        bail!("{failed_total} operations failed");
    }
    Ok(())
}
