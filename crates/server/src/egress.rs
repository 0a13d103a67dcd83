//! The one way the server makes a request on a user's behalf (a bot's webhook today; link
//! previews and files sent by URL later): a guard against server-side request forgery.
//!
//! A user names a URL and the server fetches it, from inside the operator's network. Without
//! a guard, `http://127.0.0.1:PORT/internal-admin` or `http://169.254.169.254/` (a cloud's
//! metadata service) would be reached as the server. So every request made through
//! [`Egress`]:
//!
//! - must be `http` or `https`, and never goes through a proxy from the environment;
//! - goes only to public addresses ([`classify`] refuses loopback, private, link-local,
//!   CGNAT, multicast, documentation, benchmarking and reserved ranges, IPv4 and IPv6, and
//!   IPv4 addresses embedded in IPv6: mapped, compatible, NAT64, 6to4, Teredo);
//! - connects to the very address that was checked: names are resolved by the client's own
//!   resolver ([`GuardedResolver`]), which checks every address before the connection uses
//!   it, so a name cannot resolve to a public address for the check and to a private one
//!   for the connection (DNS rebinding);
//! - follows at most [`MAX_REDIRECTS`] redirects, each to a URL that passes the same check;
//! - is bounded in time (`egress.timeout_ms`) and in the size of the answer read
//!   (`egress.max_response_bytes`).
//!
//! The operator may allow named hosts and address ranges that are not public
//! (`[egress] allow = ["10.1.0.0/16", "hooks.internal"]`): a named host is reached at
//! whatever it resolves to; an address in an allowed range is reached whatever name led
//! there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Redirects followed per request, at most.
pub const MAX_REDIRECTS: usize = 5;

/// `[egress]` in the configuration.
///
/// ```toml
/// [egress]
/// allow = ["127.0.0.1/32", "hooks.internal"]   # reachable although not public
/// timeout_ms = 15000                            # per request, redirects included
/// max_response_bytes = 65536                    # of an answer's body, read at most
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressConfig {
    /// Address ranges (`10.0.0.0/8`, `::1/128`, or one address) and host names (matched
    /// exactly, case-insensitively) the server may reach although they are not public.
    pub allow: Vec<String>,
    pub timeout_ms: u64,
    pub max_response_bytes: usize,
}

impl Default for EgressConfig {
    fn default() -> EgressConfig {
        EgressConfig { allow: Vec::new(), timeout_ms: 15_000, max_response_bytes: 64 * 1024 }
    }
}

impl EgressConfig {
    /// Checks the allow list and bounds, naming the first bad entry.
    pub fn validate(&self) -> Result<(), String> {
        Allow::parse(&self.allow)?;
        if self.timeout_ms == 0 || self.max_response_bytes == 0 {
            return Err("`egress.timeout_ms` and `egress.max_response_bytes` must be greater than 0".into());
        }
        Ok(())
    }
}

/// Why a URL may not be fetched. The wording follows Telegram's `bad webhook: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("invalid URL")]
    Url,
    #[error("an HTTP or HTTPS URL is required")]
    Scheme,
    #[error("IP address {addr} is not allowed ({why})")]
    Address { addr: IpAddr, why: &'static str },
    #[error("IP address {addr} of {host} is not allowed ({why})")]
    Resolved { host: String, addr: IpAddr, why: &'static str },
    #[error("failed to resolve host {0}")]
    Resolve(String),
    #[error("too many redirects (at most {MAX_REDIRECTS})")]
    Redirects,
}

/// A request that did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("Connection timed out")]
    Timeout,
    #[error("Connection refused")]
    Connect,
    #[error("Failed to deliver: {0}")]
    Other(String),
}

/// An answer: its status and at most `max_response_bytes` of its body.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub body: Vec<u8>,
}

/// Why an address is not public, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<&'static str> {
    Some(match a.octets() {
        [0, ..] => "unspecified",
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => "private",
        [100, 64..=127, ..] => "shared address space (CGNAT)",
        [127, ..] => "loopback",
        [169, 254, ..] => "link-local",
        [192, 0, 0, _] => "reserved (IETF protocol assignments)",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "documentation",
        [192, 88, 99, _] => "reserved (6to4 relay anycast)",
        [198, 18..=19, ..] => "benchmarking",
        [224..=239, ..] => "multicast",
        [255, 255, 255, 255] => "broadcast",
        [240..=255, ..] => "reserved",
        _ => return None,
    })
}

fn classify_v6(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if a.is_unspecified() {
        return Some("unspecified");
    }
    if a.is_loopback() {
        return Some("loopback");
    }
    Some(match s {
        // ::ffff:a.b.c.d, IPv4-mapped: the IPv4 address itself.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => return classify_v4(v4(hi, lo)),
        // ::a.b.c.d, IPv4-compatible (deprecated, never routed).
        [0, 0, 0, 0, 0, 0, hi, lo] => classify_v4(v4(hi, lo)).unwrap_or("reserved (IPv4-compatible)"),
        // 64:ff9b::a.b.c.d, NAT64: public when the IPv4 address is.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(v4(hi, lo)),
        [0x64, 0xff9b, 1, ..] => "private (local-use NAT64)",
        // 2002:a.b.c.d::/48, 6to4.
        [0x2002, hi, lo, ..] => return classify_v4(v4(hi, lo)),
        // 2001:0:server::client, Teredo: the server's address, and the client's inverted.
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => {
            return classify_v4(v4(server_hi, server_lo)).or_else(|| classify_v4(v4(!client_hi, !client_lo)))
        }
        [0x2001, 2, 0, ..] => "benchmarking",
        [0x2001, 0x10..=0x2f, ..] => "reserved (ORCHID)",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x3fff, 0..=0x0fff, ..] => "documentation",
        [0x5f00, ..] => "reserved (SRv6)",
        [0x100, 0, 0, 0, ..] => "reserved (discard-only)",
        [x, ..] if x & 0xfe00 == 0xfc00 => "unique-local",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local (deprecated)",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast",
        // Everything else outside 2000::/3 is not global unicast.
        [x, ..] if x & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    })
}

/// The operator's exceptions.
#[derive(Debug, Default)]
struct Allow {
    nets: Vec<IpNet>,
    /// Lower case, without a trailing dot.
    hosts: Vec<String>,
}

impl Allow {
    fn parse(entries: &[String]) -> Result<Allow, String> {
        let mut allow = Allow::default();
        for entry in entries {
            let entry = entry.trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                allow.nets.push(net.trunc());
            } else if let Ok(addr) = entry.parse::<IpAddr>() {
                allow.nets.push(IpNet::from(addr));
            } else {
                let host = entry.trim_end_matches('.').to_ascii_lowercase();
                let name = !host.is_empty()
                    && host.len() <= 253
                    && host.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                if !name {
                    return Err(format!("`egress.allow` entry {entry:?} is neither an address range (10.0.0.0/8) nor a host name"));
                }
                allow.hosts.push(host);
            }
        }
        Ok(allow)
    }

    fn host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Why `ip` may not be reached, unless an allowed range holds it.
    fn refuse(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = ip.to_canonical();
        let why = classify(ip)?;
        (!self.nets.iter().any(|net| net.contains(&ip))).then_some(why)
    }

    /// The scheme and, for an address written in the URL, the address. Names are checked
    /// when they are resolved ([`Allow::resolve`]).
    fn check_literal(&self, url: &reqwest::Url) -> Result<Option<IpAddr>, Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme);
        }
        let host = url.host_str().ok_or(Refusal::Url)?;
        let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else { return Ok(None) };
        match self.refuse(ip) {
            Some(why) => Err(Refusal::Address { addr: ip, why }),
            None => Ok(Some(ip)),
        }
    }

    /// Every address of `host`, each one allowed (a name allowed by the operator: all of them).
    async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Refusal> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await.map_err(|_| Refusal::Resolve(host.to_owned()))?.collect();
        if addrs.is_empty() {
            return Err(Refusal::Resolve(host.to_owned()));
        }
        if !self.host(host) {
            if let Some((addr, why)) = addrs.iter().find_map(|a| self.refuse(a.ip()).map(|why| (a.ip(), why))) {
                return Err(Refusal::Resolved { host: host.to_owned(), addr, why });
            }
        }
        Ok(addrs)
    }
}

/// The HTTP client's resolver: the addresses it connects to are the ones checked here.
struct GuardedResolver {
    allow: Arc<Allow>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let addrs = allow.resolve(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The guarded client; one per server.
pub struct Egress {
    allow: Arc<Allow>,
    client: reqwest::Client,
    max_response: usize,
}

impl Egress {
    pub fn new(config: &EgressConfig) -> anyhow::Result<Egress> {
        let allow = Arc::new(Allow::parse(&config.allow).map_err(anyhow::Error::msg)?);
        let redirects = allow.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(Refusal::Redirects);
            }
            match redirects.check_literal(attempt.url()) {
                Ok(_) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow: allow.clone() }))
            .redirect(policy)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Egress { allow, client, max_response: config.max_response_bytes })
    }

    /// Whether `url` may be fetched now: its scheme, and its address or every address its
    /// name resolves to. What a request later connects to is checked again.
    pub async fn check(&self, url: &str) -> Result<reqwest::Url, Refusal> {
        let parsed = reqwest::Url::parse(url).map_err(|_| Refusal::Url)?;
        if self.allow.check_literal(&parsed)?.is_none() {
            let host = parsed.host_str().ok_or(Refusal::Url)?;
            self.allow.resolve(host).await?;
        }
        Ok(parsed)
    }

    /// The scheme of `url`, and its address when one is written in it (`Ok(None)`: a name, to
    /// be checked when it is resolved). No I/O; what [`Egress::check`] and every redirect do
    /// first.
    pub fn check_literal(&self, url: &str) -> Result<Option<IpAddr>, Refusal> {
        self.allow.check_literal(&reqwest::Url::parse(url).map_err(|_| Refusal::Url)?)
    }

    /// POSTs `body` as JSON to `url` with `headers`.
    pub async fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &impl Serialize) -> Result<Answer, EgressError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| EgressError::Refused(Refusal::Url))?;
        self.allow.check_literal(&parsed).map_err(EgressError::Refused)?;
        let mut request = self.client.post(parsed).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send().await.map_err(failure)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failure)? {
            let room = self.max_response - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() >= room {
                break;
            }
        }
        Ok(Answer { status, body })
    }
}

/// A client error as an [`EgressError`], finding a [`Refusal`] wherever it sits in the chain.
fn failure(e: reqwest::Error) -> EgressError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return EgressError::Refused(refusal.clone());
        }
        source = err.source();
    }
    if e.is_timeout() {
        EgressError::Timeout
    } else if e.is_connect() {
        EgressError::Connect
    } else {
        EgressError::Other(e.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range, without connecting: `None` is public.
    #[test]
    fn addresses_are_classified() {
        let cases: &[(&str, Option<&str>)] = &[
            // IPv4.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("198.17.255.255", None),
            ("198.20.0.0", None),
            ("223.255.255.255", None),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("10.0.0.1", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("100.64.0.1", Some("shared address space (CGNAT)")),
            ("100.127.255.255", Some("shared address space (CGNAT)")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("169.254.169.254", Some("link-local")),
            ("192.0.0.8", Some("reserved (IETF protocol assignments)")),
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("192.88.99.1", Some("reserved (6to4 relay anycast)")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("255.255.255.254", Some("reserved")),
            ("255.255.255.255", Some("broadcast")),
            // IPv6.
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fc00::1", Some("unique-local")),
            ("fdff:ffff::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local (deprecated)")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("3fff::1", Some("documentation")),
            ("2001:2::1", Some("benchmarking")),
            ("2001:10::1", Some("reserved (ORCHID)")),
            ("2001:20::1", Some("reserved (ORCHID)")),
            ("100::1", Some("reserved (discard-only)")),
            ("5f00::1", Some("reserved (SRv6)")),
            ("4000::1", Some("reserved")),
            ("1::1", Some("reserved")),
            ("::ffff:0:7f00:1", Some("reserved")),
            // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4, Teredo.
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("private")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some("loopback")),
            ("::10.0.0.1", Some("private")),
            ("::8.8.8.8", Some("reserved (IPv4-compatible)")),
            ("64:ff9b::127.0.0.1", Some("loopback")),
            ("64:ff9b::192.168.0.1", Some("private")),
            ("64:ff9b::8.8.8.8", None),
            ("64:ff9b:1::1", Some("private (local-use NAT64)")),
            ("2002:7f00:1::", Some("loopback")),
            ("2002:a9fe:a9fe::1", Some("link-local")),
            ("2002:808:808::1", None),
            // Teredo: server 65.54.227.120; client 127.0.0.1 is stored inverted (80ff:fffe).
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some("loopback")),
            ("2001:0:c0a8:1:8000:63bf:f7f7:f7f7", Some("private")),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),
        ];
        for (addr, expect) in cases {
            let ip: IpAddr = addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}"));
            assert_eq!(classify(ip), *expect, "{addr}");
        }
    }

    #[test]
    fn the_allow_list_takes_ranges_addresses_and_names() {
        let entries = ["127.0.0.1/32", "10.1.0.0/16", "::1", "Hooks.Internal."].map(String::from);
        let allow = Allow::parse(&entries).expect("valid");
        for (addr, refused) in [
            ("127.0.0.1", false),
            ("::ffff:127.0.0.1", false),
            ("127.0.0.2", true),
            ("10.1.200.3", false),
            ("10.2.0.1", true),
            ("::1", false),
            ("8.8.8.8", false),
        ] {
            assert_eq!(allow.refuse(addr.parse().expect("ip")).is_some(), refused, "{addr}");
        }
        assert!(allow.host("hooks.internal") && allow.host("HOOKS.internal.") && !allow.host("other.internal"));
        for bad in ["10.0.0.0/33", "exa mple", "", "a..b", "http://x"] {
            assert!(Allow::parse(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    /// URLs whose address is written in them are refused before anything is resolved; the
    /// URL parser's own forms of an address (decimal, hex, short) are read as addresses.
    #[tokio::test]
    async fn urls_are_checked_by_scheme_and_address() {
        let egress = Egress::new(&EgressConfig::default()).expect("client");
        let cases: &[(&str, Result<(), &str>)] = &[
            ("http://8.8.8.8/hook", Ok(())),
            ("https://[2001:4860:4860::8888]:8443/x", Ok(())),
            ("ftp://8.8.8.8/", Err("an HTTP or HTTPS URL is required")),
            ("file:///etc/passwd", Err("an HTTP or HTTPS URL is required")),
            ("not a url", Err("invalid URL")),
            ("http://127.0.0.1:8080/internal-admin", Err("IP address 127.0.0.1 is not allowed (loopback)")),
            ("http://[::1]/", Err("IP address ::1 is not allowed (loopback)")),
            ("http://[::ffff:127.0.0.1]/", Err("IP address ::ffff:127.0.0.1 is not allowed (loopback)")),
            ("http://[::ffff:7f00:1]/", Err("IP address ::ffff:127.0.0.1 is not allowed (loopback)")),
            ("http://2130706433/", Err("IP address 127.0.0.1 is not allowed (loopback)")),
            ("http://0x7f.1/", Err("IP address 127.0.0.1 is not allowed (loopback)")),
            ("http://169.254.169.254/latest/meta-data/", Err("IP address 169.254.169.254 is not allowed (link-local)")),
            ("http://[fd00::1]/", Err("IP address fd00::1 is not allowed (unique-local)")),
            ("http://localhost:1/", Err("of localhost is not allowed (loopback)")),
        ];
        for (url, expect) in cases {
            let got = egress.check(url).await.map(drop).map_err(|e| e.to_string());
            match (got, expect) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(part)) => assert!(e.contains(part), "{url}: {e}"),
                (got, expect) => panic!("{url}: got {got:?}, expected {expect:?}"),
            }
        }
    }
}
