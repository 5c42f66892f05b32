//! The client's address, for per-client limits and lock-outs: the TCP peer, or — when the
//! peer is a trusted proxy — the right-most address of `X-Forwarded-For` that is not itself a
//! trusted proxy. Entries left of that one are whatever the client chose to send, so they are
//! never believed.

use super::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The client address of a request, if known.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(
            peer.map(|peer| client_ip(peer, &parts.headers, &state.trusted_proxies)),
        ))
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    proxies.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`[v6]:port`, `v4:port`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client address behind `peer`, given the trusted proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted(client, proxies) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for hop in hops.iter().rev() {
        // An entry that is not an address was not written by a proxy we trust: stop at the
        // last address a trusted proxy vouched for.
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip.to_canonical();
        if !trusted(client, proxies) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        let spoofed = headers(&["203.0.113.9"]);
        // From an untrusted peer the header is ignored.
        assert_eq!(client_ip(ip("198.51.100.7"), &spoofed, &proxies), ip("198.51.100.7"));
        // Behind a trusted proxy the right-most untrusted entry is the client; whatever the
        // client itself put left of it is ignored.
        let chain = headers(&["1.2.3.4, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &chain, &proxies), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("::1"), &headers(&["[2001:db8::5]:443"]), &proxies),
            ip("2001:db8::5")
        );
        // Garbage stops the walk at the last trusted hop; no header means the peer.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["1.2.3.4, nonsense"]), &proxies),
            ip("10.0.0.2")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &HeaderMap::new(), &proxies), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("::ffff:10.0.0.2"), &spoofed, &proxies), ip("203.0.113.9"));
        // Without trusted proxies the header never counts.
        assert_eq!(client_ip(ip("10.0.0.2"), &spoofed, &[]), ip("10.0.0.2"));
    }
}
