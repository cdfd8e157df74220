//! Request framing: refusing request heads that garita and the backend could read differently.
//!
//! The proxy framework's HTTP parser already rejects what HTTP/1.1 forbids outright
//! (several different `Content-Length` values, unknown transfer codings, obsolete line
//! folding, whitespace before a colon); the glue accounts for those refusals. Two things it lets
//! through are refused here, before any rule runs:
//! - a request with both `Content-Length` and `Transfer-Encoding`. The parser drops the length
//!   and frames by chunks (RFC 9112 section 6.3), which is safe at this hop, but such a
//!   request is a smuggling probe or a broken client, and NGINX and Envoy answer it with 400;
//!   so does garita. The parser removes the length from the parsed head, so it is looked for in
//!   the raw head, and only when a `Transfer-Encoding` is there;
//! - a `Content-Length` given more than once, as repeated lines or as a list, even with one
//!   value (`143, 143`). The parser frames the body by that value but would forward the
//!   header as sent, and backends read such a list differently (one answered 502). NGINX
//!   refuses duplicate lengths with 400, and so does garita;
//! - a `Transfer-Encoding` other than `chunked` alone (`gzip, chunked`). The parser frames
//!   by the chunks and drops the other codings, so the backend would get a gzipped body
//!   labelled as plain. NGINX answers such codings with 501, and so does garita;
//! - a request head larger than the configured bound: it only costs memory at every hop, and
//!   backends cut long heads at different sizes.
//!
//! [`asks_upgrade`] tells a request that asks to switch protocols (`Upgrade`, or
//! `Connection: upgrade`): after a backend's 101 the bytes pass as a tunnel nobody
//! inspects, so only routes that say so may upgrade.

use crate::core::decision::Reason;
use http::HeaderMap;

/// Default bound on the request line plus headers, in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

/// Whether a raw HTTP/1 request head has a `Content-Length` header line.
pub fn declares_content_length(raw_head: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length:";
    raw_head
        .split(|&b| b == b'\n')
        .skip(1)
        .any(|line| line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME))
}

/// Check a request head; `target_len` is the length of the request target.
pub fn check(
    headers: &HeaderMap,
    target_len: usize,
    max_header_bytes: usize,
) -> Result<(), Reason> {
    // Name, value and the ": " and CRLF around them.
    let size = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + target_len;
    if size > max_header_bytes {
        return Err(Reason::HeadersTooLarge);
    }
    let mut codings = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|c| c.trim_ascii());
    if let Some(first) = codings.next() {
        if !first.eq_ignore_ascii_case(b"chunked") || codings.next().is_some() {
            return Err(Reason::UnsupportedTransferCoding);
        }
    }
    let mut lengths = headers.get_all(http::header::CONTENT_LENGTH).iter();
    if let Some(first) = lengths.next() {
        if lengths.next().is_some() || first.as_bytes().contains(&b',') {
            return Err(Reason::ConflictingFraming);
        }
    }
    Ok(())
}

/// Whether a request asks to upgrade the connection: an `Upgrade` header, or an
/// `upgrade` token in `Connection`.
pub fn asks_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(http::header::UPGRADE)
        || headers
            .get_all(http::header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn upgrades_are_told_by_either_header() {
        assert!(asks_upgrade(&repeated("upgrade", &["websocket"])));
        assert!(asks_upgrade(&repeated(
            "connection",
            &["keep-alive, Upgrade"]
        )));
        assert!(asks_upgrade(&repeated("connection", &["close", "UPGRADE"])));
        assert!(!asks_upgrade(&repeated("connection", &["keep-alive"])));
        assert!(!asks_upgrade(&HeaderMap::new()));
    }

    /// A head with header `name` once per value, in order.
    fn repeated(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_length_is_found_in_the_raw_head_in_any_case() {
        assert!(declares_content_length(
            b"POST / HTTP/1.1\r\nHost: a\r\ncOnTeNt-LeNgTh: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!declares_content_length(
            b"POST /content-length: HTTP/1.1\r\nX-Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
    }

    #[test]
    fn a_length_given_twice_is_refused_even_when_the_values_agree() {
        let with = |values: &[&str]| check(&repeated("content-length", values), 1, 1000);
        assert_eq!(with(&["143"]), Ok(()));
        assert_eq!(with(&[]), Ok(()));
        assert_eq!(with(&["143, 143"]), Err(Reason::ConflictingFraming));
        assert_eq!(with(&["143", "143"]), Err(Reason::ConflictingFraming));
    }

    #[test]
    fn chunked_alone_is_the_only_transfer_coding() {
        let with = |values: &[&str]| check(&repeated("transfer-encoding", values), 1, 1000);
        assert_eq!(with(&["chunked"]), Ok(()));
        assert_eq!(with(&[" CHUNKED "]), Ok(()));
        assert_eq!(with(&[]), Ok(()));
        for bad in [
            &["gzip, chunked"][..],
            &["chunked", "chunked"],
            &["identity"],
            &[""],
        ] {
            assert_eq!(with(bad), Err(Reason::UnsupportedTransferCoding), "{bad:?}");
        }
    }

    #[test]
    fn oversized_heads_are_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-big", HeaderValue::from_str(&"a".repeat(900)).unwrap());
        assert_eq!(check(&h, 10, 1000), Ok(()));
        assert_eq!(check(&h, 200, 1000), Err(Reason::HeadersTooLarge));
    }
}
