//! The one end-to-end test binary of the `roster` command: each module starts a real server on
//! 127.0.0.1 and drives the real binary as a person (or a script) would.

// A failed unwrap is a failed test here, with its location: exactly what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod carddav;
mod crash;
mod doctor;
mod errors;
mod instances;
mod interop;
mod migrate_store;
mod serve;
mod story;
mod support;
mod watch;
