//! `roster-load`: measures the live stream under load on loopback.
//!
//! It seeds a database through the server library's bulk path (rows in batches, one password
//! hash for every account, terminals without hashing: none of that is what is measured),
//! starts the real `roster serve` as a child process on that database (SQLite, or a fresh
//! PostgreSQL schema with `--postgres`, where `--instances N` starts N servers sharing it and
//! spreads the terminals over them), opens N WebSocket terminals from several loopback source addresses (one address
//! has only ~28,000 ephemeral ports), waits for their initial sync, then:
//! - `push`: changes one member's card R times and measures, per change, the delay until each
//!   terminal has received it (p50/p99/max), and the server's RSS;
//! - `idle`: holds the connections open and reports the server's RSS and per-connection cost;
//! - `soak`: with the terminals connected, drives a fixed mix of directory reads, card writes,
//!   incremental CardDAV syncs and stream connects at a fixed rate for a given time, reporting
//!   RSS, open files and latencies every 10 s, and fails when RSS or open files grow beyond a
//!   bound (see `soak.rs`);
//! - `logins`: no terminals; fires N concurrent logins with made-up names at a fresh server and
//!   reports its peak RSS, its RSS after the burst, and the answer latency p50/p99 by status.
//!
//! Every request goes to 127.0.0.1; every loop is bounded in count and time.

mod soak;
// The figure recorder the benches use (`ROSTER_BENCH_OUT`, drawn by roster-report).
#[path = "../../roster-server/benches/common/out.rs"]
mod out;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use roster_proto::api::{CardInput, PhoneInput, TerminalKind};
use roster_proto::stream::{ClientFrame, ServerFrame};
use roster_server::Config;
use roster_server::app::settings;
use roster_server::bus::local::LocalBus;
use roster_server::domain::Roster;
use roster_server::domain::card::Card;
use roster_server::domain::share_policy::ShareFields;
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::{Database, Migrate, bulk};
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// Load tests for the Roster stream. Raise the open-files limit first (`ulimit -n`): the
/// server and this tool each need one descriptor per terminal.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    test: Test,
    /// Terminals to connect.
    #[arg(long, global = true, default_value_t = 1000)]
    terminals: usize,
    /// Members of the group (terminals are spread over them).
    #[arg(long, global = true, default_value_t = 100)]
    members: usize,
    /// Loopback source addresses to spread connections over (127.0.0.1, .2, …).
    #[arg(long, global = true, default_value_t = 4)]
    sources: u8,
    /// The `roster` binary to run [default: next to this one].
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Connections opened concurrently.
    #[arg(long, global = true, default_value_t = 200)]
    concurrency: usize,
    /// Run on PostgreSQL: a fresh schema on the database this URL names (dropped afterwards)
    /// instead of a SQLite file.
    #[arg(long, global = true, value_name = "URL")]
    postgres: Option<String>,
    /// `roster serve` instances on the one database (PostgreSQL only beyond 1); terminals are
    /// spread over them in turn, the writer uses the first.
    #[arg(long, global = true, default_value_t = 1)]
    instances: usize,
    /// Run the server on these CPUs only (a `taskset` list, e.g. `0`), so that its figures
    /// are its own: the busy time of these CPUs is then reported with each change, including
    /// the kernel's network work that a process's own CPU time leaves out.
    #[arg(long, global = true, value_name = "LIST")]
    server_cpus: Option<String>,
    /// Run this tool on these CPUs only (e.g. `1`).
    #[arg(long, global = true, value_name = "LIST")]
    tool_cpus: Option<String>,
    /// Run the server in this network namespace (`ip netns exec`), reached at `--server-ip`
    /// from `--source-ip`: across a veth pair whose receive work runs on each side's own CPUs,
    /// the server's CPUs no longer do its terminals' TCP receive work, as on loopback. See
    /// `crates/roster-load/netns-pair` (needs root).
    #[arg(long, global = true, value_name = "NAME", requires_all = ["server_ip", "source_ip"])]
    server_netns: Option<String>,
    /// The address the server listens on and terminals connect to [default: 127.0.0.1].
    #[arg(long, global = true, value_name = "IP")]
    server_ip: Option<Ipv4Addr>,
    /// The one address every terminal connects from [default: spread over `--sources`].
    #[arg(long, global = true, value_name = "IP")]
    source_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Subcommand)]
enum Test {
    /// Delivery latency of card changes to every terminal.
    Push {
        /// Card changes to measure, one at a time.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Server memory with every terminal connected and idle.
    Idle {
        /// Seconds to hold the connections before measuring.
        #[arg(long, default_value_t = 5)]
        hold: u64,
    },
    /// A fixed mix (directory reads, card writes, CardDAV syncs, stream connects) at a fixed
    /// rate; reports every `every` seconds and fails when RSS or open files grow too much.
    Soak {
        /// How long, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Operations per second, all kinds together.
        #[arg(long, default_value_t = 40)]
        rate: u32,
        /// Seconds between two reports (the first is the baseline of the growth checks).
        #[arg(long, default_value_t = 10)]
        every: u64,
        /// Most the server's RSS may grow from the first report to the last, in MiB.
        #[arg(long, default_value_t = 8)]
        max_rss_growth: u64,
        /// Most the server's open files may grow from the first report to the last.
        #[arg(long, default_value_t = 16)]
        max_fd_growth: u64,
        /// CardDAV clients (app passwords of members), synced in turn.
        #[arg(long, default_value_t = 20)]
        phones: usize,
    },
    /// Server memory and answer latency under concurrent logins with made-up names.
    Logins {
        /// Logins sent at once.
        #[arg(long, default_value_t = 2000)]
        count: usize,
        /// Then this many ordinary registrations, each followed by a login, from 8 clients;
        /// reports the server's RSS when idle again.
        #[arg(long, default_value_t = 0)]
        ordinary: usize,
    },
}

struct Seed {
    _dir: tempfile::TempDir,
    /// The PostgreSQL schema seeded into, dropped with it.
    _schema: Option<TestSchema>,
    database_url: String,
    /// Configuration for the server: per-account limits lifted, since one writer changes its
    /// card every round and one account may hold many of the measured streams.
    config: std::path::PathBuf,
    tokens: Vec<String>,
    /// (login, app password) of members' CardDAV clients.
    phones: Vec<(String, String)>,
    writer_token: String,
    writer: Uuid,
    group: Uuid,
}

fn card(name: &str, number: u64) -> CardInput {
    CardInput {
        formatted_name: name.to_string(),
        phones: vec![PhoneInput {
            number: format!("+49 30 {number:07}"),
            kind: None,
        }],
        ..CardInput::default()
    }
}

/// Seeds accounts and one group through the bulk path (one password hash for all), then
/// `terminals` terminals and `phones` app passwords spread over the members.
async fn seed(members: usize, terminals: usize, phones: usize, postgres: Option<&str>) -> anyhow::Result<Seed> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path());
    let schema = match postgres {
        Some(base) => Some(TestSchema::create(base, "load").await?),
        None => None,
    };
    if let Some(schema) = &schema {
        config.database_url = schema.url().to_owned();
    }
    let database_url = config.database_url.clone();
    let settings = settings(&config, String::new());
    let database = Database::open(&database_url, &Default::default(), Migrate::Yes).await?;
    let started = Instant::now();
    let hash = bulk::password_hash("load-test-password").await?;
    let rules = settings.card_rules;
    let seeded = bulk::seed(
        &database,
        members.max(2),
        members.max(2),
        &hash,
        |i| {
            Card::parse(&card(&format!("Member {i}"), 1_000_000 + i as u64), &rules)
                .unwrap_or_else(|e| panic!("seed card {i}: {e}"))
        },
        ShareFields::default_policy(),
    )
    .await?;
    let roster = Roster::new(database.store(), Arc::new(LocalBus::default()), settings);
    let (writer_token, _) = roster
        .create_terminal(seeded.accounts[0], "writer".into(), TerminalKind::Session)
        .await?;
    // Terminals of every member but the writer, who makes the changes.
    let mut tokens = Vec::with_capacity(terminals);
    for i in 0..terminals {
        let member = seeded.accounts[1 + i % (seeded.accounts.len() - 1)];
        let (token, _) = roster
            .create_terminal(member, format!("load {i}"), TerminalKind::Session)
            .await?;
        tokens.push(token);
    }
    let mut app_passwords = Vec::with_capacity(phones);
    for i in 0..phones {
        let index = 1 + i % (seeded.accounts.len() - 1);
        let (password, _) = roster
            .create_terminal(seeded.accounts[index], format!("phone {i}"), TerminalKind::AppPassword)
            .await?;
        app_passwords.push((format!("member{index}"), password));
    }
    let (owner, group) = (seeded.accounts[0], seeded.group);
    let callers = &seeded.accounts;
    eprintln!(
        "seeded {} members and {terminals} terminals in {:.1?}",
        callers.len(),
        started.elapsed()
    );
    let config = dir.path().join("load.toml");
    // The server's cap on open connections (4096 by default) must not hold terminals back.
    std::fs::write(
        &config,
        format!(
            "card_writes_per_minute = 4294967295\nstream_connects_per_minute = 4294967295\n\
             streams_per_account = 4294967295\nreads_per_minute = 4294967295\n\
             max_connections = {}\n",
            terminals + 1024
        ),
    )?;
    Ok(Seed {
        _dir: dir,
        _schema: schema,
        config,
        database_url,
        tokens,
        phones: app_passwords,
        writer_token,
        writer: owner.0,
        group: group.0,
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Busy time (all but idle and I/O wait) of the CPUs of a `taskset` list, from `/proc/stat`.
fn cpus_busy(list: &str) -> Duration {
    let cpus = cpu_list(list);
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let cpu: usize = fields.next()?.strip_prefix("cpu")?.parse().ok()?;
            cpus.contains(&cpu).then(|| {
                let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
                // user nice system idle iowait irq softirq steal …
                values.iter().take(8).sum::<u64>()
                    - values.get(3).copied().unwrap_or(0)
                    - values.get(4).copied().unwrap_or(0)
            })
        })
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The CPUs of a `taskset` list such as `0`, `0,1` or `2-3`.
fn cpu_list(list: &str) -> Vec<usize> {
    list.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) => (a..=b).collect(),
                _ => Vec::new(),
            },
            None => part.trim().parse().into_iter().collect(),
        })
        .collect()
}

/// Pins every thread of this process to `cpus` (threads made later inherit it).
fn pin_self(cpus: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("cannot run taskset (util-linux)")?;
    if !status.success() {
        bail!("taskset could not pin this tool to CPUs {cpus}");
    }
    Ok(())
}

/// CPU time (user + system) a process has used, from /proc; clock ticks are 1/100 s on Linux.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().filter_map(|f| f.parse().ok()).collect())
        .unwrap_or_default();
    let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn wait_healthy(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become healthy at {base}")
}

/// What a terminal task reports.
enum Report {
    Synced,
    Received { round: usize, at: Instant },
    Failed(String),
}

/// One terminal: connect from `source`, say hello, apply frames, report the initial sync and
/// each change of the writer's card (recognised by its phone number).
async fn terminal(
    server: SocketAddr,
    source: Ipv4Addr,
    token: String,
    writer: Uuid,
    reports: mpsc::UnboundedSender<Report>,
    mut stop: watch::Receiver<bool>,
) {
    let result = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        let stream = socket.connect(server).await?;
        let mut request = format!("ws://{server}/api/v1/stream").into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        // Small buffers, as the server's: tungstenite zero-fills its whole read buffer (128 KiB
        // by default) at every read, which made this tool, not the server, the bottleneck of
        // a fan-out to 10,000 terminals.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(1024);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        ws.send(Message::text(serde_json::to_string(&ClientFrame::Hello {
            cursors: Default::default(),
        })?))
        .await?;
        let mut synced = false;
        let writer_text = writer.to_string();
        // Acks coalesced as Roster's own terminals do (docs/stream.md): the latest cursor of a
        // group at most once a second.
        let mut held: Option<(Uuid, i64, tokio::time::Instant)> = None;
        loop {
            let due = held.map(|(_, _, due)| due);
            let message = tokio::select! {
                message = ws.next() => message,
                () = async move {
                    match due {
                        Some(due) => tokio::time::sleep_until(due).await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some((group, cursor, _)) = held.take() {
                        let ack = ClientFrame::Ack { group, cursor };
                        ws.send(Message::text(serde_json::to_string(&ack)?)).await?;
                    }
                    continue;
                }
                _ = stop.changed() => return anyhow::Ok(()),
            };
            let Some(message) = message else {
                bail!("the server closed the stream")
            };
            let Message::Text(text) = message? else { continue };
            // The tool shares the machine's cores with the server: decode only what it needs
            // (cursors to acknowledge, pings, and upserts of the writer's card).
            let text = text.as_str();
            let wanted = text.starts_with(r#"{"type":"cursor""#)
                || text.starts_with(r#"{"type":"ping""#)
                || (synced && text.starts_with(r#"{"type":"upsert""#) && text.contains(&writer_text));
            if !wanted {
                continue;
            }
            let frame: ServerFrame = serde_json::from_str(text)?;
            match frame {
                ServerFrame::Cursor { group, cursor } => {
                    if !synced {
                        synced = true;
                        let _ = reports.send(Report::Synced);
                    }
                    // One group per terminal here: the seeded directory.
                    let due = held.map_or_else(|| tokio::time::Instant::now() + Duration::from_secs(1), |h| h.2);
                    held = Some((group, cursor, due));
                }
                ServerFrame::Upsert { account_id, card, .. } if synced && account_id == writer => {
                    let number = card.phones.first().map(|p| p.number.clone()).unwrap_or_default();
                    if let Some(round) = number.strip_prefix("+4930").and_then(|r| r.parse::<usize>().ok()) {
                        let _ = reports.send(Report::Received {
                            round,
                            at: Instant::now(),
                        });
                    }
                }
                ServerFrame::Ping => {
                    ws.send(Message::text(serde_json::to_string(&ClientFrame::Pong)?))
                        .await?
                }
                _ => {}
            }
        }
    }
    .await;
    if let Err(e) = result {
        let _ = reports.send(Report::Failed(format!("{e:#}")));
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn server_bin(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("roster"),
    };
    if !Path::new(&path).exists() {
        bail!(
            "no server binary at {} (build it: cargo build --release -p roster)",
            path.display()
        );
    }
    Ok(path)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    roster_server::tls::install_crypto_provider();
    let cli = Cli::parse();
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let wanted = (cli.terminals as u64) * 2 + 1024;
    let raised = rlimit::increase_nofile_limit(wanted).unwrap_or(soft);
    if raised < cli.terminals as u64 + 512 {
        bail!(
            "{} terminals need more open files than the limit allows here ({raised}, hard limit {hard}); \
             raise it with `ulimit -n` as root",
            cli.terminals
        );
    }
    let bin = server_bin(cli.server_bin.clone())?;
    if let Some(cpus) = &cli.tool_cpus {
        pin_self(cpus)?;
    }
    let pinned = cli.server_cpus.clone();
    if let Test::Logins { count, ordinary } = cli.test {
        let wanted = (count as u64) * 2 + 1024;
        if rlimit::increase_nofile_limit(wanted).unwrap_or(soft) < wanted {
            bail!("{count} logins need {wanted} open files; raise the limit with `ulimit -n`");
        }
        return bogus_logins(&bin, count.clamp(1, 20_000), ordinary.min(100_000)).await;
    }
    let instances = cli.instances.max(1);
    if instances > 1 && cli.postgres.is_none() {
        bail!("--instances {instances} needs --postgres: instances share their database and bus");
    }
    let phones = match cli.test {
        Test::Soak { phones, .. } => phones.max(1),
        _ => 0,
    };
    let seed = seed(cli.members, cli.terminals, phones, cli.postgres.as_deref()).await?;
    let settings = [
        OsStr::new("--database-url"),
        OsStr::new(&seed.database_url),
        OsStr::new("--config"),
        seed.config.as_os_str(),
    ];
    let mut servers = Vec::with_capacity(instances);
    for _ in 0..instances {
        let address = match cli.server_ip {
            // A port free here is as good a guess as any inside the server's namespace.
            Some(ip) => SocketAddr::from((ip, free_port()?)),
            None => SocketAddr::from(([127, 0, 0, 1], free_port()?)),
        };
        let place = Placement {
            cpus: pinned.as_deref(),
            netns: cli.server_netns.as_deref(),
        };
        let (server, pid, base) = start_server(&bin, address, &settings, place).await?;
        servers.push((server, pid, base, address));
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.1).collect();
    let (pid, base) = (pids[0], servers[0].2.clone());
    let addresses: Vec<SocketAddr> = servers.iter().map(|s| s.3).collect();
    let rss_all = || {
        pids.iter()
            .filter_map(|pid| rss_kib(*pid))
            .fold((0, 0), |a, r| (a.0 + r.0, a.1 + r.1))
    };
    let idle_rss = rss_all().0;
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(cli.concurrency.max(1)));
    let started = Instant::now();
    for (i, token) in seed.tokens.iter().enumerate() {
        let source = cli
            .source_ip
            .unwrap_or_else(|| Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(cli.sources.max(1))) as u8));
        let permit = gate.clone().acquire_owned().await?;
        let (reports, stop, token, writer) = (reports_tx.clone(), stop.clone(), token.clone(), seed.writer);
        let server_addr = addresses[i % addresses.len()];
        tokio::spawn(async move {
            let reports_synced = reports.clone();
            let (tx, mut rx) = mpsc::unbounded_channel();
            // Release the connection slot once this terminal has synced (or failed).
            let forward = tokio::spawn(async move {
                let mut permit = Some(permit);
                while let Some(report) = rx.recv().await {
                    if matches!(report, Report::Synced | Report::Failed(_)) {
                        permit.take();
                    }
                    let _ = reports_synced.send(report);
                }
            });
            terminal(server_addr, source, token, writer, tx, stop).await;
            let _ = forward.await;
            drop(reports);
        });
    }
    drop(reports_tx);
    let mut synced = 0;
    let mut failures = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while synced + failures.len() < cli.terminals && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(60), reports.recv()).await {
            Ok(Some(Report::Synced)) => synced += 1,
            Ok(Some(Report::Failed(e))) => failures.push(e),
            Ok(Some(Report::Received { .. })) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let (rss, _) = rss_all();
    println!(
        "connected and synced {synced}/{} terminals in {:.1?} ({} failed{})",
        cli.terminals,
        started.elapsed(),
        failures.len(),
        failures.first().map(|e| format!(", first: {e}")).unwrap_or_default()
    );
    if instances > 1 {
        println!("{instances} instances on PostgreSQL; figures below are their sums");
    }
    println!(
        "server RSS: {:.1} MiB before connections, {:.1} MiB with {synced} connected ({:.1} KiB per connection)",
        idle_rss as f64 / 1024.0,
        rss as f64 / 1024.0,
        (rss.saturating_sub(idle_rss)) as f64 / synced.max(1) as f64
    );

    match cli.test {
        // Measured before any terminal is seeded (see above).
        Test::Logins { .. } => {}
        Test::Soak {
            seconds,
            rate,
            every,
            max_rss_growth,
            max_fd_growth,
            ..
        } => {
            let target = soak::Target {
                base: base.clone(),
                pid,
                group: seed.group,
                sessions: seed.tokens.clone(),
                phones: seed.phones.clone(),
            };
            let settings = soak::Settings {
                seconds,
                rate,
                every,
                max_rss_growth_kib: max_rss_growth * 1024,
                max_fd_growth,
            };
            let outcome = soak::run(target, settings).await;
            let _ = stop_tx.send(true);
            drop(servers);
            return outcome;
        }
        Test::Idle { hold } => {
            tokio::time::sleep(Duration::from_secs(hold.min(3600))).await;
            let (rss, peak) = rss_all();
            println!(
                "after {hold} s idle: server RSS {:.1} MiB (peak {:.1} MiB) for {synced} connections",
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        Test::Push { rounds } => {
            let client = reqwest::Client::new();
            let mut all = Vec::new();
            let server_cpu_all = || pids.iter().map(|pid| cpu_time(&pid.to_string())).sum::<Duration>();
            for round in 1..=rounds.min(1000) {
                let (server_cpu, tool_cpu) = (server_cpu_all(), cpu_time("self"));
                let cores_busy = pinned.as_deref().map(cpus_busy);
                let sent = Instant::now();
                let response = client
                    .put(format!("{base}/api/v1/me/card"))
                    .bearer_auth(&seed.writer_token)
                    .json(&card("Member 0", 9_000_000 + round as u64))
                    .send()
                    .await?;
                let answered = sent.elapsed();
                if !response.status().is_success() {
                    bail!("card change refused: {}", response.status());
                }
                let mut latencies = Vec::with_capacity(synced);
                let deadline = Instant::now() + Duration::from_secs(60);
                while latencies.len() < synced && Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_secs(30), reports.recv()).await {
                        Ok(Some(Report::Received { round: r, at })) if r == 9_000_000 + round => {
                            latencies.push(at.duration_since(sent));
                        }
                        Ok(Some(Report::Failed(e))) => failures.push(e),
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
                latencies.sort();
                println!(
                    "change {round}: answered in {answered:.1?}, delivered to {}/{synced} terminals; first {:.1?}, \
                     p50 {:.1?}, p99 {:.1?}, max {:.1?}; CPU used meanwhile: server {:?}, this tool {:?}",
                    latencies.len(),
                    latencies.first().copied().unwrap_or_default(),
                    percentile(&latencies, 0.50),
                    percentile(&latencies, 0.99),
                    latencies.last().copied().unwrap_or_default(),
                    server_cpu_all().saturating_sub(server_cpu),
                    cpu_time("self").saturating_sub(tool_cpu),
                );
                if let (Some(before), Some(cpus)) = (cores_busy, pinned.as_deref()) {
                    let busy = cpus_busy(cpus).saturating_sub(before);
                    println!(
                        "  server CPUs {cpus} busy {busy:?} ({:.1} µs per terminal, the kernel's network work included)",
                        busy.as_secs_f64() * 1e6 / synced.max(1) as f64
                    );
                }
                all.extend(latencies);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            all.sort();
            out::record("fanout", "p50", synced as f64, millis(percentile(&all, 0.50)), "ms");
            out::record("fanout", "p99", synced as f64, millis(percentile(&all, 0.99)), "ms");
            let (rss, peak) = rss_all();
            println!(
                "all {rounds} changes × {synced} terminals: p50 {:.1?}, p99 {:.1?}, max {:.1?}; server RSS {:.1} MiB (peak {:.1} MiB)",
                percentile(&all, 0.50),
                percentile(&all, 0.99),
                all.last().copied().unwrap_or_default(),
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
    }
    let _ = stop_tx.send(true);
    drop(servers);
    let _ = (seed.group, pid);
    Ok(())
}

/// Where the server runs: its CPUs and network namespace (both optional).
#[derive(Debug, Default, Clone, Copy)]
struct Placement<'a> {
    cpus: Option<&'a str>,
    netns: Option<&'a str>,
}

/// Starts `roster serve` on `address` with further `settings` and waits until it answers:
/// the process (killed when dropped), its pid and its base URL.
async fn start_server(
    bin: &Path,
    address: SocketAddr,
    settings: &[&OsStr],
    place: Placement<'_>,
) -> anyhow::Result<(ServerProcess, u32, String)> {
    // `ip netns exec` and `taskset` each exec what follows in the same process, so the pid
    // is the server's.
    let mut argv: Vec<&OsStr> = Vec::new();
    if let Some(netns) = place.netns {
        argv.extend(["ip", "netns", "exec", netns].map(OsStr::new));
    }
    if let Some(cpus) = place.cpus {
        argv.extend(["taskset", "-c", cpus].map(OsStr::new));
    }
    argv.push(bin.as_os_str());
    let mut command = std::process::Command::new(argv[0]);
    command.args(&argv[1..]);
    let child = command
        .args(["serve", "--listen", &address.to_string()])
        .args(settings)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let server = ServerProcess(child);
    let pid = server.0.id();
    let base = format!("http://{address}");
    wait_healthy(&base).await?;
    Ok((server, pid, base))
}

/// Fires `count` concurrent logins with made-up names at a fresh server (rate limits raised
/// so that every request reaches the password check) and reports RSS and latency.
async fn bogus_logins(bin: &Path, count: usize, ordinary: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        "logins_per_minute = 1000000\ntotal_logins_per_minute = 1000000\n\
         registrations_per_hour = 1000000\n",
    )?;
    let server_addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let data = dir.path().join("data");
    let settings = [
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--data-dir"),
        data.as_os_str(),
    ];
    let (server, pid, base) = start_server(bin, server_addr, &settings, Placement::default()).await?;
    let idle = rss_kib(pid).map_or(0, |r| r.0);
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..count {
        let (client, base) = (client.clone(), base.clone());
        logins.spawn(async move {
            let sent = Instant::now();
            let status = client
                .post(format!("{base}/api/v1/sessions"))
                .json(&serde_json::json!({"login": format!("nobody{i}"), "password": "made-up password"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, sent.elapsed())
        });
    }
    let mut by_status: std::collections::BTreeMap<u16, Vec<Duration>> = Default::default();
    let mut all = Vec::new();
    while let Some(answer) = logins.join_next().await {
        let (status, latency) = answer?;
        by_status.entry(status).or_default().push(latency);
        all.push(latency);
    }
    let burst = started.elapsed();
    let (during, peak) = rss_kib(pid).unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after, _) = rss_kib(pid).unwrap_or_default();
    // The server frees idle hashing memory in its minutely upkeep.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let (settled, _) = rss_kib(pid).unwrap_or_default();
    all.sort();
    println!(
        "{count} concurrent bogus logins in {burst:.1?}: p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or_default()
    );
    for (status, latencies) in &mut by_status {
        latencies.sort();
        println!(
            "  status {status}: {} answers, p50 {:.1?}, p99 {:.1?}",
            latencies.len(),
            percentile(latencies, 0.50),
            percentile(latencies, 0.99)
        );
    }
    println!(
        "server RSS: idle {:.1} MiB, peak {:.1} MiB, at the end of the burst {:.1} MiB, 2 s later {:.1} MiB, \
         after the next upkeep {:.1} MiB",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        during as f64 / 1024.0,
        after as f64 / 1024.0,
        settled as f64 / 1024.0
    );
    if ordinary > 0 {
        let started = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for client_no in 0..8 {
            let (client, base) = (client.clone(), base.clone());
            clients.spawn(async move {
                let mut failures = 0usize;
                for i in (client_no..ordinary).step_by(8) {
                    let login = format!("member{i}");
                    let body = serde_json::json!({"login": login, "password": "an ordinary password"});
                    for path in ["/api/v1/accounts", "/api/v1/sessions"] {
                        let ok = client
                            .post(format!("{base}{path}"))
                            .json(&body)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success());
                        failures += usize::from(!ok);
                    }
                }
                failures
            });
        }
        let mut failures = 0;
        while let Some(done) = clients.join_next().await {
            failures += done?;
        }
        let elapsed = started.elapsed();
        tokio::time::sleep(Duration::from_secs(61)).await;
        let (idle_again, peak) = rss_kib(pid).unwrap_or_default();
        println!(
            "{ordinary} registrations + logins from 8 clients in {elapsed:.1?} ({failures} failed): \
             server RSS after the next upkeep {:.1} MiB (peak so far {:.1} MiB)",
            idle_again as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
    drop(server);
    Ok(())
}

/// The server child process, stopped whenever the tool ends.
struct ServerProcess(std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
