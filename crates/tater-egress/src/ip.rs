//! Which addresses are public. Everything else — loopback, private, link-local (cloud metadata),
//! CGNAT, documentation, multicast, reserved, and IPv6 forms that embed an IPv4 address — is
//! refused unless the operator's allowlist names it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Non-public IPv4 ranges and why (IANA special-purpose registry and cloud specifics).
const V4_BLOCKED: &[(&str, &str)] = &[
    (
        "0.0.0.0/8",
        "\"this network\" (0.0.0.0 reaches the local host)",
    ),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space / CGNAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    (
        "192.0.0.0/24",
        "IETF protocol assignments (incl. Oracle Cloud metadata)",
    ),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
];

/// Non-public IPv6 ranges and why. IPv4-mapped and IPv4-compatible addresses are unwrapped
/// and judged as IPv4 before this table is consulted.
const V6_BLOCKED: &[(&str, &str)] = &[
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b::/96", "NAT64 (embeds an IPv4 address)"),
    ("64:ff9b:1::/48", "local-use NAT64 (embeds an IPv4 address)"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo (embeds an IPv4 address)"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4 (embeds an IPv4 address)"),
    (
        "fc00::/7",
        "unique local (private; incl. AWS metadata fd00:ec2::254)",
    ),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

fn v4_table() -> impl Iterator<Item = (Ipv4Net, &'static str)> {
    V4_BLOCKED
        .iter()
        .filter_map(|(net, why)| net.parse().ok().map(|n| (n, *why)))
}

fn v6_table() -> impl Iterator<Item = (Ipv6Net, &'static str)> {
    V6_BLOCKED
        .iter()
        .filter_map(|(net, why)| net.parse().ok().map(|n| (n, *why)))
}

/// Why `ip` is not a public address, or `None` when it is.
pub fn non_public_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return Some(match v4_reason(v4) {
                    Some(why) => format!("an IPv4-in-IPv6 form of {v4}, which is {why}"),
                    None => format!("an IPv4-in-IPv6 form of {v4} (use the IPv4 address)"),
                });
            }
            // The most specific range names the reason.
            let found = v6_table()
                .filter(|(net, _)| net.contains(&v6))
                .max_by_key(|(net, _)| net.prefix_len());
            if let Some((net, why)) = found {
                return Some(format!("{why} ({net})"));
            }
            // Only 2000::/3 is allocated as global unicast.
            let global: Ipv6Net = "2000::/3".parse().ok()?;
            (!global.contains(&v6)).then(|| "outside global unicast (2000::/3)".to_owned())
        }
    }
}

/// The most specific range names the reason (255.255.255.255/32 lies inside 240.0.0.0/4).
fn v4_reason(v4: Ipv4Addr) -> Option<String> {
    v4_table()
        .filter(|(net, _)| net.contains(&v4))
        .max_by_key(|(net, _)| net.prefix_len())
        .map(|(net, why)| format!("{why} ({net})"))
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`)
/// IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let compatible = s[..6].iter().all(|&x| x == 0) && !(s[6] == 0 && s[7] <= 1);
    compatible.then(|| Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8))
}

/// Operator-approved ranges (`TATER_EGRESS_ALLOW`) that may be reached even though they are
/// not public: an on-premises SIEM, or a test receiver on loopback.
#[derive(Debug, Clone, Default)]
pub struct Allowlist(Vec<IpNet>);

impl Allowlist {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn nets(&self) -> &[IpNet] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<String> {
        non_public_reason(s.parse().unwrap())
    }

    #[test]
    fn the_tables_parse() {
        assert_eq!(v4_table().count(), V4_BLOCKED.len());
        assert_eq!(v6_table().count(), V6_BLOCKED.len());
    }

    #[test]
    fn public_addresses_pass_and_the_rest_say_why() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
        ] {
            assert_eq!(reason(public), None, "{public}");
        }
        assert!(reason("169.254.169.254").unwrap().contains("metadata"));
        assert!(reason("::ffff:127.0.0.1").unwrap().contains("loopback"));
        assert!(reason("::127.0.0.1").unwrap().contains("loopback"));
        assert!(reason("64:ff9b::7f00:1").unwrap().contains("NAT64"));
        assert!(reason("fd00:ec2::254").unwrap().contains("unique local"));
        assert!(reason("::1").unwrap().contains("loopback"));
        assert!(reason("::").unwrap().contains("unspecified"));
        assert!(reason("100.100.100.200").unwrap().contains("CGNAT"));
        assert!(reason("4000::1").unwrap().contains("global unicast"));
    }

    #[test]
    fn the_allowlist_admits_mapped_forms_of_its_ranges() {
        let list = Allowlist::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(list.allows("127.0.0.1".parse().unwrap()));
        assert!(list.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!list.allows("10.0.0.1".parse().unwrap()));
    }
}
