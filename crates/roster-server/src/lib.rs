//! The Roster server: a self-hosted group directory that keeps every member's terminals
//! supplied with the cards of their fellow members.
//!
//! Module map:
//! - [`config`]: file and environment settings, validated once.
//! - [`domain`]: the business rules; knows no HTTP and no SQL.
//! - [`store`]: storage behind the [`store::Store`] trait (SQLite now).
//! - [`bus`]: "group G reached version V" announcements after commit.
//! - [`http`]: the doors — JSON API, health, metrics — translating to and from the domain.
//! - [`push`]: the outbound door — WebDAV-Push messages to push services.
//! - [`tls`]: the one TLS crypto provider of outbound HTTPS.
//! - [`app`]: builds the whole server from a [`config::Config`] and runs it.

pub mod app;
pub mod bus;
pub mod config;
pub mod domain;
pub mod http;
pub mod push;
pub mod store;
pub mod tls;
pub mod webpush;

pub use app::Application;
pub use config::Config;
