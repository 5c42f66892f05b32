//! WebDAV/CardDAV XML with no I/O: what a request body asks for, read into plain values
//! (`parse`, on the bounded reader of `tree`), and the multistatus and error documents
//! written back (`write`); WebDAV-Push's own bodies are in `push`.
//!
//! This module owns the namespaces, property names and the one error type of request
//! parsing. It never sees HTTP: the handlers of the CardDAV door decide what to answer.

mod parse;
mod push;
mod tree;
mod write;

pub use parse::{
    AskedVersion, Filter, MatchType, Needle, PropFilter, PropRequest, Props, Report, TextMatch, parse_propfind,
    parse_proppatch, parse_report,
};
pub use push::{PUSH, PushRegister, Triggers, http_date, parse_http_date, parse_push_register};
pub use write::{
    Prop, PropStat, Response, Value, close_multistatus, error, error_described, escape_text, multistatus,
    open_multistatus, write_response,
};

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";
/// The CardDAV namespace.
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's calendar-server namespace (`getctag`, `me-card`).
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML, or a construct that is not accepted (DTD, unknown entity).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Well-formed, but not the request this resource understands.
    #[error("unexpected request body: {0}")]
    Unexpected(String),
}

/// A property name: namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    /// Namespace URI ("" when unbound).
    pub ns: String,
    /// Local name.
    pub name: String,
}

impl PropName {
    /// A property in a namespace.
    pub fn new(ns: &str, name: &str) -> Self {
        PropName {
            ns: ns.to_string(),
            name: name.to_string(),
        }
    }

    /// Whether this is `name` in `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// Reads a golden file of `tests/carddav/` (a request body or an expected answer).
#[cfg(test)]
fn golden(name: &str) -> String {
    let path = format!("{}/tests/carddav/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
