//! Where the load generator may send traffic: a `ws://` URL on the loopback interface, and
//! nowhere else (this workplace forbids load traffic to any other address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use anyhow::{Context, bail};
use tokio_tungstenite::tungstenite::http::Uri;

/// A parsed, checked target: the URL as given, and the host and port it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL the devices connect to, query string (a ticket) included.
    pub url: String,
    /// The host part, as written (brackets removed from an IPv6 literal).
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
}

/// Parses `url` and refuses anything but `ws://` to a loopback host: an address in
/// 127.0.0.0/8, `::1`, or `localhost` (which must also resolve only to loopback addresses).
pub fn parse_loopback_url(url: &str) -> anyhow::Result<Target> {
    parse_with_scheme(url, "ws")
}

/// Parses a server's base URL for the REST calls of the Taccuino mode: `http://` to a
/// loopback host only, like [`parse_loopback_url`]. A trailing `/` is dropped from
/// [`Target::url`]; [`Target::ws_base`] gives the matching `ws://` base.
pub fn parse_loopback_http(url: &str) -> anyhow::Result<Target> {
    let mut target = parse_with_scheme(url.trim_end_matches('/'), "http")?;
    if target.url.contains(['?', '#']) {
        bail!("the base URL takes no query or fragment: {url}");
    }
    target.url = target.url.trim_end_matches('/').to_owned();
    Ok(target)
}

impl Target {
    /// The `ws://` form of an `http://` base URL (unchanged for a `ws://` URL).
    pub fn ws_base(&self) -> String {
        match self.url.strip_prefix("http://") {
            Some(rest) => format!("ws://{rest}"),
            None => self.url.clone(),
        }
    }
}

fn parse_with_scheme(url: &str, scheme: &str) -> anyhow::Result<Target> {
    let uri: Uri = url.parse().with_context(|| format!("not a URL: {url}"))?;
    match uri.scheme_str() {
        Some(s) if s == scheme => {}
        Some(other) => {
            bail!("only {scheme}:// is supported (loopback, no TLS), not {other}://")
        }
        None => bail!("the URL needs a scheme: {scheme}://127.0.0.1:PORT"),
    }
    let host = uri.host().context("the URL has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    if !is_loopback_host(&host) {
        bail!("refusing non-loopback host {host:?}: load traffic goes to 127.0.0.0/8 or ::1 only");
    }
    if host.eq_ignore_ascii_case("localhost") {
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .context("resolving localhost")?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            bail!("localhost resolves to a non-loopback address here: {addrs:?}");
        }
    }
    Ok(Target {
        url: url.to_owned(),
        host,
        port,
    })
}

/// Whether `host` (without IPv6 brackets) names the loopback interface by itself: an IP
/// literal in 127.0.0.0/8 or `::1` (or its IPv4-mapped form), or `localhost`. Other names are
/// refused without resolving them.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// 127.0.0.1, for defaults and tests.
pub const LOOPBACK_V4: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_accepted() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "127.255.255.254",
            "::1",
            "::ffff:127.0.0.1",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        assert_eq!(LOOPBACK_V4.to_string(), "127.0.0.1");
    }

    #[test]
    fn other_hosts_are_refused() {
        for host in [
            "10.0.0.1",
            "192.168.1.10",
            "172.16.0.1",
            "8.8.8.8",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "fe80::1",
            "example.com",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let t = parse_loopback_url("ws://127.0.0.1:3030").expect("loopback");
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 3030));
        let t = parse_loopback_url("ws://[::1]:8080/sync?ticket=abc").expect("v6 loopback");
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.url, "ws://[::1]:8080/sync?ticket=abc");
        assert_eq!(
            parse_loopback_url("ws://127.0.0.1").expect("no port").port,
            80
        );

        assert!(parse_loopback_url("wss://127.0.0.1:3030").is_err());
        assert!(parse_loopback_url("http://127.0.0.1:3030").is_err());
        assert!(parse_loopback_url("127.0.0.1:3030").is_err());
        assert!(parse_loopback_url("ws://10.1.2.3:3030").is_err());
        assert!(parse_loopback_url("ws://example.com/").is_err());
        assert!(parse_loopback_url("ws://user@192.168.0.1:3030").is_err());
        assert!(parse_loopback_url("not a url").is_err());
    }

    #[test]
    fn http_base_urls_are_checked() {
        let t = parse_loopback_http("http://127.0.0.1:18080/").expect("loopback");
        assert_eq!(t.url, "http://127.0.0.1:18080");
        assert_eq!(t.ws_base(), "ws://127.0.0.1:18080");
        assert_eq!(t.port, 18080);
        let t = parse_loopback_http("http://localhost:8080").expect("localhost");
        assert_eq!(t.ws_base(), "ws://localhost:8080");

        assert!(parse_loopback_http("https://127.0.0.1:8080").is_err());
        assert!(parse_loopback_http("ws://127.0.0.1:8080").is_err());
        assert!(parse_loopback_http("http://10.0.0.1:8080").is_err());
        assert!(parse_loopback_http("http://example.com").is_err());
        assert!(parse_loopback_http("http://127.0.0.1:8080/?x=1").is_err());
    }
}
