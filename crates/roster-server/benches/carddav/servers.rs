//! The servers of the CardDAV comparison as child processes on loopback — Roster's own
//! `roster` binary, Radicale and Xandikos — and the CPU each has used, read from /proc, so
//! that the comparison counts the server's work and not the client's.
//!
//! It starts and stops processes only; what is measured, and how often, is the benchmark's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server running as a child process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The path of the address book that the benchmark syncs.
    pub(crate) book: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The CPU the server has used so far.
    pub(crate) fn cpu(&self) -> Cpu {
        Cpu::of(self.child.id())
    }
}

/// CPU used by a process, read twice to measure what happened in between.
///
/// The precise figure is the sum of its threads' `schedstat` (nanoseconds of CPU, one file per
/// live thread). A thread that ends before the second reading takes its time with it (Radicale
/// serves each connection on a thread of its own), so the whole process's user + system time
/// from `stat` is read too, in clock ticks of 10 ms (Linux's USER_HZ), which counts ended
/// threads; when it exceeds the precise figure by more than its two 10 ms roundings, time was
/// lost with a thread and the ticks are the figure. Seconds of CPU make 10 ms steps negligible.
pub(crate) struct Cpu {
    threads: HashMap<u32, u64>,
    ticks: u64,
}

impl Cpu {
    fn of(pid: u32) -> Cpu {
        let mut threads = HashMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let tid = task.file_name().to_string_lossy().parse::<u32>();
                let ran = std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
                if let (Ok(tid), Some(ran)) = (tid, ran) {
                    threads.insert(tid, ran);
                }
            }
        }
        // Fields 14 and 15 (utime, stime) of stat, counted after the command name's `)`.
        let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .skip(11)
                    .take(2)
                    .map(|f| f.parse().unwrap_or(0))
                    .collect();
                Some(fields.iter().sum())
            })
            .unwrap_or(0);
        Cpu { threads, ticks }
    }

    /// The CPU used between `earlier` and this reading.
    pub(crate) fn since(&self, earlier: &Cpu) -> Duration {
        let ticked = Duration::from_millis(10 * self.ticks.saturating_sub(earlier.ticks));
        let every_thread_lived = earlier.threads.keys().all(|tid| self.threads.contains_key(tid));
        let ran = Duration::from_nanos(
            self.threads
                .iter()
                .map(|(tid, ran)| ran.saturating_sub(earlier.threads.get(tid).copied().unwrap_or(0)))
                .sum(),
        );
        if every_thread_lived && ticked <= ran + Duration::from_millis(20) {
            ran
        } else {
            ticked
        }
    }
}

/// A program named by `variable`, or found on PATH as `name`.
pub(crate) fn find(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_listening(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port} after 10 s");
}

/// The `roster` binary of this build: `ROSTER_BIN`, or built here with `cargo build --release
/// -p roster` (a no-op when it is up to date), so that the figures are never those of a stale
/// binary. `None`, saying why, when it cannot be had.
pub(crate) fn roster_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROSTER_BIN") {
        return Some(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(option_env!("CARGO").unwrap_or("cargo")));
    let built = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "roster", "--bin", "roster"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    if !built.as_ref().is_ok_and(|status| status.success()) {
        println!("SKIPPED roster as a process: `cargo build --release -p roster` failed ({built:?})");
        return None;
    }
    // This benchmark runs as target/release/deps/carddav-HASH; the binary is target/release/roster.
    let binary = std::env::current_exe().ok()?.parent()?.parent()?.join("roster");
    if binary.is_file() {
        Some(binary)
    } else {
        println!("SKIPPED roster as a process: no {}", binary.display());
        None
    }
}

/// Starts `roster serve` on an existing SQLite database, with the settings of `config` (a
/// TOML file), and waits until it answers `/healthz`.
pub(crate) async fn start_roster(binary: &Path, database_url: &str, config: &Path, book: String) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", database_url])
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let answer = client.get(format!("{base}/healthz")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server {
        child,
        base,
        book,
        _dir: dir,
    }
}

/// Starts Radicale with a book holding exactly these vCards (written as its storage files),
/// at `/bench/contacts/`, with no authentication.
pub(crate) async fn start_radicale(binary: &Path, cards: &[String]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("collection-root/bench/contacts");
    std::fs::create_dir_all(&book).unwrap();
    std::fs::write(book.join(".Radicale.props"), r#"{"tag": "VADDRESSBOOK"}"#).unwrap();
    for (i, card) in cards.iter().enumerate() {
        std::fs::write(book.join(format!("card{i}.vcf")), card).unwrap();
    }
    let port = free_port();
    let child = Command::new(binary)
        .args(["--server-hosts", &format!("127.0.0.1:{port}")])
        .args(["--storage-filesystem-folder", &dir.path().display().to_string()])
        .args(["--auth-type", "none", "--logging-level", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_listening(port).await;
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        book: "/bench/contacts/".into(),
        _dir: dir,
    }
}

/// Starts Xandikos with its default principal and address book (`--defaults`), at
/// `/user/contacts/addressbook/`, with no authentication, then gives that book exactly these
/// vCards. Xandikos keeps a book as a Git repository and serves its last commit, so the
/// cards are written and committed there with `git` (one commit, not 10,000 PUTs). `None`,
/// saying why, when `git` fails.
pub(crate) async fn start_xandikos(binary: &Path, cards: &[String]) -> Option<Server> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let port = free_port();
    let child = Command::new(binary)
        .args(["serve", "--defaults", "--directory"])
        .arg(&root)
        .args(["--listen-address", "127.0.0.1", "--port", &port.to_string()])
        // Its own state (keys, certificates) stays in the temporary folder too.
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        book: "/user/contacts/addressbook/".into(),
        _dir: dir,
    };
    wait_listening(port).await;
    let book = root.join("user/contacts/addressbook");
    for (i, card) in cards.iter().enumerate() {
        std::fs::write(book.join(format!("card{i}.vcf")), card).unwrap();
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&book)
            .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !(git(&["add", "--all"]) && git(&["commit", "--quiet", "--message", "bench cards"])) {
        println!("SKIPPED xandikos comparison: `git` could not commit the cards into its book");
        return None;
    }
    Some(server)
}
