//! Implementations of the domain's bus port ([`crate::domain::ports::Bus`]): today the
//! in-process one, for a single server instance.

pub mod local;
