//! The Roster server: a self-hosted group directory that keeps every member's terminals
//! supplied with the cards of their fellow members.
//!
//! Module map:
//! - [`config`]: file and environment settings, validated once.
//! - [`domain`]: the business rules and the ports they need ([`domain::ports`]: the store by
//!   area, the bus); knows no HTTP and no SQL.
//! - [`store`]: the storage ports implemented (SQLite, the default, and PostgreSQL).
//! - [`bus`]: the bus port implemented (in-process now): announcements after commit.
//! - [`http`]: the doors — JSON API, stream, CardDAV, web pages, health, metrics —
//!   translating to and from the domain.
//! - [`push`]: the outbound door — WebDAV-Push messages to push services.
//! - [`webpush`]: RFC 8291 message encryption and VAPID signing, below the domain.
//! - [`tls`]: the one TLS crypto provider of outbound HTTPS.
//! - [`app`]: builds the whole server from a [`config::Config`] and runs it (the one place
//!   that picks implementations).

pub mod app;
pub mod bus;
pub mod checkup;
pub mod config;
pub mod domain;
pub mod http;
pub mod push;
pub mod store;
pub mod tls;
pub mod webpush;

pub use app::Application;
pub use config::Config;
