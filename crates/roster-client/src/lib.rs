//! The terminal side of Roster: everything the `roster` command needs below its command line.
//!
//! It speaks to the server only through `roster-proto`'s wire types and never imports the
//! server. The local address book is a vdir folder plus a SQLite cache kept inside it.

pub mod book;
mod cache;
pub mod credentials;
pub mod error;
pub mod http;
pub mod sync;
mod vdir;
pub mod watch;

pub use book::{Applied, Book, Contact};
pub use credentials::{Credentials, Paths};
pub use error::{Error, Result};
pub use http::Client;
pub use sync::{Quiet, Summary, SyncObserver, sync};
pub use watch::{WatchEvent, watch};
