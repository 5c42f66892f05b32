//! Test harness: a real server (in-process, on its own runtime thread, restartable on the same
//! port and database) and users, each with their own config and data folders, who run the
//! real `roster` binary.

// The helpers are `pub` for the tests beside them; a test binary exports nothing.
#![allow(unreachable_pub)]

use roster_server::domain::Roster;
use roster_server::{Application, Config};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A running server; stopped when dropped.
pub struct Server {
    pub url: String,
    addr: SocketAddr,
    dir: TempDir,
    keep_versions: i64,
    running: Option<Running>,
}

/// The server's thread, its runtime and how to stop it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
    runtime: tokio::runtime::Handle,
    roster: Arc<Roster>,
}

impl Server {
    pub fn start() -> Self {
        Self::keeping(10_000)
    }

    /// A server whose change-log compaction keeps only the last `keep_versions` per group.
    pub fn keeping(keep_versions: i64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let running = run(&dir, "127.0.0.1:0".parse().unwrap(), keep_versions);
        let addr = running.0;
        Server {
            url: format!("http://{addr}"),
            addr,
            dir,
            keep_versions,
            running: Some(running.1),
        }
    }

    /// Compacts the change log now, as the server's housekeeping does from time to time.
    pub fn compact(&self) -> u64 {
        let running = self.running.as_ref().unwrap();
        let roster = running.roster.clone();
        running
            .runtime
            .block_on(async move { roster.compact_log().await.unwrap() })
    }

    /// Stops the server and waits until its port is closed.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.thread.join().unwrap();
        }
    }

    /// The URL of its database.
    pub fn database_url(&self) -> String {
        Config::for_tests(self.dir.path()).database_url
    }

    /// Starts it again on the same port with the same database.
    pub fn restart(&mut self) {
        self.stop();
        self.running = Some(run(&self.dir, self.addr, self.keep_versions).1);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(dir: &TempDir, listen: SocketAddr, keep_versions: i64) -> (SocketAddr, Running) {
    let mut config = Config::for_tests(dir.path());
    // A restart keeps its port, so that users' saved server URLs stay right.
    config.listen = listen;
    config.log_keep_versions = keep_versions;
    config.log_keep_for = Duration::ZERO;
    let (ready, address) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = Application::build(config).await.unwrap();
            let handle = tokio::runtime::Handle::current();
            ready.send((app.local_addr(), handle, app.roster())).unwrap();
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
    });
    let (addr, runtime, roster) = address.recv().unwrap();
    (
        addr,
        Running {
            stop,
            thread,
            runtime,
            roster,
        },
    )
}

/// One person with one terminal: their own config folder and address book.
pub struct User {
    pub login: String,
    home: TempDir,
}

impl User {
    /// A user, not yet registered anywhere (each command names its server).
    pub fn new(login: &str) -> Self {
        User {
            login: login.into(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Registers and logs in; answers the account id.
    pub fn register(server: &Server, login: &str) -> (Self, String) {
        Self::register_at(&server.url, login)
    }

    /// Registers and logs in on the server at `url`; answers the account id.
    pub fn register_at(url: &str, login: &str) -> (Self, String) {
        let user = User::new(login);
        let account = user.json(&["register", "--server", url, login]);
        let id = account["id"].as_str().unwrap().to_string();
        (user, id)
    }

    pub fn password(&self) -> String {
        format!("{}-password", self.login)
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The default address book folder.
    pub fn book(&self) -> PathBuf {
        self.home.path().join("data/roster/contacts")
    }

    /// Runs `roster ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `roster ARGS` as this user, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .args(args)
            .env("ROSTER_CONFIG_DIR", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg-config"))
            .env("HOME", self.home.path())
            .env("ROSTER_PASSWORD", self.password())
            .env_remove("ROSTER_BOOK")
            .env_remove("ROSTER_SERVER")
            .env_remove("RUST_BACKTRACE");
        command
    }

    /// Runs and expects success; answers stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "roster {args:?} failed ({:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs with `--json` and expects success; answers the JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("roster {args:?}: {e}: {out}"))
    }

    /// Creates a group (with extra flags) and an invite link to it; answers (group id, link).
    pub fn create_group(&self, name: &str, flags: &[&str]) -> (String, String) {
        let mut args = vec!["group", "create", name];
        args.extend_from_slice(flags);
        let group = self.json(&args)["id"].as_str().unwrap().to_string();
        let link = self.json(&["group", "invite", &group])["url"]
            .as_str()
            .unwrap()
            .to_string();
        (group, link)
    }

    /// Runs and expects exit `code` with exactly one line on stderr and no panic; answers it.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(code), "roster {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
        assert!(stderr.starts_with("roster: "), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
        stderr
    }
}

/// The `.vcf` files of a folder, by name.
pub fn vcf_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".vcf"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on a loopback port; `None` when nothing answers.
pub fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Waits until the server process on `port` answers its health check; fails if it exits.
pub fn wait_ready(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(port, "/healthz").is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not become ready");
}

/// An HTTP answer: status and body (de-chunked).
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// One HTTP/1.1 request on a connection of its own.
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let body = &raw[end + 4..];
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked { unchunk(body) } else { body.to_vec() };
    Answer {
        status,
        body: String::from_utf8(body).unwrap(),
    }
}

/// The body of a `Transfer-Encoding: chunked` message.
fn unchunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&rest[..line]).unwrap();
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        let chunk = &rest[line + 2..];
        body.extend_from_slice(&chunk[..size]);
        rest = &chunk[size + 2..];
    }
}

/// The text between the first `start` and the `end` after it.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in {text}")) + start.len();
    let to = from + text[from..].find(end).unwrap_or_else(|| panic!("no {end} in {text}"));
    &text[from..to]
}

/// Limits of a public server are per client network, and every test client here is
/// 127.0.0.1: the tests would meet them, which is not what they are about.
pub const GENEROUS_LIMITS: &str = "\
registrations_per_hour = 10000
logins_per_minute = 10000
total_logins_per_minute = 10000
invites_per_hour = 10000
reads_per_minute = 100000
password_checks_per_hour = 10000
card_writes_per_minute = 100000
stream_connects_per_minute = 100000
";
