//! The server killed with SIGKILL at a random moment, several times, while people write their
//! cards, join and leave, and change what a group may see: after each restart every
//! acknowledged write is there, every group's change log is gap-free, and the `roster watch`
//! terminals and a CardDAV client that reconnect end up showing exactly the directory.
//!
//! The moment of each kill comes from a seed printed at the start (`ROSTER_CRASH_SEED` repeats
//! a run).

use crate::support::{GENEROUS_LIMITS, User, between, free_port, http, vcf_files, wait_ready};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime};

const ROUNDS: usize = 3;
const WRITERS: usize = 3;

/// `roster serve` on SQLite in `data`, on `port`.
fn serve(data: &Path, port: u16, config: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("server.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("ROSTER_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--default-region",
            "DE",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    child
}

/// A small xorshift generator: the test's randomness, repeatable from its seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What one person's operations came to: the last one acknowledged, and the one in flight
/// when the server died (it may or may not have committed: nobody can tell).
#[derive(Debug, Clone, Default)]
struct Outcome {
    acknowledged: Option<String>,
    unknown: Option<String>,
}

impl Outcome {
    /// The states the server may hold now.
    fn allowed(&self) -> BTreeSet<String> {
        self.acknowledged.iter().chain(&self.unknown).cloned().collect()
    }

    /// Runs operations from `ops` (by number) until one fails; each one's state is its label.
    fn run(&mut self, user: &User, mut next: impl FnMut(u64) -> (String, Vec<String>), from: &mut u64) {
        self.unknown = None;
        loop {
            *from += 1;
            let (label, args) = next(*from);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            if user.run(&args).status.success() {
                self.acknowledged = Some(label);
            } else {
                self.unknown = Some(label);
                return;
            }
        }
    }
}

/// The contacts of `group` in a vdir address book: account id → (name, has a phone).
fn book(book: &Path, group: &str) -> BTreeMap<String, (String, bool)> {
    let folder = book.join(group);
    vcf_files(&folder)
        .into_iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(folder.join(&file)).ok()?;
            let name = text.lines().find_map(|l| l.strip_prefix("FN:"))?.trim_end().to_string();
            let phone = text.lines().any(|l| l.starts_with("TEL"));
            Some((file.trim_end_matches(".vcf").to_string(), (name, phone)))
        })
        .collect()
}

/// A `roster watch` of one user, its events collected.
struct Watch {
    child: Child,
    events: Receiver<Value>,
}

impl Watch {
    fn start(user: &User) -> Watch {
        let mut child = user
            .command(&["--json", "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && send.send(event).is_err()
                {
                    return;
                }
            }
        });
        Watch { child, events }
    }

    /// How often it has connected so far.
    fn connections(&self) -> usize {
        self.events.try_iter().filter(|e| e["event"] == "connected").count()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CardDAV client's view of its contacts book: href → ETag, kept by sync-collection.
struct Phone {
    authorization: String,
    href: String,
    token: String,
    cards: BTreeMap<String, String>,
}

impl Phone {
    fn new(login: &str, password: &str) -> Phone {
        Phone {
            authorization: format!("Basic {}", STANDARD.encode(format!("{login}:{password}"))),
            href: format!("/dav/addressbooks/{login}/contacts/"),
            token: String::new(),
            cards: BTreeMap::new(),
        }
    }

    /// One sync-collection from the phone's token, applied; answers what it reported.
    fn sync(&mut self, base: &str) -> usize {
        let body = format!(
            r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#,
            self.token
        );
        let answer = http(
            base,
            "REPORT",
            &self.href,
            &[
                ("Authorization", &self.authorization),
                ("Content-Type", "application/xml"),
            ],
            &body,
        );
        assert_eq!(answer.status, 207, "{}", answer.body);
        self.token = between(&answer.body, "<D:sync-token>", "</D:sync-token>").to_string();
        let responses: Vec<&str> = answer.body.split("<D:response>").skip(1).collect();
        for response in &responses {
            let href = between(response, "<D:href>", "</D:href>").to_string();
            if response.contains("HTTP/1.1 404 ") {
                self.cards.remove(&href);
            } else {
                assert!(response.contains("HTTP/1.1 200 OK"), "{response}");
                let etag = between(response, "<D:getetag>", "</D:getetag>").to_string();
                self.cards.insert(href, etag);
            }
        }
        responses.len()
    }
}

#[test]
fn killed_at_random_under_writes_joins_leaves_and_policy_changes_it_loses_nothing_acknowledged() {
    let seed = std::env::var("ROSTER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (ROSTER_CRASH_SEED={seed} repeats it)");
    let mut dice = Dice(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(&config, GENEROUS_LIMITS).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(&data, port, &config);

    let person = |login: &str, name: &str| {
        let (user, id) = User::register_at(&url, login);
        user.ok(&["card", "set", "--name", name, "--phone", "+49 30 1234567"]);
        (user, id)
    };
    let (owner, owner_id) = person("olga", "Olga");
    let (group, link) = owner.create_group("Crash", &[]);
    let writers: Vec<(User, String)> = (0..WRITERS)
        .map(|n| {
            let (user, id) = person(&format!("writer{n}"), &format!("writer{n} v0"));
            user.ok(&["group", "join", &link]);
            (user, id)
        })
        .collect();
    let (churner, churner_id) = person("chen", "陈伟");
    let (sharer, sharer_id) = person("sasha", "Саша");
    sharer.ok(&["group", "join", &link]);
    let watchers: Vec<(User, String)> = (0..2)
        .map(|n| {
            let (user, id) = person(&format!("watcher{n}"), &format!("watcher{n}"));
            user.ok(&["group", "join", &link]);
            (user, id)
        })
        .collect();
    let device = watchers[0].0.json(&["carddav", "add", "Phone"]);
    let mut phone = Phone::new(&watchers[0].0.login, device["password"].as_str().unwrap());
    phone.sync(&url);
    let watches: Vec<Watch> = watchers.iter().map(|(user, _)| Watch::start(user)).collect();

    let mut written = vec![Outcome::default(); WRITERS];
    let mut counters = [0u64; WRITERS];
    let mut membership = Outcome {
        acknowledged: Some("out".into()),
        unknown: None,
    };
    let mut membership_ops = 0u64;
    let mut sharing = Outcome {
        acknowledged: Some("name,phones".into()),
        unknown: None,
    };
    let mut sharing_ops = 0u64;
    let started = Instant::now();
    for round in 1..=ROUNDS {
        std::thread::scope(|scope| {
            let each = writers.iter().zip(written.iter_mut()).zip(counters.iter_mut());
            for (n, (((user, _), outcome), counter)) in each.enumerate() {
                scope.spawn(move || {
                    outcome.run(
                        user,
                        |k| {
                            let name = format!("writer{n} v{k}");
                            (name.clone(), vec!["card".into(), "set".into(), "--name".into(), name])
                        },
                        counter,
                    )
                });
            }
            let (link, group) = (&link, &group);
            let (membership, membership_ops) = (&mut membership, &mut membership_ops);
            let churner = &churner;
            scope.spawn(move || {
                // Join and leave in turn, from the state the server last acknowledged.
                let joined = membership.acknowledged.as_deref() == Some("in");
                let offset = u64::from(joined);
                membership.run(
                    churner,
                    |k| match (k + offset) % 2 {
                        1 => ("in".into(), vec!["group".into(), "join".into(), link.clone()]),
                        _ => ("out".into(), vec!["group".into(), "leave".into(), group.clone()]),
                    },
                    membership_ops,
                )
            });
            let (sharing, sharing_ops) = (&mut sharing, &mut sharing_ops);
            let sharer = &sharer;
            scope.spawn(move || {
                sharing.run(
                    sharer,
                    |k| {
                        let fields = if k % 2 == 1 { "name" } else { "name,phones" };
                        (
                            fields.to_string(),
                            vec![
                                "group".into(),
                                "share".into(),
                                group.clone(),
                                "--fields".into(),
                                fields.into(),
                            ],
                        )
                    },
                    sharing_ops,
                )
            });
            // The kill: at a random moment while all of them are busy.
            std::thread::sleep(Duration::from_millis(300 + dice.below(1200)));
            server.kill().unwrap();
            server.wait().unwrap();
        });
        let unknown = written.iter().filter(|w| w.unknown.is_some()).count();
        eprintln!(
            "round {round}: killed after {} card writes, {membership_ops} joins and leaves, \
             {sharing_ops} policy changes; {unknown} writes in flight",
            counters.iter().sum::<u64>()
        );
        logs_are_gap_free(&data.join("roster.db"));
        server = serve(&data, port, &config);

        // Every acknowledged write is there (or the one in flight after it).
        owner.ok(&["sync"]);
        let shown = book(&owner.book(), &group);
        for ((_, id), outcome) in writers.iter().zip(&written) {
            let (name, _) = &shown[id];
            assert!(
                outcome.allowed().contains(name),
                "writer {id} shows {name}, expected {outcome:?}"
            );
        }
        let present = if shown.contains_key(&churner_id) { "in" } else { "out" };
        assert!(
            membership.allowed().contains(present),
            "churner {present}, expected {membership:?}"
        );
        let (_, has_phone) = &shown[&sharer_id];
        let policy = if *has_phone { "name,phones" } else { "name" };
        assert!(
            sharing.allowed().contains(policy),
            "sharer {policy}, expected {sharing:?}"
        );
        // From here on the outcome is what the server holds: the next round starts from it.
        for ((_, id), outcome) in writers.iter().zip(written.iter_mut()) {
            outcome.acknowledged = Some(shown[id].0.clone());
        }
        membership.acknowledged = Some(present.into());
        sharing.acknowledged = Some(policy.into());
        phone.sync(&url);
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded: {:?}",
        started.elapsed()
    );

    // One change after the last restart, which only a reconnected terminal can see; then the
    // terminals converge on what the owner's fresh sync shows (but each one's own card).
    writers[0].0.ok(&["card", "set", "--name", "writer0 last"]);
    owner.ok(&["sync"]);
    let truth = book(&owner.book(), &group);
    let deadline = Instant::now() + Duration::from_secs(30);
    for (user, id) in &watchers {
        let expected: BTreeMap<String, (String, bool)> = truth
            .iter()
            .filter(|(other, _)| *other != id)
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain([(owner_id.clone(), (String::from("Olga"), true))])
            .collect();
        loop {
            let shown = book(&user.book(), &group);
            if shown == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} shows {shown:?}, expected {expected:?}",
                user.login
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // A watch whose backoff outlasted a round skipped reconnecting to that run of the server;
    // the change above shows that each one reconnected after the last kill.
    for watch in &watches {
        let connections = watch.connections();
        assert!((2..=1 + ROUNDS).contains(&connections), "{connections} connections");
    }
    // The phone's incremental syncs across the kills hold exactly what a fresh one shows.
    phone.sync(&url);
    let mut fresh = Phone::new(&watchers[0].0.login, device["password"].as_str().unwrap());
    fresh.sync(&url);
    assert_eq!(phone.cards, fresh.cards);
    // The owner's view lacks the owner and holds the phone's owner: the same count.
    assert_eq!(
        phone.cards.len(),
        truth.len(),
        "everyone in the group but the phone's owner"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A group's log as stored: id, version, floor, and the count, least and greatest version of
/// its changes.
type Log = (uuid::Uuid, i64, i64, i64, Option<i64>, Option<i64>);

/// Every group's log in the database file (server stopped) is whole: versions 1..=version,
/// each once, nothing compacted.
fn logs_are_gap_free(database: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", database.display());
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let logs: Vec<Log> = sqlx::query_as(
            "SELECT g.id, g.version, g.floor, COUNT(c.version), MIN(c.version), MAX(c.version) \
             FROM groups g LEFT JOIN changes c ON c.group_id = g.id GROUP BY g.id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        assert!(!logs.is_empty());
        for (id, version, floor, count, min, max) in logs {
            assert_eq!(floor, 0);
            assert_eq!(
                (count, min, max),
                (version, Some(1), Some(version)),
                "the log of group {id}"
            );
        }
        db.close().await.unwrap();
    });
}
