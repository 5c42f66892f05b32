//! Who the client of a request is, for per-address limits: the one place that decides it.
//!
//! Today that is the TCP peer. Behind a reverse proxy every request comes from the proxy, so
//! a trusted-proxy setting (with `X-Forwarded-For`) belongs in [`client_address`] and nowhere
//! else.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The address of the client that sent a request, if the server knows it.
pub(crate) fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// Extracts [`client_address`]; never fails (routers served without connect info, as in
/// `oneshot` tests, see `None`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}
