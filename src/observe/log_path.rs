//! The path as the decision log and the process log write it: without its query string,
//! bounded in length, and without identifiers.
//!
//! Paths carry identifiers too (`/v1/customers/11223344/orders`,
//! `/account/fraud.ster@gmail.com`, `/v1/cips;dni=11223344`), and the log promises that
//! DNI, email and phone never appear in clear. So a segment that holds an `@` or six or
//! more digits in all (a DNI, a phone with its separators, a RUC, a card or order number)
//! is written as `*`, and a segment's `;parameters` as `;*`; the route name beside the path
//! still says what was asked. What is approximated: an identifier with fewer than six
//! digits and no `@` (a short account name) stays, and an order number is hidden with the
//! rest. A path with nothing to hide is borrowed as it is.

use std::borrow::Cow;

/// Characters of path written at most.
pub const MAX_PATH_CHARS: usize = 256;

/// Digits in a segment from which it is taken for an identifier.
const IDENTIFIER_DIGITS: usize = 6;

/// `path` as logged: no query, identifiers masked, at most [`MAX_PATH_CHARS`] characters.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    let no_query = path.split('?').next().unwrap_or("");
    let cut = match no_query.char_indices().nth(MAX_PATH_CHARS) {
        Some((cut, _)) => &no_query[..cut],
        None => no_query,
    };
    if !cut.split('/').any(needs_mask) {
        return Cow::Borrowed(cut);
    }
    let mut out = String::with_capacity(cut.len());
    for (i, segment) in cut.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let (name, params) = match segment.split_once(';') {
            Some((name, _)) => (name, true),
            None => (segment, false),
        };
        if holds_identifier(name) {
            out.push('*');
        } else {
            out.push_str(name);
        }
        if params {
            out.push_str(";*");
        }
    }
    Cow::Owned(out)
}

fn needs_mask(segment: &str) -> bool {
    segment.contains(';') || holds_identifier(segment)
}

/// An `@` (also as `%40`), or six digits or more in all (the digits of percent escapes
/// count too: a few harmless segments are masked for nothing).
fn holds_identifier(segment: &str) -> bool {
    segment.contains('@')
        || segment.contains("%40")
        || segment.bytes().filter(u8::is_ascii_digit).count() >= IDENTIFIER_DIGITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_their_query_and_length() {
        assert_eq!(loggable_path("/v1/cips?dni=12345678"), "/v1/cips");
        assert_eq!(loggable_path(&"/a".repeat(500)).len(), MAX_PATH_CHARS);
        assert_eq!(
            loggable_path(&"/ñ".repeat(500)).chars().count(),
            MAX_PATH_CHARS
        );
        assert!(matches!(loggable_path("/v1/cips"), Cow::Borrowed(_)));
    }

    #[test]
    fn identifiers_in_a_path_are_masked() {
        for (path, logged) in [
            ("/v1/customers/11223344/orders", "/v1/customers/*/orders"),
            ("/account/fraud.ster@gmail.com", "/account/*"),
            ("/account/fraud.ster%40gmail.com/x", "/account/*/x"),
            ("/v1/cips;dni=11223344", "/v1/cips;*"),
            ("/v1/cips;jsessionid=abc/pay", "/v1/cips;*/pay"),
            ("/phones/+51%20987%20654%20321", "/phones/*"),
            ("/v1/orders/ORD-2026-000123/pay", "/v1/orders/*/pay"),
            ("/v1/orders/12345/pay", "/v1/orders/12345/pay"),
            ("/v2/cips/search", "/v2/cips/search"),
        ] {
            assert_eq!(loggable_path(path), logged, "{path}");
        }
    }
}
