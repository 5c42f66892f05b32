//! Nobody without an account can exhaust the server: password hashing under a bound, login
//! limits per address, slow clients cut off, a connection cap, `/metrics` labels from a
//! closed set and a `/healthz` that reads no table.

use crate::support::{TestServer, http_client};
use reqwest::StatusCode;
use roster_server::domain::password::PasswordSettings;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent bogus logins of the memory test (the issue's figure).
const BOGUS_LOGINS: usize = 2_000;
/// Highest RSS the server may reach during those logins, above its idle RSS. Two argon2
/// workers need 2 × 19 MiB; the rest is 2,000 open connections and their requests. Today's
/// code (one 19 MiB buffer per blocking thread, up to 512 at once) passes this within
/// milliseconds.
const PEAK_ABOVE_IDLE: u64 = 160 << 20;
/// Highest RSS a second after the burst, above idle: the two pooled buffers and slack.
const AFTER_ABOVE_IDLE: u64 = 96 << 20;

/// Not a test on its own: the server process of [`bogus_logins_keep_memory_flat`], started
/// by it as a child process of this test binary (so that its RSS is the server's alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of bogus_logins_keep_memory_flat"]
async fn memory_test_server() {
    if std::env::var_os("ROSTER_MEMORY_TEST_CHILD").is_none() {
        return;
    }
    let server = TestServer::start_with(|config| {
        config.passwords = PasswordSettings {
            workers: 2,
            queue_wait: Duration::from_secs(2),
        };
        config.listen_limits.max_connections = 4 * BOGUS_LOGINS;
    })
    .await;
    println!("LISTENING {}", server.base);
    // Serve until the parent closes our standard input.
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bogus_logins_keep_memory_flat_and_overflow_is_answered_503() {
    let mut child = Child(
        Command::new(std::env::current_exe().unwrap())
            .args(["resources::memory_test_server", "--exact", "--ignored", "--nocapture"])
            .env("ROSTER_MEMORY_TEST_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("LISTENING ").map(str::to_string))
    })
    .await
    .unwrap()
    .expect("the child server starts");
    let http = http_client();
    // One login on the idle server, so the idle figure includes a warm allocator.
    let warm = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"login": "nobody", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_bytes(pid);
    assert!(idle > 0, "cannot read the server's RSS");

    let mut logins = tokio::task::JoinSet::new();
    for i in 0..BOGUS_LOGINS {
        let (http, base) = (http.clone(), base.clone());
        logins.spawn(async move {
            let response = http
                .post(format!("{base}/api/v1/sessions"))
                .json(&json!({"login": format!("nobody{i}"), "password": "not the password"}))
                .send()
                .await
                .expect("the server answers");
            let retry_after = response.headers().get("retry-after").is_some();
            let problem = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t == "application/problem+json");
            (response.status(), retry_after, problem)
        });
    }
    let mut peak = idle;
    let mut answers = Vec::new();
    let started = Instant::now();
    while !logins.is_empty() {
        peak = peak.max(rss_bytes(pid));
        assert!(
            peak < idle + PEAK_ABOVE_IDLE,
            "RSS reached {} MiB (idle {} MiB) after {:?}",
            peak >> 20,
            idle >> 20,
            started.elapsed()
        );
        tokio::select! {
            Some(answer) = logins.join_next() => answers.push(answer.unwrap()),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    let unauthorized = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let busy: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert_eq!(unauthorized + busy.len(), BOGUS_LOGINS, "only 401 and 503: {answers:?}");
    assert!(
        unauthorized > 0 && !busy.is_empty(),
        "{unauthorized} 401, {} 503",
        busy.len()
    );
    assert!(busy.iter().all(|(_, retry_after, problem)| *retry_after && *problem));

    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_bytes(pid);
    println!(
        "idle {} MiB, peak {} MiB, after {} MiB; {unauthorized} checked, {} refused busy",
        idle >> 20,
        peak >> 20,
        after >> 20,
        busy.len()
    );
    assert!(after < idle + AFTER_ABOVE_IDLE, "RSS stayed at {} MiB", after >> 20);
}

#[tokio::test]
async fn login_attempts_are_limited_per_client_address() {
    let server = TestServer::start_with(|config| config.rates.logins_per_minute = 3).await;
    let anon = server.anonymous();
    for _ in 0..3 {
        let (status, _) = anon
            .post(
                "/api/v1/sessions",
                json!({"login": "nobody", "password": "wrong password"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Another login name from the same address: still this address's fourth attempt.
    let (status, body) = anon
        .post(
            "/api/v1/sessions",
            json!({"login": "somebody", "password": "wrong password"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    server.stop().await;
}

/// Reads from `stream` until the server closes it or `limit` passes; true when it closed.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let server = TestServer::start_with(|config| {
        config.listen_limits.header_timeout = Duration::from_secs(1);
        config.body_timeout = Duration::from_secs(1);
    })
    .await;
    let address = server.base.trim_start_matches("http://").to_string();

    // Slowloris: a header line now and then, never the end of the headers.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            cut = true;
            break;
        }
    }
    assert!(
        cut || closed_within(&mut slow, Duration::from_secs(1)).await,
        "a client trickling headers kept its connection for {:?}",
        started.elapsed()
    );

    // A body announced and never sent.
    let mut stalled = TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(
            b"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    assert!(
        closed_within(&mut stalled, Duration::from_secs(5)).await,
        "a stalled body held its connection"
    );

    // Ordinary requests are untouched.
    let health = http_client()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = TestServer::start_with(|config| config.listen_limits.max_connections = 3).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    roster_server::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let refused = http.get(format!("{}/healthz", server.base)).send().await;
    assert!(refused.is_err(), "a fourth connection was served: {refused:?}");
    held.pop();
    let http = http_client();
    let served = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    drop(held);
    server.stop().await;
}

#[tokio::test]
async fn invented_methods_and_unknown_paths_add_no_metric_series() {
    let server = TestServer::start().await;
    let http = http_client();
    let invented = format!("INVENTED{}", uuid::Uuid::new_v4().simple()).to_ascii_uppercase();
    let path = format!("/nowhere-{}", uuid::Uuid::new_v4().simple());
    for method in [invented.as_str(), "GET", "BREW"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let _ = http
            .request(method, format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
    }
    let _ = http
        .request(
            reqwest::Method::from_bytes(invented.as_bytes()).unwrap(),
            format!("{}/api/v1/me", server.base),
        )
        .send()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains(&invented), "an invented method became a label");
    assert!(!metrics.contains("BREW"), "an invented method became a label");
    assert!(!metrics.contains(&path), "an unknown path became a label");
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(metrics.contains(r#"route="other""#), "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_can_ask_for_a_token() {
    let server = TestServer::start_with(|config| config.metrics_token = Some("s3cret-metrics".into())).await;
    let http = http_client();
    let url = format!("{}/metrics", server.base);
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = http.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http.get(&url).bearer_auth("s3cret-metrics").send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(right.text().await.unwrap().contains("roster_accounts"));
    server.stop().await;
}

#[tokio::test]
async fn metrics_can_have_a_listen_address_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = roster_server::Config::for_tests(dir.path());
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let app = roster_server::Application::build(config).await.unwrap();
    let (base, metrics) = (
        format!("http://{}", app.local_addr()),
        format!("http://{}", app.metrics_addr().unwrap()),
    );
    let task = tokio::spawn(app.run_until(std::future::pending()));
    let http = http_client();
    let main = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND, "metrics left the public listener");
    let own = http.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let api = http.get(format!("{metrics}/api/v1/me")).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND, "only metrics there");
    task.abort();
}

#[tokio::test]
async fn health_reads_no_table() {
    let server = TestServer::start().await;
    let http = http_client();
    // Take away a table that a counting health check would read: a constant query still
    // answers.
    let pool = sqlx::SqlitePool::connect(&server.database_url).await.unwrap();
    sqlx::query("ALTER TABLE groups RENAME TO groups_elsewhere")
        .execute(&pool)
        .await
        .unwrap();
    let health = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "{:?}", health.text().await);
    pool.close().await;
    server.stop().await;
}
