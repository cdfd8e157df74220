//! Sets of IP networks: allow lists, block lists and the trusted proxies.
//!
//! An [`IpList`] answers "is this address inside any of these networks?" in time that
//! depends on how many distinct prefix lengths the list uses (at most 33 for IPv4 and
//! 129 for IPv6), not on how many entries it has, so a block list of a hundred thousand
//! addresses costs the same per request as one of ten. Entries are written as addresses
//! or CIDRs; host bits below the prefix are ignored (`10.1.2.3/8` means `10.0.0.0/8`).
//! IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are looked up as the IPv4 address they
//! carry, so a dual-stack listener cannot be used to slip past an IPv4 entry.

use ipnet::IpNet;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

#[derive(Debug, Default, Clone)]
pub struct IpList {
    /// prefix length -> network addresses with that prefix, host bits cleared
    v4: BTreeMap<u8, HashSet<u32>>,
    v6: BTreeMap<u8, HashSet<u128>>,
    entries: usize,
}

impl IpList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse one entry: an address (`192.0.2.1`, `2001:db8::1`) or a CIDR (`192.0.2.0/24`).
    pub fn parse_entry(text: &str) -> Option<IpNet> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Some(canonical_net(net.trunc()));
        }
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| canonical_net(IpNet::from(ip.to_canonical())))
    }

    pub fn insert(&mut self, net: IpNet) {
        let net = canonical_net(net.trunc());
        let fresh = match net {
            IpNet::V4(n) => self
                .v4
                .entry(n.prefix_len())
                .or_default()
                .insert(u32::from(n.network())),
            IpNet::V6(n) => self
                .v6
                .entry(n.prefix_len())
                .or_default()
                .insert(u128::from(n.network())),
        };
        if fresh {
            self.entries += 1;
        }
    }

    pub fn extend(&mut self, other: &IpList) {
        for (len, set) in &other.v4 {
            for net in set {
                if self.v4.entry(*len).or_default().insert(*net) {
                    self.entries += 1;
                }
            }
        }
        for (len, set) in &other.v6 {
            for net in set {
                if self.v6.entry(*len).or_default().insert(*net) {
                    self.entries += 1;
                }
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                self.v4
                    .iter()
                    .any(|(len, set)| set.contains(&(bits & mask_v4(*len))))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                self.v6
                    .iter()
                    .any(|(len, set)| set.contains(&(bits & mask_v6(*len))))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

fn canonical_net(net: IpNet) -> IpNet {
    // ::ffff:a.b.c.d/104+ is an IPv4 network written the long way.
    if let IpNet::V6(v6) = net {
        if let (Some(v4), true) = (v6.network().to_ipv4_mapped(), v6.prefix_len() >= 96) {
            if let Ok(n) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96) {
                return IpNet::V4(n);
            }
        }
    }
    net
}

fn mask_v4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask_v6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> IpList {
        let mut l = IpList::new();
        for e in entries {
            l.insert(IpList::parse_entry(e).expect(e));
        }
        l
    }

    #[test]
    fn matches_addresses_inside_networks_only() {
        let l = list(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
        assert!(l.contains("10.200.1.1".parse().unwrap()));
        assert!(l.contains("192.0.2.7".parse().unwrap()));
        assert!(!l.contains("192.0.2.8".parse().unwrap()));
        assert!(!l.contains("11.0.0.1".parse().unwrap()));
        assert!(l.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!l.contains("2001:db9::1".parse().unwrap()));
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_entries() {
        let l = list(&["192.0.2.0/24"]);
        assert!(l.contains("::ffff:192.0.2.9".parse().unwrap()));
        let mapped = list(&["::ffff:198.51.100.0/120"]);
        assert!(mapped.contains("198.51.100.4".parse().unwrap()));
    }

    #[test]
    fn host_bits_are_ignored_and_zero_prefix_matches_all() {
        let l = list(&["10.1.2.3/8"]);
        assert!(l.contains("10.9.9.9".parse().unwrap()));
        let all = list(&["0.0.0.0/0"]);
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
    }

    #[test]
    fn entries_that_are_not_addresses_are_refused() {
        for bad in [
            "192.0.2.0/33",
            "not-an-ip",
            "192.0.2.999",
            "2001:db8::/129",
            "",
        ] {
            assert!(IpList::parse_entry(bad).is_none(), "{bad}");
        }
        assert!(IpList::parse_entry(" 2001:db8::1 ").is_some());
    }
}
