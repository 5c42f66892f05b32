//! The story's key steps with JavaScript switched off in both profiles: every form posts,
//! every redirect lands, and where the pages would update live, a reload shows the news.

use crate::harness::{Profile, Suite};
use crate::steps::{
    Person, approve, code_in, create_group, create_invite, entry, fill_card, listed, pending_request, sign_in,
    sign_up_here,
};
use anyhow::{Context, Result, ensure};

const CAI: Person = Person {
    login: "cai",
    name: "Cai Admin",
    phone: "089 1234567",
};

const DAN: Person = Person {
    login: "dan",
    name: "Dan Member",
    phone: "0170 1234567",
};

#[tokio::test(flavor = "multi_thread")]
async fn the_key_steps_work_with_javascript_off() -> Result<()> {
    let Some(suite) = Suite::start("the story without JavaScript").await? else {
        return Ok(());
    };
    let admin = suite.open(Profile::desktop().without_javascript()).await?;
    let member = suite.open(Profile::phone().without_javascript()).await?;

    // Signed out, `/` leads to the sign-in page; signing up is a plain form post.
    admin.goto("/").await?;
    admin
        .wait_for_path("the sign-in page", |p| p.starts_with("/login"))
        .await?;
    admin.goto("/signup").await?;
    sign_up_here(&admin, &CAI).await?;
    admin.goto("/me/card").await?;
    fill_card(&admin, CAI.name, CAI.phone).await?;
    ensure!(!admin.has("card-phone-0-error").await?, "the admin's card is accepted");
    let group = create_group(&admin, "Book club", "Monthly, at the library").await?;
    let link = create_invite(&admin, group).await?;
    let code = code_in(&link).context("a code in the invite link")?.to_string();

    // The member signs up on the invite page and goes through the card (an invalid phone
    // first, answered by the server at the field) and the share step.
    member.goto(&link).await?;
    ensure!(member.text("invite-group-name").await?.contains("Book club"));
    sign_up_here(&member, &DAN).await?;
    member
        .wait_for_path("the card step", |p| p == format!("/join/{code}/card"))
        .await?;
    fill_card(&member, DAN.name, "12").await?;
    member.id("card-phone-0-error").await?;
    ensure!(
        member.id("card-phone-0").await?.prop("value").await?.as_deref() == Some("12"),
        "the refused phone is shown back for correction"
    );
    fill_card(&member, DAN.name, DAN.phone).await?;
    member
        .wait_for_path("the share step", |p| p == format!("/join/{code}/share"))
        .await?;
    member.set_checked("share-phones", true).await?;
    member.submit("share-join").await?;
    member
        .wait_for_path("the waiting page", |p| p == format!("/groups/{group}/waiting"))
        .await?;

    // The admin approves with a form post and lands back on the members page, the request
    // gone; the member's waiting page moves on when she reloads it.
    let dan_id = pending_request(&admin, group).await?;
    approve(&admin, group, &dan_id).await?;
    member.driver.refresh().await?;
    member
        .wait_for_path("the directory after approval", |p| p == format!("/groups/{group}"))
        .await?;

    // Each sees the other.
    ensure!(entry(&member, CAI.name).await?.is_some(), "Dan sees Cai");
    admin.goto(&format!("/groups/{group}")).await?;
    ensure!(listed(&admin, DAN.name).await?.account == dan_id, "Cai sees Dan");

    // Hiding the phones is a form post too.
    member.goto(&format!("/groups/{group}/share")).await?;
    member.set_checked("share-phones", false).await?;
    member.submit("share-save").await?;
    member.id("share-saved").await?;
    admin.driver.refresh().await?;
    ensure!(
        listed(&admin, DAN.name).await?.phones.is_empty(),
        "Dan's phones are hidden"
    );

    // Signing out and in again: the header button posts, the sign-in form redirects.
    member.submit("logout").await?;
    member.goto("/groups").await?;
    member
        .wait_for_path("the sign-in page when signed out", |p| p.starts_with("/login"))
        .await?;
    sign_in(&member, &DAN).await?;
    member.goto("/groups").await?;
    ensure!(
        !member.all("#groups a.group-link").await?.is_empty(),
        "Dan's groups are listed"
    );

    admin.close().await?;
    member.close().await?;
    Ok(())
}
