//! The browser harness: the real server in-process, one `chromedriver` per test, and one
//! Chromium profile (its own cookies, so its own user) per [`Window`].
//!
//! [`Window`] (in `window.rs`) holds what a test does in one profile.
//!
//! Nothing here downloads a browser or a driver: they come from Debian's `chromium` and
//! `chromium-driver` (`$ROSTER_CHROMIUM` and `$ROSTER_CHROMEDRIVER` override the paths). When
//! they are missing, [`Suite::start`] prints that the test is skipped and returns `None`; with
//! `CI=true` it fails instead, so that CI never passes by skipping.

use crate::support::TestServer;
use crate::window::Window;
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use thirtyfour::extensions::query::ElementPollerWithTimeout;
use thirtyfour::prelude::*;

/// How long a step waits for an element, a navigation or a live update before failing.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// How often a waiting step looks again.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The flags CRATES.md fixes for Chromium on this machine: headless, no sandbox (CI runs as
/// root), and none of the background connections that a closed network refuses.
const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
];

/// The User-Agent of an Android phone's Chrome, for the phone profiles.
const ANDROID_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

/// Whether this run is CI, where a missing tool is a failure rather than a skip.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Prints a line that the test harness does not capture: a skip must be seen even when the
/// test passes (`eprintln!` output of passing tests is swallowed).
pub(crate) fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The size of a window's viewport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Size {
    /// 360 × 740 CSS pixels: the narrowest phone the pages promise to serve.
    Phone,
    /// 1280 × 800 CSS pixels: a laptop.
    Desktop,
}

impl Size {
    /// Width and height in CSS pixels.
    pub(crate) fn pixels(self) -> (u32, u32) {
        match self {
            Size::Phone => (360, 740),
            Size::Desktop => (1280, 800),
        }
    }

    /// The suffix of this size's screenshot files.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Size::Phone => "phone",
            Size::Desktop => "desktop",
        }
    }
}

/// How one browser profile starts: its window size and whether JavaScript runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Profile {
    size: Size,
    javascript: bool,
}

impl Profile {
    /// A phone-sized window with JavaScript.
    pub(crate) fn phone() -> Self {
        Profile {
            size: Size::Phone,
            javascript: true,
        }
    }

    /// A desktop-sized window with JavaScript.
    pub(crate) fn desktop() -> Self {
        Profile {
            size: Size::Desktop,
            javascript: true,
        }
    }

    /// The same profile with JavaScript switched off, as a cautious reader or an old phone has
    /// it: every page must still work with plain form posts and redirects.
    pub(crate) fn without_javascript(self) -> Self {
        Profile {
            javascript: false,
            ..self
        }
    }
}

/// One test's world: the server and a running `chromedriver`.
pub(crate) struct Suite {
    /// The server under test; its `base` is also its public URL.
    pub(crate) server: TestServer,
    chromedriver: Arc<Chromedriver>,
}

impl Suite {
    /// Starts the server and `chromedriver`. `None` (after saying so) when Chromium or its
    /// driver is missing outside CI; an error when they are missing in CI.
    pub(crate) async fn start(test: &str) -> Result<Option<Suite>> {
        let (Some(chromium), Some(driver)) = (
            locate("ROSTER_CHROMIUM", &["chromium", "chromium-browser"]),
            locate("ROSTER_CHROMEDRIVER", &["chromedriver"]),
        ) else {
            if in_ci() {
                bail!(
                    "{test}: Chromium and chromedriver are required in CI: .ci/run installs \
                     Debian's chromium and chromium-driver (or set ROSTER_CHROMIUM and \
                     ROSTER_CHROMEDRIVER)"
                );
            }
            say(&format!(
                "SKIPPED browser test {test}: chromium or chromedriver is not installed \
                 (run .ci/run, or `apt-get install chromium chromium-driver`)"
            ));
            return Ok(None);
        };
        roster_server::tls::install_crypto_provider();
        let chromedriver = Chromedriver::launch(&driver, chromium)?;
        let server = TestServer::start().await;
        // Invite links and redirects are built from the public URL: it must be the address
        // the browser really reaches. Without a configured one the server uses its bound
        // loopback address, which is exactly that.
        let public_url = server.roster.settings().public_url.clone();
        if public_url != server.base {
            bail!(
                "the test server's public URL {public_url} is not its address {}",
                server.base
            );
        }
        Ok(Some(Suite {
            server,
            chromedriver: Arc::new(chromedriver),
        }))
    }

    /// Opens a new browser profile (a fresh `--user-data-dir`: no cookies, no history).
    pub(crate) async fn open(&self, profile: Profile) -> Result<Window> {
        let profile_dir = tempfile::tempdir().context("a folder for the Chromium profile")?;
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&self.chromedriver.chromium.to_string_lossy())?;
        for flag in CHROMIUM_FLAGS {
            caps.add_arg(flag)?;
        }
        let (width, height) = profile.size.pixels();
        caps.add_arg(&format!("--window-size={width},{height}"))?;
        caps.add_arg(&format!("--user-data-dir={}", profile_dir.path().display()))?;
        caps.add_arg("--lang=en-US")?;
        if profile.size == Size::Phone {
            // A phone says so in its User-Agent; the device pages pick their offer from it.
            caps.add_arg(&format!("--user-agent={ANDROID_USER_AGENT}"))?;
        }
        let mut prefs = json!({ "intl.accept_languages": "en-US,en" });
        if !profile.javascript {
            // The managed setting is the one a user cannot override: scripts stay off even on
            // pages that ask for them.
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        caps.add_experimental_option("prefs", prefs)?;
        let driver = WebDriver::new(&self.chromedriver.url, caps)
            .await
            .context("chromedriver starts a Chromium session")?;
        driver.set_poller(Arc::new(ElementPollerWithTimeout::new(PATIENCE, POLL)));
        Window::new(
            driver,
            self.server.base.clone(),
            (profile.size, profile.javascript),
            profile_dir,
            self.chromedriver.clone(),
        )
        .await
    }
}

/// Polls `check` until it returns true, for at most [`PATIENCE`]; `what` names the wait in
/// the error.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let start = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        if start.elapsed() > PATIENCE {
            bail!("gave up after {PATIENCE:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A binary named by `variable`, else the first of `names` on `PATH`.
fn locate(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A `chromedriver` process on a loopback port of its own choosing; killed when dropped.
pub(crate) struct Chromedriver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Chromedriver {
    /// Starts `chromedriver --port=0` and reads the port it chose from its first lines.
    fn launch(driver: &Path, chromium: PathBuf) -> Result<Self> {
        let mut child = Command::new(driver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", driver.display()))?;
        let stdout = child.stdout.take().context("chromedriver's output")?;
        let (port_tx, port_rx) = mpsc::channel();
        // The thread keeps reading after the port line so that a chatty driver never blocks
        // on a full pipe; it ends when the process does.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
                {
                    let _ = port_tx.send(port);
                }
            }
        });
        let mut chromedriver = Chromedriver {
            child,
            url: String::new(),
            chromium,
        };
        let port = port_rx
            .recv_timeout(PATIENCE)
            .with_context(|| format!("{} did not say which port it listens on", driver.display()))?;
        chromedriver.url = format!("http://127.0.0.1:{port}");
        Ok(chromedriver)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
