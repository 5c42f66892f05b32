//! Where pushes may go. Push resources are URLs chosen by clients, so the sender must not be
//! usable to reach the server's own network:
//! - every push resource is matched against the allow-list again when it is sent (the list
//!   may have shrunk since the registration);
//! - names are resolved here, at connect time, and only public addresses are used, so a name
//!   that resolved to a public address at registration cannot be re-pointed at `127.0.0.1`
//!   later (DNS rebinding). Hosts of origins listed exactly are the operator's own choice and
//!   are exempt (a self-hosted ntfy, a test sink on loopback).
//!
//! Resolution uses the system resolver through `tokio::net::lookup_host` behind reqwest's
//! `dns::Resolve`: no second DNS stack in the dependency graph.

use crate::domain::push::PushOrigin;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::Url;

/// The allow-list entry a push resource falls under, if any; for a wildcard entry the host
/// must also be a name, not an address literal.
pub(super) fn admitting<'a>(origins: &'a [PushOrigin], url: &Url) -> Option<&'a PushOrigin> {
    let origin = origins.iter().find(|origin| origin.admits(url))?;
    let literal = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
    (origin.is_exact() || !literal).then_some(origin)
}

/// A resolver that drops every non-public address, except for the hosts listed exactly.
#[derive(Debug, Clone)]
pub(super) struct PublicResolver {
    trusted: HashSet<String>,
}

impl PublicResolver {
    pub(super) fn new(origins: &[PushOrigin]) -> Self {
        PublicResolver {
            trusted: origins
                .iter()
                .filter(|origin| origin.is_exact())
                .map(|origin| origin.host().to_ascii_lowercase())
                .collect(),
        }
    }
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let trusted = self.trusted.contains(&host);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| trusted || is_public(address.ip()))
                .collect();
            if usable.is_empty() {
                return Err("the push service's name resolves to no public address".into());
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local,
/// shared (CGNAT), unique-local, multicast, documentation, reserved, or an IPv4 address
/// wrapped in IPv6 (mapped, compatible, NAT64, 6to4, Teredo), which could reach any of those.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), RFC 6598
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embeds_v4 = ip.to_ipv4_mapped().is_some()
        || (segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified()) // compatible
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64
        || segments[0] == 0x2002 // 6to4
        || (segments[0] == 0x2001 && segments[1] == 0); // Teredo
    !(embeds_v4
        || ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only, 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2a00:1450:4001:80b::200e",
            "2606:4700::1111",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} refused");
        }
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} let through");
        }
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_unless_listed_exactly() {
        let wildcard_only: Vec<PushOrigin> = vec!["https://*.example.org".parse().unwrap()];
        let resolver = PublicResolver::new(&wildcard_only);
        let refused = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err(), "localhost resolved to a usable address");

        let listed: Vec<PushOrigin> = vec!["http://localhost:2586".parse().unwrap()];
        let resolver = PublicResolver::new(&listed);
        let addresses: Vec<SocketAddr> = resolver.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addresses.iter().all(|a| a.ip().is_loopback()) && !addresses.is_empty());
    }

    #[test]
    fn push_resources_are_matched_against_the_allow_list() {
        let origins: Vec<PushOrigin> = vec![
            "https://*.push.example.org".parse().unwrap(),
            "http://127.0.0.1:8080".parse().unwrap(),
        ];
        let url = |text: &str| Url::parse(text).unwrap();
        assert!(admitting(&origins, &url("https://eu.push.example.org/x")).is_some());
        assert!(admitting(&origins, &url("http://127.0.0.1:8080/sink")).is_some());
        assert!(admitting(&origins, &url("http://127.0.0.1:8081/sink")).is_none());
        assert!(admitting(&origins, &url("https://eu.push.example.org:8443/x")).is_none());
        assert!(admitting(&origins, &url("http://eu.push.example.org/x")).is_none());
        assert!(admitting(&origins, &url("https://10.0.0.1/x")).is_none());
    }
}
