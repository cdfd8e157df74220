//! The admin API, on a listener of its own: the review queue, for now.
//!
//! Every call carries `Authorization: Bearer <token>`; the token is hashed and compared in
//! constant time with every configured one, and a call without a valid token gets 401 and
//! changes nothing. Answers are JSON. What a call changes is written to the audit trail
//! (the decision log) with the token's name.
//!
//! - `GET /admin/reviews` lists the reviews not yet resolved, oldest first;
//!   `?all=true` lists the resolved ones too.
//! - `POST /admin/reviews/{id}` with `{"outcome":"approved"}` or `{"outcome":"fraud"}`
//!   resolves one; `fraud` puts the request's identity keys on the store's block list at
//!   once (404 for an unknown id, 409 if someone resolved it first).

use super::served::Served;
use crate::config::AdminToken;
use crate::observe::decision_log::{DecisionLog, LogTime};
use crate::state::store::review::{Outcome, Resolution, Resolved, Review};
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Admin request bodies are a few bytes of JSON.
const MAX_BODY: usize = 4096;

pub struct AdminApp {
    served: Arc<Served>,
    log: Arc<DecisionLog>,
}

/// An admin change, as the audit trail records it.
#[derive(Serialize)]
struct AuditEvent<'a> {
    ts: LogTime,
    event: &'static str,
    by: &'a str,
    review: &'a str,
    outcome: &'static str,
    route: &'a str,
    policy: &'a str,
    /// The facts whose keys went on the block list.
    blocked: Vec<&'a str>,
}

fn json(status: u16, body: &impl Serialize) -> http::Response<Vec<u8>> {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    let mut response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONTENT_LENGTH, bytes.len())
        .header(http::header::CACHE_CONTROL, "no-store");
    if status == 401 {
        response = response.header(http::header::WWW_AUTHENTICATE, "Bearer");
    }
    response.body(bytes).expect("valid response")
}

fn error(status: u16, reason: &str) -> http::Response<Vec<u8>> {
    json(status, &serde_json::json!({ "error": reason }))
}

/// The name of the token the request carries, if it is one of `tokens`.
fn caller<'t>(session: &ServerSession, tokens: &'t [AdminToken]) -> Option<&'t str> {
    let header = session
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)?;
    let presented = header.as_bytes().strip_prefix(b"Bearer ")?;
    let digest: [u8; 32] = Sha256::digest(presented).into();
    // Every token is compared, whichever matches: the time taken tells nothing.
    let mut found = None;
    for token in tokens {
        if bool::from(token.digest.ct_eq(&digest)) {
            found = Some(&*token.name);
        }
    }
    found
}

async fn read_body(session: &mut ServerSession) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = session.read_request_body().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return None;
        }
    }
    Some(body)
}

impl AdminApp {
    pub fn new(served: Arc<Served>, log: Arc<DecisionLog>) -> Self {
        Self { served, log }
    }

    async fn list(&self, all: bool) -> http::Response<Vec<u8>> {
        match self.served.reviews(!all).await {
            Ok(reviews) => json(200, &serde_json::json!({ "reviews": reviews })),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    async fn resolve(&self, id: &str, body: &[u8], by: &str) -> http::Response<Vec<u8>> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            outcome: String,
        }
        let Some(outcome) = serde_json::from_slice::<Body>(body)
            .ok()
            .and_then(|b| Outcome::parse(&b.outcome))
        else {
            return error(
                400,
                "expected {\"outcome\":\"approved\"} or {\"outcome\":\"fraud\"}",
            );
        };
        let resolution = Resolution {
            outcome,
            by: by.to_string(),
            at: self.served.runtime.now().as_second(),
        };
        match self.served.resolve_review(id, &resolution).await {
            Err(_) => error(503, "store_unavailable"),
            Ok(Resolved::Unknown) => error(404, "unknown_review"),
            Ok(Resolved::Already(review)) => json(
                409,
                &serde_json::json!({ "error": "already_resolved", "review": review }),
            ),
            Ok(Resolved::Now(review)) => {
                self.audit(&review, outcome, by);
                json(200, &serde_json::json!({ "review": review }))
            }
        }
    }

    fn audit(&self, review: &Review, outcome: Outcome, by: &str) {
        let blocked = match outcome {
            Outcome::Fraud => review.identity_keys().map(|(fact, _)| fact).collect(),
            Outcome::Approved => Vec::new(),
        };
        self.log.write(&AuditEvent {
            ts: self.log.time(),
            event: "review_resolved",
            by,
            review: &review.id,
            outcome: outcome.as_str(),
            route: &review.route,
            policy: &review.policy,
            blocked,
        });
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let Some(admin) = &self.served.config.admin else {
            return error(404, "no_admin_api");
        };
        let Some(by) = caller(session, &admin.tokens) else {
            return error(401, "unauthorized");
        };
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let all = req
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "all=true"));
        // `/admin/reviews` is the queue, `/admin/reviews/{id}` one review.
        let review = match path.strip_prefix("/admin/reviews") {
            Some("" | "/") => Some(None),
            Some(rest) => rest
                .strip_prefix('/')
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(Some),
            None => None,
        };
        match (method.as_str(), review) {
            ("GET", Some(None)) => self.list(all).await,
            ("POST", Some(Some(id))) => {
                let Some(body) = read_body(session).await else {
                    return error(413, "body_too_large");
                };
                self.resolve(id, &body, by).await
            }
            (_, Some(_)) => error(405, "method_not_allowed"),
            _ => error(404, "not_found"),
        }
    }
}
