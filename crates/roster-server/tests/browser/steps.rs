//! The steps people take in the pages, written once for the story with JavaScript and the
//! one without: each fills and submits a form by the element ids of `web-spec.md`, then
//! waits for the page it leads to.

use crate::harness::Window;
use anyhow::{Context, Result, bail};
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
    window.click("signup-submit").await?;
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
    window.click("login-submit").await?;
    window
        .wait_for_path("the page after signing in", |path| !path.starts_with("/login"))
        .await?;
    Ok(())
}

/// Fills the card form on the current page with a name and one phone, and saves it.
pub(crate) async fn fill_card(window: &Window, name: &str, phone: &str) -> Result<()> {
    window.fill("card-formatted-name", name).await?;
    window.fill("card-phone-0", phone).await?;
    window.click("card-save").await?;
    Ok(())
}

/// Creates a group on `/groups/new`; returns its id (read from the page it leads to).
pub(crate) async fn create_group(window: &Window, name: &str, description: &str, approval: bool) -> Result<Uuid> {
    window.goto("/groups/new").await?;
    inspect(window, window.javascript().then_some("group-new")).await?;
    window.fill("group-name", name).await?;
    window.fill("group-description", description).await?;
    window
        .select("group-join-policy", if approval { "approval" } else { "open" })
        .await?;
    window.click("group-save").await?;
    let path = window
        .wait_for_path("a page of the new group", |path| group_in(path).is_some())
        .await?;
    group_in(&path).context("group id in the path")
}

/// Creates an invite on `/groups/{id}/invites`; returns its link as the page shows it.
pub(crate) async fn create_invite(window: &Window, group: Uuid) -> Result<String> {
    window.goto(&format!("/groups/{group}/invites")).await?;
    window.click("invite-create").await?;
    let link = window.driver.query(By::Css(".invite .invite-link")).first().await?;
    let url = link.prop("value").await?.unwrap_or_default();
    if !url.contains("/join/") {
        bail!("the invite link reads {url:?}");
    }
    inspect(window, window.javascript().then_some("invites")).await?;
    Ok(url)
}

/// Approves the pending request of `account` on `/groups/{id}/members`.
pub(crate) async fn approve(window: &Window, group: Uuid, account: &str) -> Result<()> {
    let members = format!("/groups/{group}/members");
    if window.path().await? != members {
        window.goto(&members).await?;
    }
    inspect(window, window.javascript().then_some("members")).await?;
    let row = window
        .driver
        .query(By::Css(format!("#pending .pending[data-account='{account}']")))
        .first()
        .await
        .context("the request waits on the members page")?;
    row.find(By::Css(".approve")).await?.click().await?;
    Ok(())
}

/// The account id of the signed-in person, from the directory row that carries their name.
pub(crate) async fn account_in_directory(window: &Window, name: &str) -> Result<String> {
    let row = directory_row(window, name)
        .await?
        .with_context(|| format!("{name} in the directory"))?;
    row.attr("data-account").await?.context("data-account")
}

/// The directory row (`.member`) whose `.member-name` is `name`, if the page shows one.
pub(crate) async fn directory_row(window: &Window, name: &str) -> Result<Option<WebElement>> {
    for row in window.all("#directory .member").await? {
        let names = row.find_all(By::Css(".member-name")).await?;
        for element in names {
            if element.text().await?.trim() == name {
                return Ok(Some(row));
            }
        }
    }
    Ok(None)
}

/// The digits of every phone shown in a directory row.
pub(crate) async fn phones_in(row: &WebElement) -> Result<Vec<String>> {
    let mut phones = Vec::new();
    for phone in row.find_all(By::Css(".member-phone")).await? {
        phones.push(digits(&phone.text().await?));
    }
    Ok(phones)
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
