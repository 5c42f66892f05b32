//! The steps people take in the pages, written once for the story with JavaScript and the
//! one without: each fills and submits a form by the element ids of `web-spec.md`, then
//! waits for the page it leads to.

use crate::harness::eventually;
use crate::window::Window;
use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use thirtyfour::prelude::*;
use uuid::Uuid;

/// Someone who signs up in the pages.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    /// The login name.
    pub(crate) login: &'static str,
    /// The display name of the account, and the formatted name of the card.
    pub(crate) name: &'static str,
    /// A phone number as typed, read in the server's region (DE in tests).
    pub(crate) phone: &'static str,
}

impl Person {
    /// The password the person signs up with.
    pub(crate) fn password(&self) -> String {
        format!("{}-correct-horse-battery", self.login)
    }
}

/// Checks the page in the window for accessibility and, when `shot` names it, saves its
/// screenshots. Screenshots come from the run with JavaScript, which is what most see.
pub(crate) async fn inspect(window: &Window, shot: Option<&str>) -> Result<()> {
    window.axe_check().await?;
    if let Some(name) = shot {
        window.screenshot(name).await?;
    }
    Ok(())
}

/// Fills and submits the sign-up form shown on the current page (`/signup` or an invite).
pub(crate) async fn sign_up_here(window: &Window, person: &Person) -> Result<()> {
    let before = window.path().await?;
    window.fill("signup-login", person.login).await?;
    window.fill("signup-password", &person.password()).await?;
    window.fill("signup-display-name", person.name).await?;
    window.submit("signup-submit").await?;
    window
        .wait_for_path("the page after signing up", |path| path != before)
        .await?;
    Ok(())
}

/// Signs in with the form on `/login`.
pub(crate) async fn sign_in(window: &Window, person: &Person) -> Result<()> {
    window.goto("/login").await?;
    window.fill("login", person.login).await?;
    window.fill("password", &person.password()).await?;
    window.submit("login-submit").await?;
    window
        .wait_for_path("the page after signing in", |path| !path.starts_with("/login"))
        .await?;
    Ok(())
}

/// Fills the card form on the current page with a name and one phone, and saves it.
pub(crate) async fn fill_card(window: &Window, name: &str, phone: &str) -> Result<()> {
    window.fill("card-formatted-name", name).await?;
    window.fill("card-phone-0", phone).await?;
    window.submit("card-save").await?;
    Ok(())
}

/// The admin creates a group that needs approval (on `/groups/new`); returns its id.
pub(crate) async fn create_group(window: &Window, name: &str, description: &str) -> Result<Uuid> {
    window.goto("/groups/new").await?;
    inspect(window, window.javascript().then_some("group-new")).await?;
    window.fill("group-name", name).await?;
    window.fill("group-description", description).await?;
    window.select("group-join-policy", "approval").await?;
    window.submit("group-save").await?;
    let path = window
        .wait_for_path("a page of the new group", |path| group_in(path).is_some())
        .await?;
    group_in(&path).context("group id in the path")
}

/// The admin creates an invite (on `/groups/{id}/invites`); returns its link as shown.
pub(crate) async fn create_invite(window: &Window, group: Uuid) -> Result<String> {
    window.goto(&format!("/groups/{group}/invites")).await?;
    window.submit("invite-create").await?;
    let link = window.driver.query(By::Css(".invite .invite-link")).first().await?;
    let url = link.prop("value").await?.unwrap_or_default();
    if !url.contains("/join/") {
        bail!("the invite link reads {url:?}");
    }
    inspect(window, window.javascript().then_some("invites")).await?;
    Ok(url)
}

/// The account id of the one request waiting in `group` (on `/groups/{id}/members`).
pub(crate) async fn pending_request(window: &Window, group: Uuid) -> Result<String> {
    window.goto(&format!("/groups/{group}/members")).await?;
    inspect(window, window.javascript().then_some("members")).await?;
    let rows = window.all("#pending .pending").await?;
    ensure!(rows.len() == 1, "one pending request, not {}", rows.len());
    rows[0].attr("data-account").await?.context("data-account")
}

/// The admin approves the request of `account` (on `/groups/{id}/members`, which then no
/// longer lists it).
pub(crate) async fn approve(window: &Window, group: Uuid, account: &str) -> Result<()> {
    let members = format!("/groups/{group}/members");
    if window.path().await? != members {
        window.goto(&members).await?;
    }
    let selector = format!("#pending .pending[data-account='{account}']");
    window.click_css(&format!("{selector} .approve")).await?;
    eventually("the approved request to leave the members page", || {
        let selector = selector.clone();
        async move { Ok(window.all(&selector).await?.is_empty()) }
    })
    .await
}

/// One row of a directory page as the reader sees it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Entry {
    /// The member's account id (`data-account`).
    pub(crate) account: String,
    /// The shown name.
    pub(crate) name: String,
    /// The shown phones, digits only.
    pub(crate) phones: Vec<String>,
}

/// The directory on the current page, read in one script call: live updates replace rows
/// while a test reads them, and one snapshot never sees half of a change.
pub(crate) async fn directory(window: &Window) -> Result<Vec<Entry>> {
    let rows = window
        .driver
        .execute(
            r##"
            const shown = (el) => el.getClientRects().length > 0;
            return Array.from(document.querySelectorAll("#directory .member")).map((row) => ({
                account: row.dataset.account || "",
                name: (row.querySelector(".member-name")?.textContent || "").trim(),
                phones: Array.from(row.querySelectorAll(".member-phone")).filter(shown)
                    .map((p) => p.textContent.replace(/[^0-9]/g, "")),
            }));
            "##,
            Vec::new(),
        )
        .await?;
    Ok(rows.convert()?)
}

/// The directory row of the member named `name` on the current page, if it shows one.
pub(crate) async fn entry(window: &Window, name: &str) -> Result<Option<Entry>> {
    Ok(directory(window).await?.into_iter().find(|e| e.name == name))
}

/// The directory row of `name`, which must be there.
pub(crate) async fn listed(window: &Window, name: &str) -> Result<Entry> {
    let path = window.path().await?;
    entry(window, name)
        .await?
        .with_context(|| format!("{name} in the directory on {path}"))
}

/// Only the digits of a phone number as shown (`+49 30 1234567` → `49301234567`).
pub(crate) fn digits(shown: &str) -> String {
    shown.chars().filter(char::is_ascii_digit).collect()
}

/// The group id in a path under `/groups/{id}`, if it is one.
pub(crate) fn group_in(path: &str) -> Option<Uuid> {
    path.strip_prefix("/groups/")?.split(['/', '?']).next()?.parse().ok()
}

/// The invite code in an invite link (`…/join/CODE`).
pub(crate) fn code_in(link: &str) -> Option<&str> {
    link.rsplit_once("/join/").map(|(_, code)| code.trim_end_matches('/'))
}
