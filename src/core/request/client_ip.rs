//! Which address a request comes from.
//!
//! The socket peer, unless the peer is one of the configured trusted proxies: then the
//! forwarding header (`X-Forwarded-For` unless configured otherwise) is read from the right,
//! skipping trusted hops, and the first untrusted address is the client. Everything left of
//! that address was written by the client itself and is never believed, and a header from
//! an untrusted peer is ignored altogether. If every hop is trusted, the left-most one is
//! the client. An entry that is not an address where one must be read is an error: the
//! trusted proxy that wrote it is misconfigured, and guessing would hand the choice to the
//! client.

use crate::core::net::ip_list::IpList;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The address rules apply to.
    pub addr: IpAddr,
    /// The socket peer the request arrived from.
    pub peer: IpAddr,
}

impl ClientIp {
    pub fn from_header(&self) -> bool {
        self.addr != self.peer
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedForwardedFor {
    pub entry: String,
}

#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted: IpList,
    header: http::HeaderName,
}

impl ClientIpResolver {
    pub fn new(trusted: IpList, header: http::HeaderName) -> Self {
        Self { trusted, header }
    }

    pub fn header(&self) -> &http::HeaderName {
        &self.header
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(ip)
    }

    /// `values` are the forwarding header's values in the order they appear in the request.
    pub fn resolve<'a>(
        &self,
        peer: IpAddr,
        values: impl Iterator<Item = &'a [u8]>,
    ) -> Result<ClientIp, MalformedForwardedFor> {
        let peer = peer.to_canonical();
        if !self.trusted.contains(peer) {
            return Ok(ClientIp { addr: peer, peer });
        }
        // The hops in order, on the stack for the usual few (a request's allocation less).
        let mut inline: [&[u8]; INLINE_HOPS] = [&[]; INLINE_HOPS];
        let mut spilled: Vec<&[u8]> = Vec::new();
        let mut count = 0;
        for hop in values.flat_map(|v| v.split(|b| *b == b',')).map(trim) {
            if count < INLINE_HOPS {
                inline[count] = hop;
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push(hop);
            }
            count += 1;
        }
        let hops: &[&[u8]] = if count <= INLINE_HOPS {
            &inline[..count]
        } else {
            &spilled
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            let addr = parse_hop(hop).ok_or_else(|| MalformedForwardedFor {
                entry: String::from_utf8_lossy(hop).chars().take(64).collect(),
            })?;
            client = addr;
            if !self.trusted.contains(addr) {
                break;
            }
        }
        Ok(ClientIp { addr: client, peer })
    }
}

/// Hops kept on the stack before a `Vec` is needed.
const INLINE_HOPS: usize = 8;

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace());
    match (start, end) {
        (Some(s), Some(e)) => &bytes[s..=e],
        _ => &[],
    }
}

/// An address, optionally with a port (`192.0.2.1:443`, `[2001:db8::1]:443`).
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(hop).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    text.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> ClientIpResolver {
        let mut trusted = IpList::new();
        trusted.insert("10.0.0.0/8".parse().unwrap());
        ClientIpResolver::new(trusted, http::HeaderName::from_static("x-forwarded-for"))
    }

    fn resolve(peer: &str, headers: &[&str]) -> Result<IpAddr, MalformedForwardedFor> {
        resolver()
            .resolve(peer.parse().unwrap(), headers.iter().map(|h| h.as_bytes()))
            .map(|c| c.addr)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        assert_eq!(
            resolve("198.51.100.1", &["192.0.2.1"]),
            Ok(ip("198.51.100.1"))
        );
        assert_eq!(
            resolve("198.51.100.1", &["garbage"]),
            Ok(ip("198.51.100.1"))
        );
    }

    #[test]
    fn trusted_peers_are_read_from_the_right() {
        assert_eq!(
            resolve("10.0.0.1", &["203.0.113.9, 192.0.2.1, 10.1.1.1"]),
            Ok(ip("192.0.2.1"))
        );
        // Several header lines are one list, in order.
        assert_eq!(
            resolve("10.0.0.1", &["spoofed, 203.0.113.9", "192.0.2.1"]),
            Ok(ip("192.0.2.1"))
        );
        assert_eq!(resolve("10.0.0.1", &[]), Ok(ip("10.0.0.1")));
        assert_eq!(
            resolve("10.0.0.1", &["10.2.2.2, 10.3.3.3"]),
            Ok(ip("10.2.2.2"))
        );
        assert_eq!(
            resolve("10.0.0.1", &["[2001:db8::1]:443"]),
            Ok(ip("2001:db8::1"))
        );
        assert_eq!(
            resolve("::ffff:10.0.0.1", &["192.0.2.1:80"]),
            Ok(ip("192.0.2.1"))
        );
    }

    #[test]
    fn garbage_where_an_address_must_be_read_is_an_error() {
        assert!(resolve("10.0.0.1", &["192.0.2.1, unknown"]).is_err());
        // Garbage left of the client is the client's own business.
        assert_eq!(
            resolve("10.0.0.1", &["garbage, 192.0.2.1"]),
            Ok(ip("192.0.2.1"))
        );
    }
}
