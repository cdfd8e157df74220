//! Path normalisation: the form of a request path that routes are matched against.
//!
//! Routes must match the resource the backend will serve, whatever spelling the client
//! chose. So the path is percent-decoded once, `\` is read as `/`, `;parameters` are cut
//! from each segment (servlet containers do), empty and `.` segments are dropped, `..`
//! removes the segment before it, and letters are lower-cased (some backends route
//! case-insensitively). The backend still receives the path exactly as the client sent it;
//! only matching uses this form.
//!
//! What cannot be normalised without guessing is refused: bad percent escapes, something
//! that is still percent-encoded after one decoding (a backend that decodes twice would see
//! another path), control characters, invalid UTF-8, and `..` climbing above the root.
//! So are spellings lenient backends read as another path than garita would match: an
//! encoded `#` or `?` (a backend that decodes before splitting cuts the path there), any
//! whitespace, a last segment that is `.` or `..` (resolved against what, depends on the
//! backend), and a segment ending in a dot (Windows and IIS drop trailing dots).

use std::borrow::Cow;

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    NotOriginForm,
    BadPercentEncoding,
    DoubleEncoded,
    ControlCharacter,
    InvalidUtf8,
    EscapesRoot,
    EncodedDelimiter,
    Whitespace,
    TrailingDot,
}

impl PathError {
    pub fn describe(self) -> &'static str {
        match self {
            PathError::NotOriginForm => "the path does not start with '/'",
            PathError::BadPercentEncoding => "the path has a malformed percent escape",
            PathError::DoubleEncoded => "the path is still percent-encoded after decoding",
            PathError::ControlCharacter => "the path contains a control character",
            PathError::InvalidUtf8 => "the path does not decode to UTF-8",
            PathError::EscapesRoot => "the path climbs above the root with '..'",
            PathError::EncodedDelimiter => "the path has an encoded '#' or '?'",
            PathError::Whitespace => "the path contains whitespace",
            PathError::TrailingDot => {
                "the path ends in a '.' or '..' segment, or a segment ends in '.'"
            }
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl std::error::Error for PathError {}

/// Normalise the path part of a request target (no query string).
pub fn normalize(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if is_canonical(raw) {
        return Ok(Cow::Borrowed(raw));
    }
    rebuild(raw).map(Cow::Owned)
}

/// [`normalize`] the long way: decoded, checked, its segments resolved, lower-cased.
fn rebuild(raw: &str) -> Result<String, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotOriginForm);
    }
    let decoded = percent_decode(raw.as_bytes())?;
    if has_percent_escape(&decoded) {
        return Err(PathError::DoubleEncoded);
    }
    let text = String::from_utf8(decoded).map_err(|_| PathError::InvalidUtf8)?;
    if text.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    if text.contains(['#', '?']) {
        return Err(PathError::EncodedDelimiter);
    }
    if text.chars().any(char::is_whitespace) {
        return Err(PathError::Whitespace);
    }
    let mut segments: Vec<&str> = Vec::new();
    let mut raw_segments = text.split(['/', '\\']).peekable();
    while let Some(segment) = raw_segments.next() {
        let segment = segment.split(';').next().unwrap_or("");
        let last = raw_segments.peek().is_none();
        if segment.ends_with('.') && (last || !matches!(segment, "." | "..")) {
            return Err(PathError::TrailingDot);
        }
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(PathError::EscapesRoot);
                }
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(text.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out.to_lowercase())
}

/// Whether `raw` is already what [`normalize`] would make of it: lower-case segments of
/// unreserved and sub-delimiter characters, none empty, none ending in a dot, no escape,
/// no parameter. Most requests' paths are, and are then taken as they are, unallocated.
fn is_canonical(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    rest.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.ends_with('.')
            && segment.bytes().all(|b| {
                matches!(b,
                    b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'!' | b'$'
                    | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@')
            })
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(input: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hi = input.get(i + 1).copied().and_then(hex);
            let lo = input.get(i + 2).copied().and_then(hex);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(PathError::BadPercentEncoding),
            }
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn has_percent_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A path taken as it is would have come out of the long way unchanged.
        #[test]
        fn a_canonical_path_is_what_the_long_way_makes(text in "(/|[a-zA-Z0-9]|[-._~;%]|%2[eEfF]|\\.\\.|\\.){0,24}") {
            if is_canonical(&text) {
                let rebuilt = rebuild(&text);
                proptest::prop_assert_eq!(rebuilt.as_deref(), Ok(text.as_str()));
            }
        }
    }

    #[test]
    fn usual_paths_are_taken_as_they_are() {
        for path in [
            "/",
            "/v1/cips",
            "/webhooks/pagoefectivo",
            "/shop/a-b_c.json",
            "/x/~y@z",
        ] {
            assert!(
                matches!(normalize(path), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
            assert_eq!(rebuild(path).as_deref(), Ok(path));
        }
        for path in [
            "/V1/cips",
            "/v1//cips",
            "/v1/cips/",
            "/v1/./cips",
            "/a;b",
            "/a%41",
            "/a.",
        ] {
            assert!(!is_canonical(path), "{path}");
        }
    }

    #[test]
    fn spellings_of_one_path_normalise_alike() {
        for raw in [
            "/checkout/pay",
            "/checkout/../checkout/pay",
            "//checkout///pay/",
            "/checkout/./pay",
            "/checkout%2Fpay",
            "/%63heckout/pay",
            "/Checkout/PAY",
            "/checkout;jsessionid=1/pay",
            "/checkout\\pay",
            "/x/..;/checkout/pay",
            "/checkout/%2e%2e/checkout/pay",
        ] {
            assert_eq!(normalize(raw).as_deref(), Ok("/checkout/pay"), "{raw}");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        assert_eq!(normalize("/a/%zz"), Err(PathError::BadPercentEncoding));
        assert_eq!(normalize("/a/%2"), Err(PathError::BadPercentEncoding));
        assert_eq!(
            normalize("/checkout%252Fpay"),
            Err(PathError::DoubleEncoded)
        );
        assert_eq!(normalize("/a%00b"), Err(PathError::ControlCharacter));
        assert_eq!(normalize("/a%ffb"), Err(PathError::InvalidUtf8));
        assert_eq!(normalize("/../etc"), Err(PathError::EscapesRoot));
        assert_eq!(normalize("*"), Err(PathError::NotOriginForm));
    }

    #[test]
    fn spellings_a_lenient_backend_reads_otherwise_are_refused() {
        for (raw, error) in [
            ("/v1/cips%20", PathError::Whitespace),
            ("/v1/ci%09ps", PathError::ControlCharacter),
            ("/v1/cips%23", PathError::EncodedDelimiter),
            ("/v1/cips%3f", PathError::EncodedDelimiter),
            ("/v1/cips%3Fx=1", PathError::EncodedDelimiter),
            ("/v1/cips%2e", PathError::TrailingDot),
            ("/v1/cips.", PathError::TrailingDot),
            ("/v1/cips/..", PathError::TrailingDot),
            ("/v1/cips/.", PathError::TrailingDot),
            ("/v1/cips/%2e%2e", PathError::TrailingDot),
            ("/v1/cips/..;x", PathError::TrailingDot),
            ("/v1/cips../x", PathError::TrailingDot),
        ] {
            assert_eq!(normalize(raw), Err(error), "{raw}");
        }
        // Dot segments inside the path are resolved as before.
        assert_eq!(normalize("/x/./v1/../v1/cips").as_deref(), Ok("/x/v1/cips"));
    }

    #[test]
    fn root_and_utf8_survive() {
        assert_eq!(normalize("/").as_deref(), Ok("/"));
        assert_eq!(normalize("/a/../b").as_deref(), Ok("/b"));
        assert_eq!(normalize("/pag%C3%A1").as_deref(), Ok("/pagá"));
    }
}
