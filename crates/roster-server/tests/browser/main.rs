//! Browser tests: a real headless Chromium (Debian `chromium` + `chromium-driver`), driven by
//! thirtyfour through `chromedriver`, against the real server on loopback.
//!
//! A test binary of its own (not a module of `tests/main.rs`) so that `cargo test --test main`
//! stays quick and this suite can be run alone: `cargo test -p roster-server --test browser`.
//! Without Chromium or its driver each test prints that it was skipped; with `CI=true` it
//! fails instead. `.ci/run` installs both, and axe-core (`ROSTER_AXE_JS`).

// A failed unwrap is a failed test here, with its location: exactly what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod axe;
mod harness;
mod no_script;
mod smoke;
mod steps;
mod story;
// The browser tests take only the server from the API tests' harness, not its API users.
#[allow(dead_code)]
#[path = "../support.rs"]
mod support;
mod window;
