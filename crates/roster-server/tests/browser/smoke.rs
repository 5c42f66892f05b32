//! The harness itself: windows of both sizes reach the server, JavaScript can be switched
//! off, and the accessibility check catches what it must.

use crate::axe;
use crate::harness::{Profile, Suite};
use anyhow::Result;
use thirtyfour::prelude::*;

/// A page with two violations axe-core rates serious or critical: no `lang`, an image
/// without a text alternative.
const INACCESSIBLE: &str = "data:text/html,<!doctype html><html><head><title>t</title></head>\
    <body><main><img src='data:,'></main></body></html>";

/// A small page that meets the rules.
const ACCESSIBLE: &str = "data:text/html,<!doctype html><html lang='en'><head><title>t</title>\
    </head><body><main><h1>Fine</h1><p>Plain text.</p></main></body></html>";

/// A page whose title a script changes, if scripts run.
const SCRIPTED: &str = "data:text/html,<!doctype html><html lang='en'><head><title>off</title>\
    </head><body><script>document.title='on'</script></body></html>";

#[tokio::test(flavor = "multi_thread")]
async fn windows_of_both_sizes_reach_the_server_and_scripts_can_be_off() -> Result<()> {
    let Some(suite) = Suite::start("harness smoke").await? else {
        return Ok(());
    };
    let phone = suite.open(Profile::phone()).await?;
    let desktop = suite.open(Profile::desktop()).await?;
    for window in [&phone, &desktop] {
        window.goto("/healthz").await?;
        let body = window.driver.find(By::Tag("body")).await?.text().await?;
        assert_eq!(body.trim(), "ok");
        assert_eq!(window.path().await?, "/healthz");
    }
    let viewport = "return [window.innerWidth, window.innerHeight];";
    let phone_size: (u32, u32) = phone.driver.execute(viewport, Vec::new()).await?.convert()?;
    assert_eq!(phone_size, (360, 740), "phone viewport");
    let desktop_size: (u32, u32) = desktop.driver.execute(viewport, Vec::new()).await?.convert()?;
    assert_eq!(desktop_size, (1280, 800), "desktop viewport");
    phone.goto(SCRIPTED).await?;
    assert_eq!(phone.driver.title().await?, "on", "scripts run by default");

    let no_script = suite.open(Profile::phone().without_javascript()).await?;
    no_script.goto(SCRIPTED).await?;
    assert_eq!(no_script.driver.title().await?, "off", "scripts stay off");
    // The page's own scripts stay off, but WebDriver's still run: the accessibility check
    // works in these profiles too.
    let probe = no_script.driver.execute("return 6 * 7;", Vec::new()).await?;
    assert_eq!(probe.convert::<i64>()?, 42);
    no_script.goto("/healthz").await?;
    assert_eq!(no_script.path().await?, "/healthz");

    for window in [phone, desktop, no_script] {
        window.close().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accessibility_check_fails_on_serious_violations_only() -> Result<()> {
    let Some(suite) = Suite::start("axe smoke").await? else {
        return Ok(());
    };
    let Some(source) = std::env::var_os("ROSTER_AXE_JS") else {
        // axe::check says itself whether that is a skip or (in CI) a failure.
        return axe::check(&suite.open(Profile::desktop()).await?.driver, "nothing").await;
    };
    let source = std::fs::read_to_string(source)?;
    let window = suite.open(Profile::desktop()).await?;

    window.goto(INACCESSIBLE).await?;
    let violations = axe::run(&window.driver, &source).await?;
    let broken: Vec<&str> = violations
        .iter()
        .filter(|v| v.blocks())
        .map(|v| v.id.as_str())
        .collect();
    assert!(broken.contains(&"html-has-lang"), "{broken:?}");
    assert!(broken.contains(&"image-alt"), "{broken:?}");
    let error = window.axe_check().await.expect_err("the check fails");
    let report = format!("{error:#}");
    assert!(report.contains("[critical] image-alt"), "{report}");
    assert!(report.contains("at img"), "{report}");

    window.goto(ACCESSIBLE).await?;
    window.axe_check().await?;
    window.close().await
}
