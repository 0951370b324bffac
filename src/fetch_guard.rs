//! The outbound guard: the one way balas fetches a URL it did not choose itself (a provider's
//! media link, a shop's webhook endpoint). It allows only the hosts given for the fetch,
//! refuses private, loopback and link-local addresses on the address actually connected, follows
//! redirects itself (each hop checked again), and attaches a credential only to the hosts it was
//! issued for.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Client, Response, StatusCode, Url};

/// Redirect hops a fetch follows (Twilio's media link takes one).
const MAX_REDIRECTS: usize = 3;

/// Why the guard refused a fetch; the short codes are stored and audited.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("the URL is not http(s) or has no host")]
    BadUrl,
    /// Plain http is for a local setup only (with private addresses allowed).
    #[error("the URL is not https")]
    NotHttps,
    #[error("the host is not one this fetch may reach")]
    HostNotAllowed,
    #[error("the address is private, loopback or link-local")]
    PrivateAddress,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("the host name does not resolve")]
    Unresolvable,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUrl => "bad_url",
            Self::NotHttps => "not_https",
            Self::HostNotAllowed => "host_not_allowed",
            Self::PrivateAddress => "private_address",
            Self::TooManyRedirects => "too_many_redirects",
            Self::Unresolvable => "unresolvable",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
}

/// Host names a fetch may reach: exact names, or `*.suffix` for any subdomain of `suffix`.
#[derive(Debug, Clone, Default)]
pub struct Hosts(Vec<String>);

impl Hosts {
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        Self(names.into_iter().map(|n| n.as_ref().trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect())
    }

    /// The host of `url` (the provider's configured base URL).
    pub fn of_url(url: &str) -> Self {
        Self::new(Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)))
    }

    pub fn and(mut self, other: &Hosts) -> Self {
        self.0.extend(other.0.iter().cloned());
        self
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.iter().any(|rule| match rule.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix) && host.ends_with(&format!(".{suffix}"))
            }
            None => *rule == host,
        })
    }
}

/// A credential header and the hosts it was issued for; no other host ever sees it.
pub struct Credential {
    pub header: HeaderValue,
    pub hosts: Hosts,
}

/// What may be reached: the hosts, and whether private addresses are allowed (tests and an
/// operator's local receivers only).
#[derive(Clone)]
pub struct Guard {
    client: Client,
    allow_private: bool,
}

impl Guard {
    /// `timeout` bounds a whole fetch, body included; a body that stalls for 30 s fails sooner.
    pub fn new(allow_private: bool, timeout: Duration) -> anyhow::Result<Self> {
        crate::crypto::install_crypto_provider();
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicResolver { allow_private }))
            .user_agent(concat!("balas/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, allow_private })
    }

    /// GETs `url`, following redirects to allowed hosts; the response is not yet read, so the
    /// caller streams the body under its own limit.
    pub async fn get(
        &self,
        url: &str,
        allowed: &Hosts,
        credential: Option<&Credential>,
    ) -> Result<Response, FetchError> {
        let mut url = Url::parse(url).map_err(|_| Refusal::BadUrl)?;
        for _ in 0..=MAX_REDIRECTS {
            let host = self.check(&url, allowed)?;
            let mut request = self.client.get(url.clone());
            if let Some(c) = credential.filter(|c| c.hosts.allows(&host)) {
                request = request.header(AUTHORIZATION, c.header.clone());
            }
            let response = request.send().await.map_err(refused_by_resolver)?;
            if let Some(addr) = response.remote_addr() {
                self.check_addr(addr)?;
            }
            if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED {
                return Ok(response);
            }
            let next = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).ok_or(Refusal::BadUrl)?;
            url = url.join(next).map_err(|_| Refusal::BadUrl)?;
        }
        Err(Refusal::TooManyRedirects.into())
    }

    /// POSTs `body` to a URL a shop chose (its webhook endpoint): any public host, and a
    /// redirect is the endpoint's answer, never followed.
    pub async fn post(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Result<Response, FetchError> {
        let url = Url::parse(url).map_err(|_| Refusal::BadUrl)?;
        self.check_target(&url)?;
        let response = self.client.post(url).headers(headers).body(body).send().await.map_err(refused_by_resolver)?;
        if let Some(addr) = response.remote_addr() {
            self.check_addr(addr)?;
        }
        Ok(response)
    }

    /// Checks a URL a shop gives before it is stored: http(s), https unless private addresses are
    /// allowed, and a host that resolves to at least one public address now.
    pub async fn vet(&self, url: &str) -> Result<Url, Refusal> {
        let url = Url::parse(url).map_err(|_| Refusal::BadUrl)?;
        let host = self.check_target(&url)?;
        if self.allow_private || url.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
            return Ok(url);
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let found = tokio::net::lookup_host((host.as_str(), port)).await.map_err(|_| Refusal::Unresolvable)?;
        if !found.into_iter().any(|a| is_public(a.ip())) {
            return Err(Refusal::PrivateAddress);
        }
        Ok(url)
    }

    /// The URL's host when it is http(s), allowed, and (for an address literal) public.
    fn check(&self, url: &Url, allowed: &Hosts) -> Result<String, Refusal> {
        let host = self.check_target(url)?;
        if !allowed.allows(&host) {
            return Err(Refusal::HostNotAllowed);
        }
        Ok(host)
    }

    /// The URL's host when it is http(s) and (for an address literal) public; plain http only
    /// where private addresses are allowed.
    fn check_target(&self, url: &Url) -> Result<String, Refusal> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Refusal::BadUrl);
        }
        let host = url.host_str().ok_or(Refusal::BadUrl)?.to_string();
        // An address literal never reaches the resolver, so it is checked here.
        if let Some(url::Host::Ipv4(ip)) = url.host() {
            self.check_ip(IpAddr::V4(ip))?;
        }
        if let Some(url::Host::Ipv6(ip)) = url.host() {
            self.check_ip(IpAddr::V6(ip))?;
        }
        if url.scheme() == "http" && !self.allow_private {
            return Err(Refusal::NotHttps);
        }
        Ok(host)
    }

    fn check_addr(&self, addr: SocketAddr) -> Result<(), Refusal> {
        self.check_ip(addr.ip())
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow_private || is_public(ip) { Ok(()) } else { Err(Refusal::PrivateAddress) }
    }
}

/// A connection the resolver refused is a refusal, not a network failure.
fn refused_by_resolver(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return FetchError::Refused(refusal.clone());
        }
        source = cause.source();
    }
    FetchError::Transport(e)
}

/// Resolves names and keeps only public addresses, so a connection can only go to one.
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found.filter(|a| allow_private || is_public(a.ip())).collect();
            if kept.is_empty() {
                return Err(Box::new(Refusal::PrivateAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is a public unicast address: not private, loopback, link-local, shared (CGNAT),
/// documentation, multicast or unspecified; IPv4-mapped IPv6 is judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// `host[:port]` of a URL (the port only when it is not the scheme's default), as the
/// sub-processor list names hosts.
pub fn host_with_port(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} must be refused");
        }
        for public in ["157.240.1.1", "8.8.8.8", "2a03:2880::1"] {
            assert!(is_public(public.parse().unwrap()), "{public} must pass");
        }
    }

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        let hosts = Hosts::new(["graph.facebook.com", "*.fbsbx.com"]);
        assert!(hosts.allows("graph.facebook.com"));
        assert!(hosts.allows("lookaside.fbsbx.com"));
        assert!(hosts.allows("LOOKASIDE.FBSBX.COM."));
        assert!(!hosts.allows("fbsbx.com"));
        assert!(!hosts.allows("evilfbsbx.com"));
        assert!(!hosts.allows("graph.facebook.com.evil.test"));
    }

    #[tokio::test]
    async fn a_private_address_literal_or_a_foreign_host_is_refused_before_any_connection() {
        let guard = Guard::new(false, Duration::from_secs(2)).unwrap();
        let allowed = Hosts::new(["127.0.0.1", "localhost", "10.0.0.1"]);
        for url in ["https://127.0.0.1:9/x", "https://10.0.0.1/x", "https://[::1]:9/x"] {
            let refused = guard.get(url, &allowed.clone().and(&Hosts::new(["::1", "[::1]"])), None).await;
            assert!(matches!(refused, Err(FetchError::Refused(Refusal::PrivateAddress))), "{url}");
        }
        // A name that resolves only to loopback is refused by the resolver.
        let refused = guard.get("https://localhost:9/x", &allowed, None).await;
        assert!(matches!(refused, Err(FetchError::Refused(Refusal::PrivateAddress))), "{refused:?}");
        let refused = guard.get("https://example.test/x", &allowed, None).await;
        assert!(matches!(refused, Err(FetchError::Refused(Refusal::HostNotAllowed))));
        // Plain http would show a token to anyone on the path: only a local setup may use it.
        let refused = guard.get("http://lookaside.fbsbx.com/x", &Hosts::new(["*.fbsbx.com"]), None).await;
        assert!(matches!(refused, Err(FetchError::Refused(Refusal::NotHttps))));
        let refused = guard.get("file:///etc/passwd", &allowed, None).await;
        assert!(matches!(refused, Err(FetchError::Refused(Refusal::BadUrl))));
    }
}
