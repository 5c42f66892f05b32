//! Implementations of the domain's storage ports ([`crate::domain::ports`]).
//!
//! Each backend is a folder: the store type with its pool, migrations and transaction
//! helpers, and one file per area port. The codecs between rows and the domain's records
//! are shared (`rows`): both backends store the same values in the same shapes.
//! A backend implements the ports' contracts (`tests/store_contract/`) and nothing more: it
//! defines no records the domain imports, words no message (a broken rule is a
//! [`Refusal`](crate::domain::ports::Refusal)) and holds no business rule beyond the
//! invariants that need its transaction.

pub mod postgres;
mod rows;
pub mod sqlite;
