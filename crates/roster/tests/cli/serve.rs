//! `roster serve` as an operator runs it: first start creates the database, a request in flight
//! when SIGTERM arrives still gets its answer, and the process exits cleanly; bad settings are
//! one line and a failure code.

use crate::support::{free_port, get, wait_ready};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_creates_its_database_and_stops_gracefully_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--default-region",
            "DE",
        ])
        .arg("--data-dir")
        .arg(data.path().join("roster-data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    assert!(
        data.path().join("roster-data/roster.db").is_file(),
        "created on first start"
    );

    // A request in flight: headers sent, body not yet.
    let body = r#"{"login":"late","password":"long enough"}"#;
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        in_flight,
        "POST /api/v1/accounts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    std::thread::sleep(Duration::from_millis(200));
    // The request completes and is answered after the signal.
    in_flight.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child.stdout.take().unwrap().read_to_string(&mut log).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    // Nothing listens any more.
    assert!(get(port, "/healthz").is_none());
}

#[test]
fn bad_settings_are_one_line_and_a_failure() {
    for args in [
        vec!["serve", "--default-region", "XX", "--database-url", "sqlite::memory:"],
        vec!["serve", "--database-url", "postgres://nowhere/db"],
        vec!["serve", "--config", "/nonexistent/roster.toml"],
        vec!["serve", "--log-format", "xml", "--database-url", "sqlite::memory:"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_roster")).args(&args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("roster: "), "{args:?}: {stderr}");
    }
}

#[test]
fn json_logs_are_one_object_per_line_for_log_collectors() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "info")
        .env_remove("ROSTER_LOG_JSON")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    assert!(get(port, "/readyz").is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(child.wait().unwrap().success());
    let mut log = String::new();
    child.stdout.take().unwrap().read_to_string(&mut log).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in &lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string() && entry["timestamp"].is_string(), "{line}");
    }
    assert!(log.contains("shutting down"), "{log}");
}
