//! The terminal side of Roster: everything the `roster` command needs below its command line.
//!
//! It speaks to the server only through `roster-proto`'s wire types and never imports the
//! server. The local address book is a vdir folder plus a SQLite cache kept inside it.

/// The local address book: vdir folder + cache, changed one contact at a time.
pub mod book;
/// Where the terminal keeps its state, and its credentials file (mode 0600).
pub mod credentials;
/// The client's one error type, one variant per kind of failure.
pub mod error;
/// The JSON API client.
pub mod http;
/// The sync engine: changes since the stored cursors, per group.
pub mod sync;
/// Live updates over the WebSocket stream, reconnecting with back-off.
pub mod watch;

mod cache;
mod vdir;

pub use book::{Applied, Book, Contact};
pub use credentials::{Credentials, Paths};
pub use error::{Error, Result};
pub use http::Client;
pub use sync::{Quiet, Summary, SyncObserver, sync};
pub use watch::{WatchEvent, watch};
