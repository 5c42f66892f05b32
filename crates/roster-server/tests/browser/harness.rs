//! The browser harness: the real server in-process, one `chromedriver` per test, and one
//! Chromium profile (its own cookies, so its own user) per [`Window`].
//!
//! Nothing here downloads a browser or a driver: they come from Debian's `chromium` and
//! `chromium-driver` (`$ROSTER_CHROMIUM` and `$ROSTER_CHROMEDRIVER` override the paths). When
//! they are missing, [`Suite::start`] prints that the test is skipped and returns `None`; with
//! `CI=true` it fails instead, so that CI never passes by skipping.

use crate::support::TestServer;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::extensions::query::ElementPollerWithTimeout;
use thirtyfour::prelude::*;

/// How long a step waits for an element, a navigation or a live update before failing.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// How often a waiting step looks again.
const POLL: Duration = Duration::from_millis(50);

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
    fn pixels(self) -> (u32, u32) {
        match self {
            Size::Phone => (360, 740),
            Size::Desktop => (1280, 800),
        }
    }

    /// The suffix of this size's screenshot files.
    fn label(self) -> &'static str {
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
        crate::support::install_tls();
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
        let window = Window {
            driver,
            base: self.server.base.clone(),
            size: profile.size,
            javascript: profile.javascript,
            _profile_dir: profile_dir,
            _chromedriver: self.chromedriver.clone(),
        };
        window.resize(profile.size).await?;
        Ok(window)
    }
}

/// One browser profile, i.e. one person at one device.
///
/// Fields drop in order: the session quits (and Chromium exits) before its profile folder is
/// removed and before the last window lets `chromedriver` stop.
pub(crate) struct Window {
    /// The WebDriver session, for what the helpers below do not cover.
    pub(crate) driver: WebDriver,
    base: String,
    size: Size,
    javascript: bool,
    _profile_dir: TempDir,
    _chromedriver: Arc<Chromedriver>,
}

impl Window {
    /// The absolute URL of a server path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Navigates to a server path (or an absolute URL, such as an invite link).
    pub(crate) async fn goto(&self, path_or_url: &str) -> Result<()> {
        let url = if path_or_url.starts_with('/') {
            self.url(path_or_url)
        } else {
            path_or_url.to_string()
        };
        self.driver.goto(&url).await.with_context(|| format!("open {url}"))
    }

    /// The current path and query (`/groups/…?q=…`).
    pub(crate) async fn path(&self) -> Result<String> {
        let url = self.driver.current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        })
    }

    /// Waits until the current path satisfies `want`; returns it.
    pub(crate) async fn wait_for_path(&self, what: &str, want: impl Fn(&str) -> bool) -> Result<String> {
        let start = Instant::now();
        loop {
            let path = self.path().await?;
            if want(&path) {
                return Ok(path);
            }
            if start.elapsed() > PATIENCE {
                bail!("still on {path} after {PATIENCE:?}, waiting for {what}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element with this id, waiting for it to appear.
    pub(crate) async fn id(&self, id: &str) -> Result<WebElement> {
        let found = self.driver.query(By::Id(id)).first().await;
        match found {
            Ok(element) => Ok(element),
            Err(error) => Err(anyhow!(error)).context(format!(
                "no #{id} on {} ({})",
                self.path().await.unwrap_or_default(),
                self.driver.title().await.unwrap_or_default()
            )),
        }
    }

    /// Whether an element with this id is on the page now (no waiting).
    pub(crate) async fn has(&self, id: &str) -> Result<bool> {
        Ok(!self.driver.find_all(By::Id(id)).await?.is_empty())
    }

    /// Every element matching a CSS selector now (no waiting).
    pub(crate) async fn all(&self, css: &str) -> Result<Vec<WebElement>> {
        Ok(self.driver.find_all(By::Css(css)).await?)
    }

    /// The visible text of the element with this id.
    pub(crate) async fn text(&self, id: &str) -> Result<String> {
        Ok(self.id(id).await?.text().await?)
    }

    /// Replaces the value of the input with this id.
    pub(crate) async fn fill(&self, id: &str, text: &str) -> Result<()> {
        let driver = &self.driver;
        self.act(&format!("fill #{id}"), || async move {
            let input = driver.query(By::Id(id)).first().await?;
            input.clear().await?;
            input.send_keys(text).await
        })
        .await
    }

    /// Clicks the element with this id (a link or a submit button).
    pub(crate) async fn click(&self, id: &str) -> Result<()> {
        self.click_css(&format!("#{id}")).await
    }

    /// Clicks the first element matching a CSS selector.
    pub(crate) async fn click_css(&self, css: &str) -> Result<()> {
        let driver = &self.driver;
        self.act(&format!("click {css}"), || async move {
            let element = driver.query(By::Css(css)).first().await?;
            element.scroll_into_view().await?;
            element.click().await
        })
        .await
    }

    /// Runs `op` on elements it finds itself, again while the page replaces them under it:
    /// live updates re-render lists, and an element found a moment ago may be gone.
    async fn act<F, Fut>(&self, what: &str, mut op: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = WebDriverResult<()>>,
    {
        let start = Instant::now();
        loop {
            match op().await {
                Ok(()) => return Ok(()),
                Err(error) if replaced(&error) && start.elapsed() < PATIENCE => tokio::time::sleep(POLL).await,
                Err(error) => {
                    let path = self.path().await.unwrap_or_default();
                    return Err(anyhow!(error)).context(format!("{what} on {path}"));
                }
            }
        }
    }

    /// Clicks the submit button with this id and waits until the page it posts to has
    /// replaced this one. A click returns when the browser has taken it, which may be before
    /// the answer to the post has arrived; reading the page then would read the old one.
    pub(crate) async fn submit(&self, id: &str) -> Result<()> {
        let old = self.driver.find(By::Tag("html")).await?;
        self.click(id).await?;
        eventually(&format!("the page after #{id} to load"), || async {
            match old.tag_name().await {
                Err(error) if replaced(&error) => Ok(true),
                Err(other) => Err(other.into()),
                Ok(_) => Ok(false),
            }
        })
        .await?;
        // The new document may still be loading: wait until it has.
        eventually("the new page to finish loading", || async {
            let state = self.driver.execute("return document.readyState;", Vec::new()).await?;
            Ok(state.convert::<String>()? == "complete")
        })
        .await
    }

    /// Ticks or unticks the checkbox with this id.
    pub(crate) async fn set_checked(&self, id: &str, checked: bool) -> Result<()> {
        let driver = &self.driver;
        self.act(&format!("tick #{id}"), || async move {
            let checkbox = driver.query(By::Id(id)).first().await?;
            if checkbox.is_selected().await? != checked {
                checkbox.scroll_into_view().await?;
                checkbox.click().await?;
            }
            Ok(())
        })
        .await
    }

    /// Picks the option with this value in the `<select>` with this id.
    pub(crate) async fn select(&self, id: &str, value: &str) -> Result<()> {
        let select = self.id(id).await?;
        let option = select
            .find(By::Css(format!("option[value='{value}']")))
            .await
            .with_context(|| format!("no option {value} in #{id}"))?;
        option.click().await?;
        Ok(())
    }

    /// Whether scripts run in this profile.
    pub(crate) fn javascript(&self) -> bool {
        self.javascript
    }

    /// Saves the current page at phone and at desktop size as
    /// `docs/screenshots/{name}-phone.png` and `…-desktop.png`, then restores the window.
    pub(crate) async fn screenshot(&self, name: &str) -> Result<()> {
        self.shoot(name, None).await
    }

    /// Like [`Window::screenshot`], with the element of this id scrolled to the middle of the
    /// view (a field error below the fold of a phone, say).
    pub(crate) async fn screenshot_at(&self, name: &str, id: &str) -> Result<()> {
        self.shoot(name, Some(id)).await
    }

    async fn shoot(&self, name: &str, centre: Option<&str>) -> Result<()> {
        let folder = screenshots_dir();
        std::fs::create_dir_all(&folder).with_context(|| format!("create {}", folder.display()))?;
        for size in [Size::Phone, Size::Desktop] {
            self.resize(size).await?;
            if let Some(id) = centre {
                self.driver
                    .execute(
                        "document.getElementById(arguments[0]).scrollIntoView({ block: 'center' });",
                        vec![json!(id)],
                    )
                    .await
                    .with_context(|| format!("scroll #{id} into view"))?;
            }
            let png = self.driver.screenshot_as_png().await?;
            let file = folder.join(format!("{name}-{}.png", size.label()));
            std::fs::write(&file, png).with_context(|| format!("write {}", file.display()))?;
        }
        self.resize(self.size).await
    }

    /// Runs axe-core on the current page; fails on serious or critical violations.
    ///
    /// Not in a profile without JavaScript: axe-core waits on timers, which never fire there.
    /// The same pages are checked in the profiles with JavaScript.
    pub(crate) async fn axe_check(&self) -> Result<()> {
        if !self.javascript {
            return Ok(());
        }
        let page = self.path().await?;
        crate::axe::check(&self.driver, &page).await
    }

    /// Ends the session (Chromium exits) and removes the profile.
    pub(crate) async fn close(self) -> Result<()> {
        self.driver.quit().await.context("quit the Chromium session")
    }

    /// Gives the window a viewport of `size`. Headless Chromium's window is larger than its
    /// viewport by an amount that varies between versions: measure it, then correct.
    async fn resize(&self, size: Size) -> Result<()> {
        let (width, height) = size.pixels();
        let mut outer = (width, height);
        for _ in 0..2 {
            self.driver
                .set_window_rect(0, 0, outer.0, outer.1)
                .await
                .with_context(|| format!("resize the window to {}×{}", outer.0, outer.1))?;
            let viewport: (u32, u32) = self
                .driver
                .execute("return [window.innerWidth, window.innerHeight];", Vec::new())
                .await?
                .convert()?;
            if viewport == (width, height) {
                return Ok(());
            }
            outer = (
                (outer.0 + width).saturating_sub(viewport.0),
                (outer.1 + height).saturating_sub(viewport.1),
            );
        }
        bail!("the viewport does not come to {width}×{height}")
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

/// Whether a WebDriver error means that the element was replaced by a newer one.
fn replaced(error: &WebDriverError) -> bool {
    matches!(error.as_inner(), WebDriverErrorInner::StaleElementReference(_))
        || error.to_string().contains("does not belong to the document")
}

/// Where the screenshots go: `docs/screenshots/` at the root of the repository.
fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
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
struct Chromedriver {
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
