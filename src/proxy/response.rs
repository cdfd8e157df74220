//! What a client is told when garita answers itself instead of the backend, and with
//! which HTTP status each reason is answered.
//!
//! Always JSON, `{"error", "reason", "request_id"}`, never a detail that would help tune an
//! attack (which list matched, which country was seen). A rate-limit denial carries
//! `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers): the policy's burst as quota `q` over window `w`
//! seconds, and zero remaining until `t` seconds from now.

use crate::core::decision::{Decision, Reason};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use serde::Serialize;

/// A response garita sends itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    reason: &'a str,
    request_id: &'a str,
}

/// The short error name for a status, snake case.
pub fn error_name(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        429 => "too_many_requests",
        431 => "request_header_fields_too_large",
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        _ => "error",
    }
}

/// A JSON error response with the given status and reason code.
pub fn json_error(status: u16, reason: &str, request_id: &str) -> LocalResponse {
    let body = serde_json::to_vec(&ErrorBody {
        error: error_name(status),
        reason,
        request_id,
    })
    .unwrap_or_default();
    LocalResponse {
        status,
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".to_string()),
            ("x-request-id", request_id.to_string()),
        ],
        body,
    }
}

/// The HTTP status a denial for `reason` is answered with.
pub fn status(reason: Reason) -> u16 {
    match reason {
        Reason::IpAllowListed => 200,
        Reason::IpBlocked
        | Reason::CountryNotAllowed
        | Reason::CountryBlocked
        | Reason::CountryUnknown => 403,
        Reason::RateLimited
        | Reason::NetworkRateLimited
        | Reason::KeyRateLimited(_)
        | Reason::QuotaExceeded(..) => 429,
        Reason::KeyBlocked(_)
        | Reason::RuntimeBlocked(_)
        | Reason::BindingExceeded(..)
        | Reason::RiskScore => 403,
        // As NGINX answers a transfer coding it does not implement.
        Reason::UnsupportedTransferCoding => 501,
        Reason::MalformedPath
        | Reason::UpgradeRefused
        | Reason::MalformedForwardedFor
        | Reason::ConflictingFraming
        | Reason::MalformedRequest
        | Reason::MalformedBody(_)
        // 400 rather than 415: to a client it is one more way its body was unreadable.
        | Reason::UnsupportedContentType
        | Reason::BadFact(_) => 400,
        Reason::HeadersTooLarge => 431,
        Reason::MethodNotAllowed => 405,
        Reason::BodyTooLarge => 413,
        Reason::BodyTimeout => 408,
        Reason::StoreUnavailable => 503,
        Reason::WebhookUnverified(_) => 401,
        Reason::WebhookSourceNotAllowed => 403,
        Reason::MissingReplayKey => 400,
        Reason::DuplicateNotification => 200,
        Reason::NotificationInFlight => 409,
    }
}

/// The response for a denial, or `None` if the decision is not one.
pub fn denial(decision: &Decision, request_id: &str) -> Option<LocalResponse> {
    let reason = decision.denied_for()?;
    if reason == Reason::DuplicateNotification {
        // Not an error to the provider: it was delivered before, so it may stop retrying.
        let mut ack = json_error(200, reason.code(), request_id);
        ack.body = serde_json::to_vec(&serde_json::json!({
            "status": "duplicate",
            "reason": reason.code(),
            "request_id": request_id,
        }))
        .unwrap_or_default();
        return Some(ack);
    }
    let mut response = json_error(status(reason), reason.code(), request_id);
    if let Some(limit) = decision.rate_limit() {
        let retry = limit.retry_after.as_secs() + u64::from(limit.retry_after.subsec_nanos() > 0);
        let retry = retry.max(1);
        response.headers.push(("retry-after", retry.to_string()));
        response.headers.push((
            "ratelimit-policy",
            format!(
                "\"{}\";q={};w={}",
                limit.policy, limit.burst, limit.window_seconds
            ),
        ));
        response
            .headers
            .push(("ratelimit", format!("\"{}\";r=0;t={}", limit.policy, retry)));
    }
    Some(response)
}

/// Answer locally. The connection is closed after the answer unless `reusable` says the
/// next request on it can be found: the body was read to its end (or there was none) and
/// the head's framing was not in doubt.
pub(super) async fn send_local(
    session: &mut Session,
    reply: LocalResponse,
    reusable: bool,
) -> Result<()> {
    let mut header = ResponseHeader::build(reply.status, Some(reply.headers.len() + 2))?;
    for (name, value) in reply.headers {
        header.insert_header(name, value)?;
    }
    header.insert_header("content-length", reply.body.len().to_string())?;
    if !(reusable && session.is_body_done()) {
        header.insert_header("connection", "close")?;
        session.set_keepalive(None);
    }
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session
        .write_response_body(Some(Bytes::from(reply.body)), true)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::decision::RateLimitState;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn only_denials_are_answered() {
        assert_eq!(denial(&Decision::allow(), "abc"), None);
    }

    #[test]
    fn denials_are_json_with_reason_and_request_id() {
        let r = denial(&Decision::deny(Reason::IpBlocked), "abc").unwrap();
        assert_eq!(r.status, 403);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "forbidden", "reason": "ip_blocked", "request_id": "abc"})
        );
    }

    #[test]
    fn rate_limit_denials_say_when_to_come_back() {
        let d = Decision::deny_limited(
            Reason::RateLimited,
            RateLimitState {
                policy: Arc::from("payments"),
                burst: 5,
                window_seconds: 60,
                retry_after: Duration::from_millis(11_200),
            },
        );
        let r = denial(&d, "id").unwrap();
        assert_eq!(r.status, 429);
        let get = |name| {
            r.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("retry-after"), Some("12"));
        assert_eq!(get("ratelimit-policy"), Some("\"payments\";q=5;w=60"));
        assert_eq!(get("ratelimit"), Some("\"payments\";r=0;t=12"));
    }
}
