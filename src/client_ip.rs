//! The client's address, for the login limits: the TCP peer by default, or what a trusted proxy
//! in front says (`BALAS_CLIENT_IP_HEADER`). Behind a proxy every client shares its address, so
//! limiting by the peer would let one client lock out everyone; trusting a header without a
//! proxy would let every client choose its own address. Only the operator knows which holds.
use std::net::IpAddr;

use axum::http::HeaderMap;

/// Where the client address comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientIpSource {
    /// The TCP peer: balas faces the clients directly.
    #[default]
    Peer,
    /// `Fly-Client-IP`, which Fly's proxy sets and a client cannot.
    FlyClientIp,
    /// `X-Forwarded-For`, with `BALAS_TRUSTED_PROXY_HOPS` proxies of ours appending to it.
    XForwardedFor,
}

/// The configured source, and how many trusted proxies append to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    pub source: ClientIpSource,
    pub trusted_hops: usize,
}

impl Default for ClientIp {
    fn default() -> Self {
        Self { source: ClientIpSource::Peer, trusted_hops: 1 }
    }
}

impl ClientIp {
    /// The client's address; the peer when the configured header is missing or malformed.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        match self.source {
            ClientIpSource::Peer => None,
            ClientIpSource::FlyClientIp => {
                headers.get("fly-client-ip").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
            }
            ClientIpSource::XForwardedFor => self.forwarded_for(headers),
        }
        .unwrap_or(peer)
    }

    /// Each trusted proxy appends the address it received from; the entry our outermost proxy
    /// appended is `trusted_hops` from the right. Entries left of it are the client's to write.
    fn forwarded_for(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut entries = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            entries.extend(value.to_str().ok()?.split(',').map(str::trim));
        }
        let hops = self.trusted_hops.max(1);
        let entry = entries.len().checked_sub(hops).and_then(|i| entries.get(i))?;
        entry.parse().ok()
    }
}

/// The client address as an extractor (its `FromRequestParts` lives in `app.rs`), for handlers that limit per client.
pub struct ClientAddr(pub IpAddr);

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn by_default_the_peer_counts_and_headers_are_ignored() {
        let h = headers(&[("fly-client-ip", "203.0.113.9"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(ClientIp::default().resolve(PEER, &h), PEER);
    }

    #[test]
    fn fly_client_ip_is_taken_when_configured_and_the_peer_when_it_is_absent_or_bad() {
        let fly = ClientIp { source: ClientIpSource::FlyClientIp, trusted_hops: 1 };
        assert_eq!(fly.resolve(PEER, &headers(&[("fly-client-ip", "203.0.113.9")])).to_string(), "203.0.113.9");
        assert_eq!(fly.resolve(PEER, &headers(&[("fly-client-ip", "nonsense")])), PEER);
        assert_eq!(fly.resolve(PEER, &HeaderMap::new()), PEER);
    }

    #[test]
    fn forwarded_for_skips_what_the_client_wrote_before_our_proxies() {
        let one = ClientIp { source: ClientIpSource::XForwardedFor, trusted_hops: 1 };
        let two = ClientIp { trusted_hops: 2, ..one };
        // The client forged "1.1.1.1"; our one proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9")]);
        assert_eq!(one.resolve(PEER, &h).to_string(), "203.0.113.9");
        // Two proxies of ours: the outer one's entry is second from the right, over two headers.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9"), ("x-forwarded-for", "10.1.1.1")]);
        assert_eq!(two.resolve(PEER, &h).to_string(), "203.0.113.9");
        assert_eq!(two.resolve(PEER, &headers(&[("x-forwarded-for", "203.0.113.9")])), PEER, "too few hops");
        assert_eq!(one.resolve(PEER, &headers(&[("x-forwarded-for", "1.1.1.1, junk")])), PEER);
    }
}
