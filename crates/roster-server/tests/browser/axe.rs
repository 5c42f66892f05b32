//! Accessibility check of a page in the browser with axe-core (from npm, pinned by
//! `.ci/run`, which exports the path of its `axe.min.js` as `ROSTER_AXE_JS`).
//!
//! The script is injected through WebDriver, which is not subject to the page's
//! Content-Security-Policy, so the pages need no exception for it. Violations of impact
//! `serious` or `critical` fail the test; `minor` and `moderate` ones are printed only.

use crate::harness::{in_ci, say};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::sync::OnceLock;
use thirtyfour::prelude::*;

/// One rule that some elements of the page break (a subset of axe's result).
#[derive(Debug, Deserialize)]
pub(crate) struct Violation {
    /// The rule, e.g. `color-contrast`.
    pub(crate) id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    #[serde(default)]
    pub(crate) impact: Option<String>,
    /// What the rule asks for, in one line.
    pub(crate) help: String,
    /// The elements that break it.
    #[serde(default)]
    pub(crate) nodes: Vec<Node>,
}

/// One element that breaks a rule.
#[derive(Debug, Deserialize)]
pub(crate) struct Node {
    /// CSS selectors of the element (one per frame).
    #[serde(default)]
    pub(crate) target: Vec<Value>,
    /// axe's explanation of what to fix.
    #[serde(default, rename = "failureSummary")]
    pub(crate) failure_summary: Option<String>,
}

impl Violation {
    /// Whether this violation fails the check.
    pub(crate) fn blocks(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

/// Runs axe-core on the page shown in `driver`; `page` names it in the report. Fails on
/// serious or critical violations, listing every violation readably.
pub(crate) async fn check(driver: &WebDriver, page: &str) -> Result<()> {
    let Some(source) = axe_source()? else {
        return Ok(());
    };
    let violations = run(driver, source)
        .await
        .with_context(|| format!("axe-core on {page}"))?;
    if violations.is_empty() {
        return Ok(());
    }
    let report = describe(page, &violations);
    if violations.iter().any(Violation::blocks) {
        bail!("{report}");
    }
    say(&report);
    Ok(())
}

/// Injects axe-core (once per page load) and returns the violations it finds.
pub(crate) async fn run(driver: &WebDriver, source: &str) -> Result<Vec<Violation>> {
    let loaded = driver
        .execute("return typeof window.axe === 'object';", Vec::new())
        .await
        .context("run a script in the page (is JavaScript off?)")?;
    if !loaded.convert::<bool>()? {
        driver.execute(source, Vec::new()).await.context("inject axe-core")?;
    }
    let result = driver
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            window.axe
                .run(document, { resultTypes: ["violations"] })
                .then((r) => done({ violations: r.violations }))
                .catch((e) => done({ error: String(e) }));
            "#,
            Vec::new(),
        )
        .await
        .context("axe.run")?;
    let value = result.json();
    if let Some(error) = value.get("error") {
        bail!("axe.run failed: {error}");
    }
    Ok(serde_json::from_value(value["violations"].clone())?)
}

/// A readable list: one block per rule, with its elements and what to fix.
pub(crate) fn describe(page: &str, violations: &[Violation]) -> String {
    let mut out = format!("axe-core found {} rule(s) broken on {page}:", violations.len());
    for violation in violations {
        let impact = violation.impact.as_deref().unwrap_or("unknown");
        let _ = write!(out, "\n  [{impact}] {}: {}", violation.id, violation.help);
        for node in &violation.nodes {
            let target: Vec<String> = node
                .target
                .iter()
                .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_string))
                .collect();
            let _ = write!(out, "\n    at {}", target.join(" >>> "));
            if let Some(summary) = &node.failure_summary {
                for line in summary.lines() {
                    let _ = write!(out, "\n       {line}");
                }
            }
        }
    }
    out
}

/// The text of `axe.min.js`, read once. `None` (said once) when `ROSTER_AXE_JS` is unset
/// outside CI; an error in CI, or when the file cannot be read.
fn axe_source() -> Result<Option<&'static str>> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    if let Some(source) = SOURCE.get() {
        return Ok(source.as_deref());
    }
    let source = match std::env::var_os("ROSTER_AXE_JS") {
        Some(path) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("read axe-core from ROSTER_AXE_JS={}", path.to_string_lossy()))?,
        ),
        None if in_ci() => bail!("ROSTER_AXE_JS is required in CI: .ci/run installs axe-core and sets it"),
        None => {
            say(
                "SKIPPED accessibility checks: ROSTER_AXE_JS is not set (run .ci/run, or \
                 `npm install axe-core` and point ROSTER_AXE_JS at its axe.min.js)",
            );
            None
        }
    };
    Ok(SOURCE.get_or_init(|| source).as_deref())
}
