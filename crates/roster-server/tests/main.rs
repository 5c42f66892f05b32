//! The one integration-test binary: each module drives a real server over loopback HTTP.

// A failed unwrap is a failed test here, with its location: exactly what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audience;
mod authorization;
mod backup;
mod bad_input;
mod bulk_seed;
mod bus;
mod carddav;
mod credentials;
mod feed;
mod members;
mod migrate_store;
mod operations;
mod phones;
mod photos;
mod push;
mod resources;
mod storage;
mod store_contract;
mod store_postgres;
mod story;
mod stream;
mod support;
mod sync_property;
mod web;
mod web_admin;
mod web_client;
mod web_devices;
