//! The whole story of issue 12 with JavaScript, in two browser profiles: an admin on a
//! desktop and a member on a phone, from the invite link to each other's directory, with the
//! live updates that only scripts bring. Every page visited is checked with axe-core, and
//! the main ones are saved as screenshots at phone and desktop size.

use crate::harness::{Profile, Suite, eventually};
use crate::steps::{
    Person, approve, code_in, create_group, create_invite, digits, entry, fill_card, group_in, inspect, listed,
    pending_request, sign_up_here,
};
use anyhow::{Context, Result, ensure};

const ADA: Person = Person {
    login: "ada",
    name: "Ada Admin",
    phone: "030 1234567",
};

const BEA: Person = Person {
    login: "bea",
    name: "Bea Member",
    phone: "0151 23456789",
};

/// Bea's new number, typed in international form this time.
const BEA_NEW_PHONE: &str = "+49 1512 3456780";

#[tokio::test(flavor = "multi_thread")]
async fn from_an_invite_link_to_each_others_directory_with_live_updates() -> Result<()> {
    let Some(suite) = Suite::start("the whole story").await? else {
        return Ok(());
    };
    let admin = suite.open(Profile::desktop()).await?;
    let member = suite.open(Profile::phone()).await?;

    // The admin signs up, fills her card and creates a group that needs approval.
    admin.goto("/signup").await?;
    inspect(&admin, Some("signup")).await?;
    sign_up_here(&admin, &ADA).await?;
    admin.goto("/me/card").await?;
    inspect(&admin, None).await?;
    fill_card(&admin, ADA.name, ADA.phone).await?;
    ensure!(
        !admin.has("card-phone-0-error").await?,
        "the admin's valid card is refused"
    );
    let group = create_group(&admin, "Choir", "Tuesday rehearsals in the old school").await?;
    let link = create_invite(&admin, group).await?;
    ensure!(
        link.starts_with(&suite.server.base),
        "the invite link {link} is not under the public URL {}",
        suite.server.base
    );
    let code = code_in(&link).context("a code in the invite link")?.to_string();

    // The member opens the link on her phone: the page names the group and says that joining
    // needs approval; she signs up right there and is taken on to her card.
    member.goto(&link).await?;
    ensure!(member.text("invite-group-name").await?.contains("Choir"));
    ensure!(member.text("invite-description").await?.contains("Tuesday rehearsals"));
    let members = member.text("invite-members").await?;
    ensure!(
        members.contains('1') || members.to_lowercase().contains("one"),
        "the invite page counts one member: {members}"
    );
    ensure!(
        member.has("invite-approval").await?,
        "the invite says approval is needed"
    );
    inspect(&member, Some("join")).await?;
    sign_up_here(&member, &BEA).await?;
    member
        .wait_for_path("the card step", |p| p == format!("/join/{code}/card"))
        .await?;

    // One invalid phone first: the error shows at the field, and nothing moves on.
    fill_card(&member, BEA.name, "12").await?;
    let error = member.id("card-phone-0-error").await?;
    ensure!(error.is_displayed().await?, "the phone error is visible");
    ensure!(!error.text().await?.trim().is_empty(), "the phone error says something");
    let path = member.path().await?;
    ensure!(!path.contains("/share"), "a refused card moves on to {path}");
    member.axe_check().await?;
    member.screenshot_at("card-error", "card-phone-0").await?;
    fill_card(&member, BEA.name, BEA.phone).await?;
    member
        .wait_for_path("the share step", |p| p == format!("/join/{code}/share"))
        .await?;

    // She picks what the group sees (name and phones), sees the preview, asks to join.
    member.set_checked("share-phones", true).await?;
    let preview = member.text("share-preview").await?;
    ensure!(preview.contains(BEA.name), "the preview shows the name: {preview}");
    ensure!(
        digits(&preview).contains("4915123456789"),
        "the preview shows the phone in international form: {preview}"
    );
    inspect(&member, Some("share")).await?;
    // The admin has the members page open before the request comes.
    admin.goto(&format!("/groups/{group}/members")).await?;
    ensure!(admin.all("#pending .pending").await?.is_empty(), "no request yet");
    admin
        .driver
        .execute("window.rosterNotReloaded = true;", Vec::new())
        .await?;
    member.submit("share-join").await?;
    member
        .wait_for_path("the waiting page", |p| p == format!("/groups/{group}/waiting"))
        .await?;
    member.id("waiting").await?;
    inspect(&member, Some("waiting")).await?;

    // The request appears on the admin's open members page without a reload.
    let watching = &admin;
    eventually(
        "the admin's members page to list the request by itself",
        || async move { Ok(watching.all("#pending .pending").await?.len() == 1) },
    )
    .await?;
    let same_page = admin
        .driver
        .execute("return window.rosterNotReloaded === true;", Vec::new())
        .await?;
    ensure!(same_page.convert::<bool>()?, "the admin's members page was reloaded");

    // The admin approves; the member's waiting page moves on by itself.
    let bea_id = pending_request(&admin, group).await?;
    approve(&admin, group, &bea_id).await?;
    member
        .wait_for_path("the waiting page to move on by itself", |p| {
            p == format!("/groups/{group}")
        })
        .await?;

    // Each sees the other in the directory.
    let ada_in_bea_view = listed(&member, ADA.name).await?.phones;
    ensure!(
        ada_in_bea_view == ["49301234567"],
        "Bea sees Ada's phone: {ada_in_bea_view:?}"
    );
    inspect(&member, Some("directory")).await?;
    admin.goto(&format!("/groups/{group}")).await?;
    let bea = listed(&admin, BEA.name).await?;
    ensure!(bea.account == bea_id, "Bea's row carries her account id");
    ensure!(bea.phones == ["4915123456789"], "Ada sees Bea's phone: {bea:?}");
    inspect(&admin, None).await?;

    // The member changes her phone; the admin's open page shows it without a reload (a
    // reload would lose the marker set here).
    admin
        .driver
        .execute("window.rosterNotReloaded = true;", Vec::new())
        .await?;
    member.goto("/me/card").await?;
    inspect(&member, Some("card")).await?;
    fill_card(&member, BEA.name, BEA_NEW_PHONE).await?;
    ensure!(!member.has("card-phone-0-error").await?, "the new phone is accepted");
    let watching = &admin;
    eventually("the admin's directory to show Bea's new phone", || async move {
        let bea = entry(watching, BEA.name).await?;
        Ok(bea.is_some_and(|bea| bea.phones == ["4915123456780"]))
    })
    .await?;
    let same_page = admin
        .driver
        .execute("return window.rosterNotReloaded === true;", Vec::new())
        .await?;
    ensure!(same_page.convert::<bool>()?, "the admin's page was reloaded");

    // The member hides her phones from the group; the admin no longer sees them, live, and
    // not after a reload either.
    member.goto(&format!("/groups/{group}/share")).await?;
    inspect(&member, None).await?;
    member.set_checked("share-phones", false).await?;
    member.submit("share-save").await?;
    member.id("share-saved").await?;
    eventually("the admin's directory to drop Bea's phone", || async move {
        let bea = entry(watching, BEA.name).await?;
        Ok(bea.is_some_and(|bea| bea.phones.is_empty()))
    })
    .await?;
    admin.driver.refresh().await?;
    ensure!(
        listed(&admin, BEA.name).await?.phones.is_empty(),
        "hidden after a reload too"
    );

    // The member's other pages, each checked and photographed; then she signs out.
    for (path, shot) in [
        ("/groups", "groups"),
        ("/me/audience", "audience"),
        ("/devices", "devices"),
        ("/devices/new", "devices-new"),
        ("/account", "account"),
    ] {
        member.goto(path).await?;
        ensure!(member.path().await? == path, "{path} opens for a signed-in member");
        inspect(&member, Some(shot)).await?;
    }
    member.submit("logout").await?;
    member
        .wait_for_path("the sign-in page after signing out", |p| p.starts_with("/login"))
        .await?;
    inspect(&member, Some("login")).await?;

    admin.close().await?;
    member.close().await?;
    Ok(())
}

#[test]
fn ids_come_out_of_paths_and_links() {
    let id = uuid::Uuid::nil();
    assert_eq!(group_in(&format!("/groups/{id}/invites")), Some(id));
    assert_eq!(group_in(&format!("/groups/{id}?q=x")), Some(id));
    assert_eq!(group_in("/groups/new"), None);
    assert_eq!(code_in("http://127.0.0.1:1/join/abc"), Some("abc"));
}
