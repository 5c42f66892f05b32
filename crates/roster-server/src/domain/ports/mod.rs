//! The domain's ports: the storage it needs, as a few traits split by area, and the bus
//! that announces what was committed.
//!
//! The domain owns these contracts; `store/` implements them (one file per area in each
//! backend) and defines no records of its own that the domain imports. Each area trait's
//! methods are whole use cases, every writing one in one transaction that appends the
//! change-log entries its write implies, so the log always commits with the data it
//! describes. A store enforces only the invariants that need atomicity (invite uses, member
//! limits, one owner, card revisions) and reports a broken one as a [`Refusal`], a fact the
//! domain words; every other rule lives in the domain. `tests/store_contract/` states what
//! every implementation must do.

mod accounts;
mod bus;
mod credentials;
mod directory;
mod groups;
mod push;
mod refusal;
mod server;

pub use accounts::AccountStore;
pub use bus::{Bus, Event, Heard, Subscription};
pub use credentials::CredentialStore;
pub use directory::DirectoryStore;
pub use groups::GroupStore;
pub use push::{PushClaim, PushStore};
pub use refusal::{Refusable, Refusal, StoreError};
pub use server::ServerStore;

/// Storage for everything Roster keeps: every area's port in one object, the way the domain
/// holds it (`Arc<dyn Store>`). Any type implementing all the areas is a `Store`.
pub trait Store: AccountStore + CredentialStore + GroupStore + DirectoryStore + PushStore + ServerStore {}

impl<T> Store for T where T: AccountStore + CredentialStore + GroupStore + DirectoryStore + PushStore + ServerStore {}
