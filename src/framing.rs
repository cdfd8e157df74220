//! Request framing: refusing request heads that garita and the backend could read differently.
//!
//! Pingora already rejects what HTTP/1.1 forbids outright (several different
//! `Content-Length` values, unknown transfer codings, obsolete line folding, whitespace
//! before a colon), and when a request carries both `Content-Length` and
//! `Transfer-Encoding` it drops the length, frames by chunks and closes the connection
//! afterwards (RFC 9112 section 6.3), so nothing can be smuggled behind the body; the tests
//! pin that down. What it lets through and is refused here, before any rule runs, is a
//! request head larger than the configured bound: it only costs memory at every hop, and
//! backends cut long heads at different sizes.

use crate::decision::Reason;
use http::HeaderMap;

/// Default bound on the request line plus headers, in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;

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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn oversized_heads_are_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-big", HeaderValue::from_str(&"a".repeat(900)).unwrap());
        assert_eq!(check(&h, 10, 1000), Ok(()));
        assert_eq!(check(&h, 200, 1000), Err(Reason::HeadersTooLarge));
    }
}
