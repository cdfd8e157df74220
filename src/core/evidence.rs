//! What a policy keeps of its exchanges as evidence for disputes
//! (`[policies.NAME.evidence]`), and which headers are never kept.
//!
//! Only what the request and the answer carried is kept; credentials are not: the
//! request's `Authorization`, `Proxy-Authorization` and `Cookie`, the answer's
//! `Set-Cookie`, garita's own marks (`X-Garita-*`), and the headers a policy names. A
//! signature header is kept: it is a MAC of the body, not a secret, and the proof that a
//! notification came from its provider. Bodies are kept up to a bound, and said to be cut.

use http::HeaderName;

/// The most of a body a policy may keep.
pub const MAX_BODY_LIMIT: usize = 1 << 20;

/// Headers never kept, whatever the policy says.
const NEVER_KEPT: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// A policy's capture, compiled.
#[derive(Debug, Clone)]
pub struct EvidenceCapture {
    pub request: bool,
    pub response: bool,
    /// The most of each body kept, in bytes.
    pub max_body: usize,
    /// Headers left out besides [`NEVER_KEPT`] and garita's marks.
    pub omit: Vec<HeaderName>,
}

impl EvidenceCapture {
    /// Whether a header of the exchange is kept.
    pub fn keeps(&self, name: &HeaderName) -> bool {
        let name_text = name.as_str();
        !(NEVER_KEPT.contains(&name_text)
            || name_text.starts_with("x-garita-")
            || self.omit.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_marks_are_never_kept_and_signatures_are() {
        let capture = EvidenceCapture {
            request: true,
            response: true,
            max_body: 1024,
            omit: vec![HeaderName::from_static("x-api-key")],
        };
        for dropped in [
            "authorization",
            "cookie",
            "set-cookie",
            "x-garita-decision",
            "x-api-key",
        ] {
            assert!(
                !capture.keeps(&HeaderName::from_static(dropped)),
                "{dropped}"
            );
        }
        for kept in [
            "pe-signature",
            "content-type",
            "stripe-signature",
            "x-request-id",
        ] {
            assert!(capture.keeps(&HeaderName::from_static(kept)), "{kept}");
        }
    }
}
