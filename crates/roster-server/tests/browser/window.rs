//! One browser profile, driven the way a person uses the pages: open, fill, tick, submit,
//! wait for the next page; plus the accessibility check and the screenshots of what it shows.

use crate::harness::{Chromedriver, PATIENCE, POLL, Size, eventually};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tempfile::TempDir;
use thirtyfour::error::WebDriverErrorInner;
use thirtyfour::prelude::*;

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
    /// Wraps a new session of a profile (size, scripts on) and gives it its viewport size.
    pub(crate) async fn new(
        driver: WebDriver,
        base: String,
        (size, javascript): (Size, bool),
        profile_dir: TempDir,
        chromedriver: Arc<Chromedriver>,
    ) -> Result<Self> {
        let window = Window {
            driver,
            base,
            size,
            javascript,
            _profile_dir: profile_dir,
            _chromedriver: chromedriver,
        };
        window.resize(size).await?;
        Ok(window)
    }

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

/// Whether a WebDriver error means that the element was replaced by a newer one.
fn replaced(error: &WebDriverError) -> bool {
    matches!(error.as_inner(), WebDriverErrorInner::StaleElementReference(_))
        || error.to_string().contains("does not belong to the document")
}

/// Where the screenshots go: `docs/screenshots/` at the root of the repository.
fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
}
