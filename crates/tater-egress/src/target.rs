//! Strict reading of customer-supplied URLs and host names, before anything is resolved.

use std::net::IpAddr;

use url::{Host, Url};

use crate::Refusal;

/// A host as given: an IP literal in its one standard form, or a DNS name (lowercase, no
/// trailing dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRef {
    Ip(IpAddr),
    Name(String),
}

impl std::fmt::Display for HostRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostRef::Ip(ip) => write!(f, "{ip}"),
            HostRef::Name(n) => f.write_str(n),
        }
    }
}

/// Names that reach the local machine or a cloud metadata service whatever DNS says.
const BLOCKED_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "metadata",
    "metadata.google.internal",
    "metadata.azure.internal",
    "instance-data",
];

/// Parses a destination URL: `https` only (or `http` when allowed), no user info, a host in
/// a standard form; returns the URL, its host and its port.
pub fn parse_url(input: &str, allow_http: bool) -> Result<(Url, HostRef, u16), Refusal> {
    if input.len() > 2048 {
        return Err(Refusal::new("the URL is longer than 2048 characters"));
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Refusal::new(
            "the URL contains spaces or control characters",
        ));
    }
    let url = Url::parse(input).map_err(|e| Refusal::new(format!("not a valid URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(Refusal::new("only https URLs are allowed (http is off)")),
        other => {
            return Err(Refusal::new(format!(
                "the scheme {other}: is not allowed (https only)"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() || raw_authority(input).contains('@')
    {
        return Err(Refusal::new(
            "URLs with user info (user:password@host) are refused",
        ));
    }
    let raw = raw_host(input);
    let host = match url.host() {
        None => return Err(Refusal::new("the URL has no host")),
        Some(Host::Ipv4(ip)) => {
            if raw != ip.to_string() {
                return Err(Refusal::new(format!(
                    "{raw} is an IPv4 address in a non-standard form (decimal, octal, hex and \
                     shortened forms are refused; write {ip})"
                )));
            }
            HostRef::Ip(IpAddr::V4(ip))
        }
        Some(Host::Ipv6(ip)) => HostRef::Ip(IpAddr::V6(ip)),
        Some(Host::Domain(d)) => parse_name(d)?,
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Refusal::new("the URL has no port"))?;
    Ok((url, host, port))
}

/// Parses a host name or IP address given on its own (a syslog destination's host).
pub fn parse_host(input: &str) -> Result<HostRef, Refusal> {
    let s = input.trim();
    let bracketed = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
    if let Ok(ip) = bracketed.unwrap_or(s).parse::<IpAddr>() {
        return Ok(HostRef::Ip(ip));
    }
    if s.is_empty() || s.len() > 253 {
        return Err(Refusal::new("the host must be 1 to 253 characters"));
    }
    parse_name(&s.to_ascii_lowercase())
}

/// A DNS name: letters, digits and hyphens in dot-separated labels, not ending in a numeric
/// label (which some resolvers read as an IPv4 number: `2130706433`, `0x7f.1`, `127.1`).
fn parse_name(name: &str) -> Result<HostRef, Refusal> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !labels.iter().all(label_ok) {
        return Err(Refusal::new(format!("{name} is not a valid host name")));
    }
    let last = labels.last().copied().unwrap_or_default();
    let numeric = |l: &str| {
        l.bytes().all(|b| b.is_ascii_digit())
            || l.strip_prefix("0x")
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if numeric(last) {
        return Err(Refusal::new(format!(
            "{name} looks like an IP address in a non-standard form (decimal, octal and hex \
             forms are refused)"
        )));
    }
    if BLOCKED_NAMES.contains(&name.as_str()) || name.ends_with(".localhost") {
        return Err(Refusal::new(format!(
            "{name} names the local host or a metadata service"
        )));
    }
    Ok(HostRef::Name(name))
}

/// The authority as typed (between `//` and the path), before any normalisation.
fn raw_authority(input: &str) -> &str {
    let rest = input.split_once("//").map_or(input, |(_, r)| r);
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    &rest[..end]
}

/// The host as typed, without user info and port.
fn raw_host(input: &str) -> String {
    let authority = raw_authority(input);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map_or(host_port, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_forms_pass() {
        let (_, host, port) = parse_url("https://SIEM.Example.com/hook", false).unwrap();
        assert_eq!(
            (host, port),
            (HostRef::Name("siem.example.com".into()), 443)
        );
        let (_, host, port) = parse_url("https://8.8.8.8:8443/x", false).unwrap();
        assert_eq!(
            (host, port),
            (HostRef::Ip("8.8.8.8".parse().unwrap()), 8443)
        );
        assert_eq!(
            parse_host("[2606:4700::1]").unwrap(),
            HostRef::Ip("2606:4700::1".parse().unwrap())
        );
    }

    #[test]
    fn tricks_are_refused() {
        for bad in [
            "http://example.com",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://017700000001/",
            "https://127.1/",
            "https://user:pw@example.com/",
            "https://example.com@evil.com/",
            "ftp://example.com/",
            "https://localhost/",
            "https://a.localhost/",
            "https://exa mple.com/",
        ] {
            assert!(parse_url(bad, false).is_err(), "{bad}");
        }
        for bad in [
            "2130706433",
            "0x7f.0x0.0x0.0x1",
            "127.1",
            "",
            "metadata.google.internal",
            "a..b",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
    }
}
