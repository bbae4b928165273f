//! The optional allowlist of hosts that branch URLs may target (`BranchHostAllowlist`).
//!
//! dtmx calls whatever URL a client hands it; with a list set, only the listed hosts are
//! called. Entries are `host`, `host:port`, `*.suffix` (any subdomain, optionally with
//! `:port`) and CIDR ranges (`10.0.0.0/8`, `fd00::/8`) that match IP-literal hosts. Hosts
//! are compared after the URL parser's normalisation (lower case, IDNA, `127.1` and
//! `0x7f000001` read as `127.0.0.1`); names are never resolved, so a CIDR range does not
//! match a name that resolves into it. An empty list allows every host.

use std::net::{IpAddr, Ipv6Addr};

/// A host as the URL parser normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Domain(String),
    Ip(IpAddr),
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A host, on any port (`None`) or on one port.
    Host(Host, Option<u16>),
    /// Any subdomain of the suffix (stored with its leading dot).
    Suffix(String, Option<u16>),
    /// An address range.
    Cidr(IpAddr, u8),
}

/// The parsed `BranchHostAllowlist`; empty: every host is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

impl Allowlist {
    /// Parses a comma list of entries; an error names the bad entry.
    pub fn parse(list: &str) -> Result<Allowlist, String> {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| parse_entry(e).map_err(|why| format!("bad entry {e:?}: {why}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Allowlist { entries })
    }

    /// True when no list is set (every host is allowed).
    pub fn is_off(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks a branch URL as the branch caller would call it: an `http(s)://` URL, or a
    /// gRPC target `host:port/package.Service/Method` when `grpc` is true. Empty URLs are
    /// never called and always pass. The error says why the URL is refused.
    pub fn check(&self, url: &str, grpc: bool) -> Result<(), String> {
        if self.is_off() || url.is_empty() {
            return Ok(());
        }
        let parsed = if grpc && !url.contains("://") {
            let target = url.split('/').next().unwrap_or_default();
            url::Url::parse(&format!("http://{target}/"))
        } else {
            url::Url::parse(url)
        };
        let parsed = parsed.map_err(|e| {
            format!("branch url {url:?} is refused: BranchHostAllowlist is set and its host cannot be read ({e})")
        })?;
        self.check_url(&parsed).map_err(|host| {
            format!("branch url {url:?} is refused: host {host} is not in BranchHostAllowlist")
        })
    }

    /// Checks a parsed URL; the error is the host (with its port) that is not listed.
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        if self.is_off() {
            return Ok(());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => {
                Host::Domain(d.trim_end_matches('.').to_ascii_lowercase())
            }
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(unmap(ip)),
            None => return Err(format!("(none) of {url}")),
        };
        let port = url.port_or_known_default();
        if self.entries.iter().any(|e| matches(e, &host, port)) {
            return Ok(());
        }
        let shown = url.host_str().unwrap_or_default();
        Err(match port {
            Some(p) => format!("{shown}:{p}"),
            None => shown.to_string(),
        })
    }
}

/// An IPv4-mapped IPv6 address as its IPv4 address, so `10.0.0.0/8` covers `::ffff:10.1.2.3`.
fn unmap(ip: Ipv6Addr) -> IpAddr {
    match ip.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(ip),
    }
}

fn matches(entry: &Entry, host: &Host, port: Option<u16>) -> bool {
    let port_ok = |want: &Option<u16>| want.is_none() || *want == port;
    match (entry, host) {
        (Entry::Host(h, p), host) => h == host && port_ok(p),
        (Entry::Suffix(s, p), Host::Domain(d)) => d.ends_with(s.as_str()) && port_ok(p),
        (Entry::Suffix(..), Host::Ip(_)) => false,
        (Entry::Cidr(net, bits), Host::Ip(ip)) => in_range(*net, *bits, *ip),
        (Entry::Cidr(..), Host::Domain(_)) => false,
    }
}

fn in_range(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn parse_entry(entry: &str) -> Result<Entry, String> {
    let entry = entry.to_ascii_lowercase();
    if let Some((net, bits)) = entry.split_once('/') {
        let net = net.trim_start_matches('[').trim_end_matches(']');
        let net: IpAddr = net
            .parse()
            .map_err(|_| "a range must be an IP address and a prefix length".to_string())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("the prefix length must be 0 to {max}"))?;
        let net = match net {
            IpAddr::V6(v6) if bits >= 96 && v6.to_ipv4_mapped().is_some() => unmap(v6),
            other => other,
        };
        let bits = match (net, bits) {
            (IpAddr::V4(_), b) if max == 128 => b - 96,
            (_, b) => b,
        };
        return Ok(Entry::Cidr(net, bits));
    }
    let (host, port) = split_port(&entry)?;
    if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.is_empty() || suffix.contains('*') {
            return Err("a wildcard is `*.` followed by a domain".into());
        }
        let Host::Domain(suffix) = normalise(suffix)? else {
            return Err("a wildcard needs a domain, not an address".into());
        };
        return Ok(Entry::Suffix(format!(".{suffix}"), port));
    }
    if host.contains('*') {
        return Err("`*` is only allowed as `*.domain`; an empty list allows every host".into());
    }
    Ok(Entry::Host(normalise(host)?, port))
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_port(entry: &str) -> Result<(&str, Option<u16>), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map(Some)
            .map_err(|_| format!("{p:?} is not a port"))
    };
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "missing `]`".to_string())?;
        return match after {
            "" => Ok((host, None)),
            p => Ok((host, port(p.strip_prefix(':').ok_or("expected `:port`")?)?)),
        };
    }
    match entry.matches(':').count() {
        0 => Ok((entry, None)),
        1 => {
            let (host, p) = entry.split_once(':').unwrap_or((entry, ""));
            Ok((host, port(p)?))
        }
        _ => Ok((entry, None)),
    }
}

/// A host as the URL parser reads it (lower case, IDNA, numeric IPv4 forms).
fn normalise(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("empty host".into());
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return Ok(Host::Ip(unmap(v6)));
    }
    let url = url::Url::parse(&format!("http://{host}/")).map_err(|e| format!("{e}"))?;
    match url.host() {
        Some(url::Host::Domain(d)) => Ok(Host::Domain(d.trim_end_matches('.').to_string())),
        Some(url::Host::Ipv4(ip)) => Ok(Host::Ip(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => Ok(Host::Ip(unmap(ip))),
        None => Err("no host".into()),
    }
}

impl std::fmt::Display for Allowlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                let host = |h: &Host| match h {
                    Host::Domain(d) => d.clone(),
                    Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
                    Host::Ip(ip) => ip.to_string(),
                };
                let port = |p: &Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
                match e {
                    Entry::Host(h, p) => format!("{}{}", host(h), port(p)),
                    Entry::Suffix(s, p) => format!("*{s}{}", port(p)),
                    Entry::Cidr(net, bits) => format!("{net}/{bits}"),
                }
            })
            .collect();
        f.write_str(&text.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Allowlist {
        Allowlist::parse(s).expect("valid list")
    }

    #[test]
    fn off_allows_everything() {
        let l = list(" , ");
        assert!(l.is_off());
        assert!(l.check("http://169.254.169.254/latest", false).is_ok());
        assert!(l.check("not a url", false).is_ok());
    }

    #[test]
    fn hosts_and_ports() {
        let l = list("busi.internal, pay.internal:8081, [::1]:9000, 127.0.0.1");
        assert!(l.check("http://busi.internal/a", false).is_ok());
        assert!(l.check("https://BUSI.internal.:8443/a", false).is_ok());
        assert!(l.check("http://pay.internal:8081/a", false).is_ok());
        assert!(l.check("http://pay.internal:8082/a", false).is_err());
        assert!(l.check("http://pay.internal/a", false).is_err(), "port 80");
        assert!(l.check("http://[::1]:9000/a", false).is_ok());
        assert!(l.check("http://[::1]:9001/a", false).is_err());
        assert!(l.check("http://127.1:5/a", false).is_ok(), "normalised");
        assert!(l.check("http://2130706433/a", false).is_ok(), "normalised");
        assert!(l.check("http://evil.test/a", false).is_err());
        assert!(l.check("http://busi.internal.evil.test/a", false).is_err());
        assert!(l.check("", false).is_ok(), "empty urls are never called");
        let err = l
            .check("http://evil.test:81/x", false)
            .expect_err("refused");
        assert!(err.contains("evil.test:81"), "{err}");
        assert!(err.contains("BranchHostAllowlist"), "{err}");
        assert!(l.check("::garbage", false).is_err());
    }

    #[test]
    fn wildcards_and_ranges() {
        let l = list("*.svc.cluster.local, *.pay.test:443, 10.0.0.0/8, fd00::/8");
        assert!(l.check("http://a.svc.cluster.local/x", false).is_ok());
        assert!(l.check("http://a.b.svc.cluster.local:99/x", false).is_ok());
        assert!(l.check("http://svc.cluster.local/x", false).is_err());
        assert!(l.check("http://xsvc.cluster.local/x", false).is_err());
        assert!(l.check("https://a.pay.test/x", false).is_ok());
        assert!(l.check("http://a.pay.test/x", false).is_err());
        assert!(l.check("http://10.200.3.4:8080/x", false).is_ok());
        assert!(l.check("http://[::ffff:10.1.2.3]/x", false).is_ok());
        assert!(l.check("http://11.0.0.1/x", false).is_err());
        assert!(l.check("http://[fd12::1]/x", false).is_ok());
        assert!(l.check("http://[fe80::1]/x", false).is_err());
        assert!(l.check("10.1.1.1:50051/pkg.Busi/TransOut", true).is_ok());
        assert!(l.check("11.1.1.1:50051/pkg.Busi/TransOut", true).is_err());
        assert!(l.check("a.svc.cluster.local:50051/p.S/M", true).is_ok());
        assert!(list("0.0.0.0/0").check("http://127.0.0.1/", false).is_ok());
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "*",
            "a*.test",
            "*.",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "host:99999",
            "[::1",
            "nohost.test/",
        ] {
            assert!(Allowlist::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            list("A.test:80, *.B.test, 10.0.0.1/8, [::1]").to_string(),
            "a.test:80,*.b.test,10.0.0.1/8,[::1]"
        );
    }
}
