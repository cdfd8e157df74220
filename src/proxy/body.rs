//! Reading a request body for its facts, before the upstream is chosen.
//!
//! Retry buffering is switched on first, so whatever is read here Pingora replays to the
//! backend byte for byte. A body larger than the route's `max_body` (at most the 64 KiB
//! Pingora can replay) is refused with 413 as soon as that is known, from `Content-Length`
//! or while reading; it is never forwarded cut short. A client that sends its body too
//! slowly gets 408. A client that sent `Expect: 100-continue` gets `100 Continue` when the
//! reading starts, unless its declared length is already refused.

use crate::core::decision::Reason;
use crate::core::request::body::{self, BodyError, ParsedBody};
use crate::core::request::facts::{self, IdentityFacts};
use crate::core::rules::identity::IdentityRules;
use pingora::proxy::Session;

fn body_reason(e: BodyError) -> Reason {
    match e {
        BodyError::WrongContentType => Reason::UnsupportedContentType,
        other => Reason::MalformedBody(other.code()),
    }
}

async fn read_bounded(session: &mut Session, max: usize) -> Result<Vec<u8>, Reason> {
    let mut buf = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max {
                    return Err(Reason::BodyTooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf),
            Err(e) => {
                log::debug!("reading a request body: {e}");
                return Err(Reason::MalformedBody("unreadable_body"));
            }
        }
    }
}

/// Read the whole body, at most `max` bytes (a declared larger length is refused before
/// reading), within `timeout`. Retry buffering makes Pingora replay it to the upstream.
pub(super) async fn read_body(
    session: &mut Session,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, Reason> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(Reason::BodyTooLarge);
    }
    // A client that asked to be told before sending its body is told now (a refusal above
    // is the other answer it may get).
    if expects_continue(session.req_header()) {
        session
            .write_continue_response()
            .await
            .map_err(|_| Reason::MalformedBody("unreadable_body"))?;
    }
    session.enable_retry_buffering();
    tokio::time::timeout(timeout, read_bounded(session, max))
        .await
        .map_err(|_| Reason::BodyTimeout)?
}

/// Whether an HTTP/1.1 request waits for `100 Continue` before sending its body.
fn expects_continue(req: &pingora::http::RequestHeader) -> bool {
    req.version == http::Version::HTTP_11
        && req
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Read (if the rules need it) and parse the body, and extract the identity facts; the
/// body's bytes come back too (empty when not read), for the evidence.
pub(super) async fn read_facts(
    session: &mut Session,
    rules: &IdentityRules,
) -> Result<(IdentityFacts, Vec<u8>), Reason> {
    let req = session.req_header();
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match rules.body_kind {
        None => Vec::new(),
        Some(_) => read_body(session, rules.max_body, rules.body_timeout).await?,
    };
    let parsed = match rules.body_kind {
        None => ParsedBody::None,
        Some(kind) => body::parse(content_type.as_deref(), &bytes, kind).map_err(body_reason)?,
    };
    let req = session.req_header();
    let facts = facts::extract(&rules.selectors, &parsed, &req.headers, req.uri.query())
        .map_err(body_reason)?;
    Ok((facts, bytes))
}
