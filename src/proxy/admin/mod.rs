//! The admin API, on a listener of its own (loopback by default).
//!
//! Every call carries `Authorization: Bearer <token>`; the token is hashed and compared in
//! constant time with every configured one, and a call without a valid token gets 401 and
//! changes nothing. Each token has a role: a `viewer` reads, a `reviewer` also works the
//! review queue and looks up identities, an `admin` does everything; a call beyond the
//! token's role gets 403 with the role it needs. Answers are JSON. What a call changes is written to the audit trail
//! (the decision log) with the token's name. The calls:
//!
//! - `GET /admin/healthz`: the process serves. `GET /admin/readyz`: the store answers and
//!   at least one upstream is up (503 and which part is not, otherwise).
//! - `GET /admin/reviews[?all=true]`, `POST /admin/reviews/{id}`: the review queue
//!   ([`reviews`]); `GET /admin/queue`, `GET /admin/reviews/{id}` and
//!   `POST /admin/reviews/{id}/{claim,release,escalate,notes}`: working it ([`queue`]).
//! - `GET /admin/blocks`, `POST /admin/blocks`, `DELETE /admin/blocks/{fact}/{hash}`,
//!   `DELETE /admin/blocks` (by value): the runtime block list ([`blocks`]).
//! - `GET /admin/keys/{fact}/{value}`: what the state holds for one identity, address or
//!   webhook event ([`state`]).
//! - `GET /admin/codes/{code}`: what the store holds for one payment code ([`codes`]).
//! - `POST /admin/reload`: read the config again ([`state`]).
//! - `POST /admin/quotas/reset`: one identity's quota counters start again ([`state`]).
//! - `GET /admin/status`: what `garita status` shows ([`status`]).
//!
//! `/console/` is the review console ([`crate::proxy::console`]), signed into with the
//! same tokens.

mod blocks;
mod codes;
pub(crate) mod queue;
mod reviews;
mod state;
mod status;

use super::reload::Serving;
use crate::config::{AdminToken, Role};
use crate::observe::decision_log::{DecisionLog, LogTime};
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Admin request bodies are a few hundred bytes of JSON.
pub const MAX_BODY: usize = 4096;

pub struct AdminApp {
    serving: Arc<Serving>,
    log: Arc<DecisionLog>,
    /// The console's sessions and sign-in throttle, kept across reloads.
    console: crate::proxy::console::Console,
}

type Reply = http::Response<Vec<u8>>;

/// An admin change, as the audit trail records it: what happened, by which token, and
/// the call's own details (never an identifier in clear).
#[derive(Serialize)]
struct AuditEvent<'a, D: Serialize> {
    ts: LogTime,
    event: &'static str,
    by: &'a str,
    #[serde(flatten)]
    detail: D,
}

fn json(status: u16, body: &impl Serialize) -> Reply {
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

fn error(status: u16, reason: &str) -> Reply {
    json(status, &serde_json::json!({ "error": reason }))
}

/// The name of the token the request carries, if it is one of `tokens`.
fn caller<'t>(session: &ServerSession, tokens: &'t [AdminToken]) -> Option<&'t AdminToken> {
    let header = session
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)?;
    token_named(tokens, header.as_bytes().strip_prefix(b"Bearer ")?)
}

/// The configured token `presented` is, compared in constant time with every one (the time
/// taken tells nothing of which matched, or whether one did).
pub(crate) fn token_named<'t>(
    tokens: &'t [AdminToken],
    presented: &[u8],
) -> Option<&'t AdminToken> {
    let digest: [u8; 32] = Sha256::digest(presented).into();
    // Every token is compared, whichever matches: the time taken tells nothing.
    let mut found = None;
    for token in tokens {
        if bool::from(token.digest.ct_eq(&digest)) {
            found = Some(token);
        }
    }
    found
}

/// The role a call needs: reading is for every role, working the queue (and looking up an
/// identity's history) for reviewers, every other change for admins.
fn role_needed(method: &str, parts: &[&str]) -> Role {
    match (method, parts) {
        ("GET", ["keys" | "codes", ..]) => Role::Reviewer,
        ("GET", _) => Role::Viewer,
        ("POST", ["reviews", ..]) => Role::Reviewer,
        _ => Role::Admin,
    }
}

pub(crate) async fn read_body(session: &mut ServerSession) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = session.read_request_body().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return None;
        }
    }
    Some(body)
}

/// A JSON body of type `T`, or the 400/413 to answer instead.
async fn body_of<T: serde::de::DeserializeOwned>(
    session: &mut ServerSession,
    expected: &str,
) -> Result<T, Reply> {
    let Some(body) = read_body(session).await else {
        return Err(error(413, "body_too_large"));
    };
    serde_json::from_slice(&body).map_err(|_| error(400, expected))
}

/// A `{"fact":"...","value":"..."}` body: an identity named in clear (never echoed).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FactValue {
    fact: String,
    value: String,
}

/// A path segment as sent, percent-decoded (an email's `+` and `@` may come encoded).
fn segment(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty())
}

impl AdminApp {
    pub fn new(serving: Arc<Serving>, log: Arc<DecisionLog>) -> Self {
        Self {
            serving,
            log,
            console: Default::default(),
        }
    }

    fn audit(&self, event: &'static str, by: &str, detail: impl Serialize) {
        self.log.write(&AuditEvent {
            ts: self.log.time(),
            event,
            by,
            detail,
        });
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Reply {
        let served = self.serving.current();
        let Some(admin) = &served.config.admin else {
            return error(404, "no_admin_api");
        };
        let path = session.req_header().uri.path().to_string();
        if path == "/console" || path.starts_with("/console/") {
            let audit = |event: &'static str, by: &str, detail: serde_json::Value| {
                self.audit(event, by, detail)
            };
            return self.console.serve(session, &served, &path, &audit).await;
        }
        let Some(token) = caller(session, &admin.tokens) else {
            return error(401, "unauthorized");
        };
        let (by, role) = (token.name.to_string(), token.role);
        let req = session.req_header();
        let method = req.method.clone();
        let path = req.uri.path().to_string();
        let query = req.uri.query().unwrap_or("").to_string();
        let Some(rest) = path.strip_prefix("/admin/") else {
            return error(404, "not_found");
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let needs = role_needed(method.as_str(), &parts);
        if role < needs {
            return json(
                403,
                &serde_json::json!({ "error": "forbidden", "needs": needs.as_str() }),
            );
        }
        match (method.as_str(), parts.as_slice()) {
            ("GET", ["healthz"]) => json(200, &serde_json::json!({ "status": "ok" })),
            ("GET", ["readyz"]) => self.ready(&served).await,
            ("GET", ["status"]) => self.status(&served).await,
            ("POST", ["reload"]) => self.reload(&by).await,
            ("POST", ["quotas", "reset"]) => self.reset_quota(session, &served, &by).await,
            ("GET", ["keys", fact, value]) => match segment(value) {
                Some(value) => self.keys(&served, fact, &value).await,
                None => error(400, "expected /admin/keys/{fact}/{value}"),
            },
            ("GET", ["reviews"] | ["reviews", ""]) => {
                let all = query.split('&').any(|p| p == "all=true");
                self.list_reviews(&served, all).await
            }
            ("POST", ["reviews", id]) if !id.is_empty() => {
                self.resolve_review(session, &served, id, &by).await
            }
            ("GET", ["queue"]) => self.queue(&served, &query).await,
            ("GET", ["reviews", id]) if !id.is_empty() => self.one_review(&served, id).await,
            ("POST", ["reviews", id, action]) if !id.is_empty() => {
                self.change_review(session, &served, (id, action), &by)
                    .await
            }
            ("GET", ["codes", code]) => match segment(code) {
                Some(code) => self.one_code(&served, &code).await,
                None => error(400, "expected /admin/codes/{code}"),
            },
            ("GET", ["blocks"]) => self.list_blocks(&served).await,
            ("POST", ["blocks"]) => self.add_block(session, &served, &by).await,
            ("DELETE", ["blocks", fact, hash]) => self.remove_block(&served, fact, hash, &by).await,
            ("DELETE", ["blocks"]) => self.remove_block_by_value(session, &served, &by).await,
            (
                _,
                ["healthz"]
                | ["readyz"]
                | ["status"]
                | ["reload"]
                | ["quotas", ..]
                | ["keys", ..]
                | ["codes", ..]
                | ["reviews", ..]
                | ["queue"]
                | ["blocks", ..],
            ) => error(405, "method_not_allowed"),
            _ => error(404, "not_found"),
        }
    }
}
