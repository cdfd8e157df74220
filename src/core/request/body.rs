//! Request bodies, read once; the [`selector`](super::selector)s pick facts out of them.
//!
//! A body is parsed only as what its `Content-Type` says: JSON (`application/json` or
//! `+json`) or `application/x-www-form-urlencoded`. The parser is stricter than the
//! backend's is likely to be, on purpose: if garita and the backend could read one body
//! differently, garita would be judging a request the backend never sees. So a JSON object
//! that repeats a key, a form that repeats a field a selector reads, invalid UTF-8 and
//! nesting deeper than [`MAX_DEPTH`] are all refused rather than guessed at.

use crate::core::request::json::{self, JsonError, JsonValue};
use std::borrow::Cow;
use std::fmt;

pub use crate::core::request::json::MAX_DEPTH;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is not of the type the route's selectors read.
    WrongContentType,
    InvalidUtf8,
    Malformed,
    DuplicateKey(String),
    TooDeep,
    /// A selector found an object or array where a single value was expected.
    NotScalar(String),
    /// An object has no member named as a selector reads but one that differs only in
    /// case: a backend that matches keys case-insensitively (Go's `encoding/json`) reads it.
    KeyCase(String),
    /// The query string has a parameter named like a body field a selector reads: a
    /// backend that merges query and body parameters (Rails `params`, PHP `$_REQUEST`)
    /// may read that one instead.
    AmbiguousParameter(String),
}

impl BodyError {
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::WrongContentType => "unsupported_content_type",
            BodyError::InvalidUtf8 => "invalid_utf8",
            BodyError::Malformed => "malformed_body",
            BodyError::DuplicateKey(_) => "duplicate_key",
            BodyError::TooDeep => "body_too_deep",
            BodyError::NotScalar(_) => "malformed_field",
            BodyError::KeyCase(_) => "ambiguous_key",
            BodyError::AmbiguousParameter(_) => "ambiguous_parameter",
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::DuplicateKey(k) => write!(f, "duplicate key {k:?}"),
            BodyError::NotScalar(s) => write!(f, "{s} is not a single value"),
            BodyError::KeyCase(k) => {
                write!(f, "key {k:?} differs from a selected key only in case")
            }
            BodyError::AmbiguousParameter(p) => {
                write!(f, "query parameter {p:?} is named like a body field")
            }
            other => f.write_str(other.code()),
        }
    }
}

/// What kind of body a route's selectors need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

/// A body as its selectors read it, borrowing from the bytes it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedBody<'a> {
    None,
    Json(JsonValue<'a>),
    Form(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

/// Whether a `Content-Type` says the body is of `kind` (parameters and case aside).
pub fn is_type(content_type: Option<&str>, kind: BodyKind) -> bool {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map_or("", str::trim);
    match kind {
        BodyKind::Json => {
            let bytes = media.as_bytes();
            media.eq_ignore_ascii_case("application/json")
                || (bytes.len() >= 5 && bytes[bytes.len() - 5..].eq_ignore_ascii_case(b"+json"))
        }
        BodyKind::Form => media.eq_ignore_ascii_case("application/x-www-form-urlencoded"),
    }
}

/// Parse `bytes` as `kind`, if the content type agrees. An empty body parses as nothing.
pub fn parse<'a>(
    content_type: Option<&str>,
    bytes: &'a [u8],
    kind: BodyKind,
) -> Result<ParsedBody<'a>, BodyError> {
    if bytes.is_empty() {
        return Ok(ParsedBody::None);
    }
    let text = || std::str::from_utf8(bytes).map_err(|_| BodyError::InvalidUtf8);
    match kind {
        BodyKind::Json if is_type(content_type, kind) => json::parse(text()?)
            .map(ParsedBody::Json)
            .map_err(|e| match e {
                JsonError::Malformed => BodyError::Malformed,
                JsonError::DuplicateKey(key) => BodyError::DuplicateKey(key),
                JsonError::TooDeep => BodyError::TooDeep,
            }),
        BodyKind::Form if is_type(content_type, kind) => {
            text()?;
            let fields = form_urlencoded::parse(bytes).collect();
            Ok(ParsedBody::Form(fields))
        }
        _ => Err(BodyError::WrongContentType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn json_with_a_repeated_key_is_refused_at_any_depth() {
        assert_eq!(
            parse(JSON, br#"{"dni":"1","dni":"2"}"#, BodyKind::Json),
            Err(BodyError::DuplicateKey("dni".into()))
        );
        assert_eq!(
            parse(
                JSON,
                br#"{"user":{"email":"a","email":"b"}}"#,
                BodyKind::Json
            ),
            Err(BodyError::DuplicateKey("email".into()))
        );
        assert!(parse(JSON, br#"{"a":{"k":1},"b":{"k":2}}"#, BodyKind::Json).is_ok());
    }

    #[test]
    fn bad_json_is_told_apart() {
        assert_eq!(
            parse(JSON, b"{\"a\":", BodyKind::Json),
            Err(BodyError::Malformed)
        );
        assert_eq!(
            parse(JSON, b"{} {}", BodyKind::Json),
            Err(BodyError::Malformed)
        );
        assert_eq!(
            parse(JSON, b"{\"a\":\"\xff\"}", BodyKind::Json),
            Err(BodyError::InvalidUtf8)
        );
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(JSON, deep.as_bytes(), BodyKind::Json),
            Err(BodyError::TooDeep)
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(JSON, ok.as_bytes(), BodyKind::Json).is_ok());
        assert_eq!(
            parse(Some("text/plain"), b"{}", BodyKind::Json),
            Err(BodyError::WrongContentType)
        );
        assert_eq!(
            parse(None, b"{}", BodyKind::Json),
            Err(BodyError::WrongContentType)
        );
        assert_eq!(
            parse(Some("application/vnd.api+json"), b"{}", BodyKind::Json),
            Ok(ParsedBody::Json(JsonValue::Object(Vec::new())))
        );
    }
}
