//! The request's headers, in and out: what garita drops before anything reads them, and
//! what it writes on the request it forwards.
//!
//! In: a header whose name contains `_` is dropped unless `server.underscores_in_headers =
//! "keep"`, as NGINX does by default: CGI, WSGI, PHP and Rack turn `-` into `_` when they
//! make variables of header names, so `X_Forwarded_For` or `X_Garita_Decision` would
//! reach such a backend as the headers garita vouches for. Nothing garita reads is
//! spelled with `_`, so a legitimate client loses nothing it needs.
//!
//! Out: `X-Forwarded-For` (the chain kept only when a trusted proxy vouched for it),
//! `X-Request-Id`, and garita's own marks (`X-Garita-Decision`, `-Reasons`, `-Score` on a
//! review, `-Duplicate` on a delivered-before webhook forwarded again), which a client's
//! request never carries through: any it sent are removed first.

use super::decide::review_reasons;
use super::RequestCtx;
use crate::core::decision::Verdict;
use pingora::http::RequestHeader;
use pingora::Result;

const FORWARDED_FOR: &str = "x-forwarded-for";
const REQUEST_ID: &str = "x-request-id";
/// Set on requests forwarded for review, with the reasons; stripped from client requests.
pub const DECISION_HEADER: &str = "x-garita-decision";
pub const REASONS_HEADER: &str = "x-garita-reasons";
/// On requests forwarded for review by a policy with risk rules: the score.
pub const SCORE_HEADER: &str = "x-garita-score";
/// Set on a webhook delivered before and forwarded again (`on_duplicate = "forward"`).
pub const DUPLICATE_HEADER: &str = "x-garita-duplicate";

/// Longest list of dropped names the decision log keeps, in bytes.
const MAX_LOGGED_NAMES: usize = 256;

/// Remove every header whose name contains `_`; the names removed, comma-separated and
/// cut to a bounded length, for the log (`None`: nothing was removed, nothing allocated).
pub fn drop_underscore_headers(req: &mut RequestHeader) -> Option<(usize, String)> {
    if !req.headers.keys().any(|n| n.as_str().contains('_')) {
        return None;
    }
    let names: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| n.as_str().contains('_'))
        .cloned()
        .collect();
    let mut logged = String::new();
    for name in &names {
        req.remove_header(name);
        if logged.len() + name.as_str().len() + 2 <= MAX_LOGGED_NAMES {
            if !logged.is_empty() {
                logged.push_str(", ");
            }
            logged.push_str(name.as_str());
        }
    }
    Some((names.len(), logged))
}

/// Write garita's headers on the request it forwards.
pub(super) fn mark_forwarded(upstream_request: &mut RequestHeader, ctx: &RequestCtx) -> Result<()> {
    if let Some(client) = ctx.client {
        // Keep the chain only when a trusted proxy vouched for it; otherwise the backend
        // would see whatever the client wrote.
        let mut chain = String::with_capacity(64);
        if ctx.served.config.client_ip.is_trusted(client.peer) {
            for hop in upstream_request.headers.get_all(FORWARDED_FOR) {
                if let Ok(hop) = hop.to_str() {
                    chain.push_str(hop);
                    chain.push_str(", ");
                }
            }
        }
        crate::core::net::ip_text::push_ip_str(&mut chain, client.peer);
        upstream_request.insert_header(FORWARDED_FOR, chain)?;
    }
    upstream_request.insert_header(REQUEST_ID, ctx.request_id.as_str())?;
    // Only garita may speak for garita (one pass over the names, rather than three
    // lookups for headers clients almost never send).
    if upstream_request
        .headers
        .keys()
        .any(|name| name.as_str().starts_with("x-garita-"))
    {
        upstream_request.remove_header(DECISION_HEADER);
        upstream_request.remove_header(REASONS_HEADER);
        upstream_request.remove_header(SCORE_HEADER);
        upstream_request.remove_header(DUPLICATE_HEADER);
    }
    if ctx.webhook.duplicate {
        upstream_request.insert_header(DUPLICATE_HEADER, "true")?;
    }
    if let Some(decision) = ctx
        .decision
        .as_ref()
        .filter(|d| d.verdict() == Verdict::Review)
    {
        upstream_request.insert_header(DECISION_HEADER, "review")?;
        if let Some(risk) = decision.risk() {
            upstream_request.insert_header(SCORE_HEADER, risk.score.to_string())?;
        }
        upstream_request.insert_header(REASONS_HEADER, review_reasons(decision).join(", "))?;
    }
    Ok(())
}
