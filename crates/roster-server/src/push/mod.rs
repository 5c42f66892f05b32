//! WebDAV-Push delivery, the outbound door: listens to the bus, asks the domain which push
//! registrations a change concerns and what to tell them, and posts each message, encrypted
//! (RFC 8291) and signed (RFC 8292), to its push service.
//!
//! The cryptography is [`crate::webpush`]; the message body is [`message`].
//!
//! It decides nothing about who may hear of what (that is [`crate::domain::push`]) and never
//! touches storage. Pushes are hints: a lost one only delays a client until its next sync.

mod dispatch;
mod guard;
pub mod message;
mod sender;

pub use dispatch::Dispatcher;
pub use sender::{Outcome, Sender};
