//! An address as text, the way `Display` writes it, for the places that write one per
//! request (the forwarded chain, the decision line, the `ip` fact's key): IPv4 is written
//! octet by octet without `fmt`'s machinery, which cost more than the rest of those lines;
//! IPv6 (rare behind a shop's CDN) still goes through `Display`.

use std::net::IpAddr;

/// Append `ip` as `Display` writes it.
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

/// Append `ip` to a string as `Display` writes it.
pub fn push_ip_str(out: &mut String, ip: IpAddr) {
    let mut bytes = std::mem::take(out).into_bytes();
    push_ip(&mut bytes, ip);
    // Only ASCII was added to what was a string.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "192.0.2.10",
            "::",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.1",
            "fe80::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            let mut bytes = b"x ".to_vec();
            push_ip(&mut bytes, ip);
            assert_eq!(bytes, format!("x {ip}").into_bytes());
            let mut string = String::from("chain, ");
            push_ip_str(&mut string, ip);
            assert_eq!(string, format!("chain, {ip}"));
        }
    }
}
