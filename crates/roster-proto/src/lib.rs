//! Wire formats shared by the Roster server and its terminal client.
//!
//! Only data shapes live here: no I/O, no HTTP framework, no database. The server validates
//! what arrives in these shapes; the client builds and reads them.

pub mod api;
pub mod stream;
pub mod vcard;
