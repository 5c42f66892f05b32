//! The server side's one TLS crypto provider: ring, installed as the process default.
//!
//! reqwest is built with rustls but without a provider of its own (`rustls-no-provider`, so
//! that aws-lc-rs stays out of the build), and it panics when asked for TLS with none
//! installed. So everything on this side that builds an HTTP client — push delivery, and the
//! tests', benchmarks' and load tool's clients — calls [`install_crypto_provider`] first.
//! roster-client has the same function for the terminal side: the two crates share no
//! dependency that does I/O, and the client never imports the server.

/// Makes ring the process's rustls crypto provider, if none is installed yet.
pub fn install_crypto_provider() {
    // `Err` only says that a provider is installed already, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
