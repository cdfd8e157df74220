//! The Pingora glue: sequences the phases of one request and maps a decision to a response.
//!
//! It holds no policy of its own. `request_filter` gathers the facts (client address,
//! normalised path, route, country), asks the [`Gate`](crate::core::decision::Gate), and then
//! reads the body where it must (buffered, so Pingora replays it to the backend byte for
//! byte): webhook routes verify the notification and claim it against replays
//! ([`webhook`]), routes with identity rules ask the gate again with the identity facts
//! ([`body`]). It then either answers
//! itself (denied: the backend sees nothing, not even headers) or lets Pingora forward the
//! request as it came, plus `X-Forwarded-For`, `X-Request-Id` and, for review, the
//! `X-Garita-Decision` / `X-Garita-Reasons` (and `X-Garita-Score`) marks. `logging` ([`account`]) writes the
//! decision-log line and the metrics once per request, whatever happened.

mod account;
pub mod admin;
mod body;
pub mod connection;
mod failure;
pub mod health_check;
mod housekeeping;
mod limited_http;
pub mod listeners;
mod marks;
pub mod refused;
pub mod reload;
pub mod response;
pub mod served;
pub mod server;
pub mod tls;
mod webhook;

use crate::core::decision::{Decision, Reason, Verdict};
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::policy::PolicyId;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::IdentityFacts;
use crate::core::request::route::RouteName;
use crate::core::request::{framing, path};
use crate::core::rules::webhook::HeldClaim;
use crate::observe::decision_log::DecisionLog;
use crate::observe::metrics::Metrics;
use crate::state::store::Review;
use crate::state::upstreams::Upstream;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorType, Result};
use response::LocalResponse;
use served::Served;
use std::sync::Arc;
use std::time::Instant;

const FORWARDED_FOR: &str = "x-forwarded-for";
const REQUEST_ID: &str = "x-request-id";
/// Set on requests forwarded for review, with the reasons; stripped from client requests.
pub const DECISION_HEADER: &str = "x-garita-decision";
pub const REASONS_HEADER: &str = "x-garita-reasons";
/// On requests forwarded for review by a policy with risk rules: the score.
pub const SCORE_HEADER: &str = "x-garita-score";
/// Set on a webhook delivered before and forwarded again (`on_duplicate = "forward"`).
pub const DUPLICATE_HEADER: &str = "x-garita-duplicate";
/// What a CONNECT is told the gateway takes instead.
const TUNNEL_REFUSED_ALLOW: std::borrow::Cow<'static, str> =
    std::borrow::Cow::Borrowed("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");

/// What the proxy wants of garita's own log: to spot the request heads Pingora refuses
/// ([`refused::spot`]), and to leave out Pingora's reports of connections garita closed
/// for a slow head ([`connection::is_own_timeout`]).
pub fn log_taps() -> crate::observe::process_log::Taps {
    crate::observe::process_log::Taps {
        spot: refused::spot,
        leave_out: connection::is_own_timeout,
    }
}

pub struct GaritaProxy {
    serving: Arc<reload::Serving>,
    metrics: Arc<Metrics>,
    log: Arc<DecisionLog>,
}

/// What one request learned on its way through the phases.
pub struct RequestCtx {
    /// The config and runtime this request is served under from start to end, whatever a
    /// reload swaps in meanwhile.
    served: Arc<Served>,
    request_id: RequestId,
    started: Instant,
    route: RouteName,
    /// The route's policy, once the route is known.
    policy: Option<PolicyId>,
    client: Option<ClientIp>,
    country: Option<CountryCode>,
    decision: Option<Decision>,
    /// Identity facts and their keyed hashes, read once for the rules and the log.
    facts: Option<(IdentityFacts, KeyHashes)>,
    /// Webhook routes: (profile, outcome) for the metrics.
    webhook: Option<(&'static str, &'static str)>,
    /// Webhook routes: the event claimed for delivery, to settle once the backend answered.
    replay_claim: Option<HeldClaim>,
    /// Webhook routes: a delivered-before event forwarded on purpose.
    duplicate: bool,
    /// Webhook routes: the keyed hash of the verified event's id (hex), for the log.
    event: Option<[u8; 32]>,
    /// A 405's `Allow` header.
    allow: Option<std::borrow::Cow<'static, str>>,
    /// Request headers dropped for a `_` in their names, for the log.
    dropped_headers: Option<String>,
    /// The request asks for an upgrade its route does not allow: forwarded without it.
    strip_upgrade: bool,
    /// Time spent waiting for the body, left out of the decision-latency histogram.
    body_wait: std::time::Duration,
    upstream_status: Option<u16>,
    /// The upstream this request was sent to (the last one, after a retry).
    upstream: Option<Arc<Upstream>>,
    /// When the exchange with the upstream must be over (`upstream.total_timeout_ms`).
    upstream_deadline: Option<Instant>,
    /// Why the upstream did not answer, for the log.
    upstream_error: Option<failure::Failure>,
}

impl GaritaProxy {
    pub fn new(
        serving: Arc<reload::Serving>,
        metrics: Arc<Metrics>,
        log: Arc<DecisionLog>,
    ) -> Self {
        Self {
            serving,
            metrics,
            log,
        }
    }

    /// Gather the connection facts and ask the gate; also returns the policy, once known.
    async fn decide(
        &self,
        session: &Session,
        peer: std::net::IpAddr,
        ctx: &mut RequestCtx,
    ) -> (Decision, Option<PolicyId>) {
        let req = session.req_header();
        ctx.client = Some(ClientIp { addr: peer, peer });
        let target_len = req.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if let Err(reason) =
            framing::check(&req.headers, target_len, ctx.served.config.max_header_bytes)
        {
            return (Decision::deny(reason), None);
        }
        // Pingora has dropped the length from the parsed head; the raw head still has it.
        if req.headers.contains_key(http::header::TRANSFER_ENCODING)
            && session
                .as_http1()
                .is_some_and(|h1| framing::declares_content_length(&h1.get_headers_raw_bytes()))
        {
            return (Decision::deny(Reason::ConflictingFraming), None);
        }
        if req.method == http::Method::CONNECT {
            // Accepted from Pingora only to be refused here, logged and counted: garita
            // tunnels nothing.
            ctx.allow = Some(TUNNEL_REFUSED_ALLOW);
            return (Decision::deny(Reason::MethodNotAllowed), None);
        }
        let resolver = &ctx.served.config.client_ip;
        let values = req
            .headers
            .get_all(resolver.header())
            .iter()
            .map(|v| v.as_bytes());
        let client = match resolver.resolve(peer, values) {
            Ok(client) => client,
            Err(_) => return (Decision::deny(Reason::MalformedForwardedFor), None),
        };
        ctx.client = Some(client);
        let normalized = match path::normalize(req.uri.path()) {
            Ok(p) => p,
            Err(_) => return (Decision::deny(Reason::MalformedPath), None),
        };
        let route = match ctx
            .served
            .config
            .routes
            .select(req.method.as_str(), &normalized)
        {
            Ok(route) => route,
            Err(refused) => {
                // Never a fall-through to a laxer policy: the path is this route's.
                ctx.route = refused.route;
                ctx.allow = Some(refused.allow.into());
                return (Decision::deny(Reason::MethodNotAllowed), None);
            }
        };
        ctx.route = route.name.clone();
        if !route.upgrade && framing::asks_upgrade(&req.headers) {
            // After a 101 the bytes pass uninspected. Where facts or signatures are judged
            // that is refused; elsewhere the request goes on as a plain one.
            let policy = &ctx.served.config.policies[route.policy];
            if policy.identity.is_some() || policy.webhook.is_some() {
                return (Decision::deny(Reason::UpgradeRefused), None);
            }
            ctx.strip_upgrade = true;
        }
        let (facts, decision) = ctx.served.connection(route.policy, client).await;
        ctx.country = facts.country;
        (decision, Some(route.policy))
    }

    /// After the connection rules (already under the policy's mode): a webhook route
    /// verifies the notification, a route with identity rules reads the facts. Neither is
    /// skipped because a shadow policy let the connection through: an unverified webhook
    /// is never forwarded.
    async fn decide_further(
        &self,
        session: &mut Session,
        policy_id: PolicyId,
        decision: Decision,
        ctx: &mut RequestCtx,
    ) -> Decision {
        let served = ctx.served.clone();
        let served = &*served;
        let policy = &served.config.policies[policy_id];
        let decision = decision.in_mode(policy.mode);
        if decision.is_denied() {
            return decision;
        }
        let waited = Instant::now();
        let decided = if let Some(rule) = &policy.webhook {
            webhook::check_notification(session, rule, policy, decision, served, ctx).await
        } else if let Some(rules) = &policy.identity {
            match body::read_facts(session, rules).await {
                Ok(mut facts) => {
                    if let Some(client) = ctx.client {
                        facts.set_client(client.addr);
                    }
                    let hashes = served.hashes(&facts);
                    let decided = served
                        .identity(policy_id, &facts, &hashes, ctx.country, decision)
                        .await;
                    ctx.facts = Some((facts, hashes));
                    decided
                }
                Err(reason) => Decision::deny(reason),
            }
        } else {
            decision
        };
        ctx.body_wait = waited.elapsed();
        decided
    }
}

/// Why a request goes to review: its reasons, then each enforced risk rule that fired
/// with what it added (`large_order=40`).
fn review_reasons(decision: &Decision) -> Vec<String> {
    let mut reasons: Vec<String> = decision.reasons().iter().map(|r| r.detail()).collect();
    if let Some(risk) = decision.risk() {
        reasons.extend(
            risk.fired
                .iter()
                .filter(|f| !f.shadow)
                .map(|f| format!("{}={}", f.rule, f.weight)),
        );
    }
    reasons
}

impl GaritaProxy {
    /// Put a request forwarded for review in the store's queue before it goes on. A store
    /// that does not take it is counted and logged by the store call; the request still
    /// goes to the backend marked, as its policy decided.
    async fn enqueue_review(&self, decision: &Decision, ctx: &RequestCtx) {
        let served = &*ctx.served;
        let policy = ctx
            .policy
            .map_or("", |id| &*served.config.policies[id].name);
        let facts = ctx.facts.as_ref();
        let amount = facts.and_then(|(f, _)| f.amount);
        let reasons = review_reasons(decision);
        let review = Review {
            id: ctx.request_id.to_string(),
            at: served.runtime.now().as_second(),
            route: ctx.route.to_string(),
            policy: policy.to_string(),
            keys: facts.map_or_else(Vec::new, |(_, hashes)| {
                hashes
                    .iter()
                    .map(|(kind, hash)| (kind.as_str().to_string(), hash.to_string()))
                    .collect()
            }),
            amount: amount.map(|a| a.to_string()),
            currency: amount.map(|a| a.currency.as_str().to_string()),
            reasons,
            score: decision.risk().map(|r| r.score),
            resolution: None,
        };
        let _ = served.record_review(&review).await;
    }
}

/// An error once the exchange with the upstream has outlasted `upstream.total_timeout_ms`:
/// a backend that keeps sending its body a little at a time is cut off (the client's
/// connection is closed; a head that completes too late gets 504). Checked when the head
/// is complete and at each piece of body; a silent backend is the read timeout's, and a
/// head sent a byte at a time is bounded only by the read timeout per byte (Pingora reads
/// the head whole).
fn past_deadline(ctx: &RequestCtx) -> Result<()> {
    match ctx.upstream_deadline {
        Some(deadline) if Instant::now() > deadline => Err(Error::explain(
            ErrorType::ReadTimedout,
            "upstream.total_timeout_ms passed",
        )
        .into_up()),
        _ => Ok(()),
    }
}

/// Answer locally. The connection is closed after the answer unless `reusable` says the
/// next request on it can be found: the body was read to its end (or there was none) and
/// the head's framing was not in doubt.
async fn send_local(session: &mut Session, reply: LocalResponse, reusable: bool) -> Result<()> {
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

/// Whether a refusal was about the request's framing (or an upgrade), after which the connection cannot be
/// trusted to carry another request.
fn decision_doubts_framing(decision: Option<&Decision>) -> bool {
    decision.is_some_and(|d| {
        d.reasons().iter().any(|r| {
            matches!(
                r,
                Reason::ConflictingFraming
                    | Reason::UnsupportedTransferCoding
                    | Reason::HeadersTooLarge
                    // What follows a refused upgrade may be another protocol's bytes.
                    | Reason::UpgradeRefused
            )
        })
    })
}

/// A request's id: 128 random bits as 32 hex digits, made without formatting machinery
/// or a heap allocation.
#[derive(Clone, Copy)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn new() -> Self {
        let mut text = [0u8; 32];
        hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut text)
            .expect("32 hex digits for 16 bytes");
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

#[async_trait]
impl ProxyHttp for GaritaProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            served: self.serving.current(),
            request_id: RequestId::new(),
            started: Instant::now(),
            route: RouteName::default_route(),
            policy: None,
            client: None,
            country: None,
            decision: None,
            facts: None,
            webhook: None,
            replay_claim: None,
            duplicate: false,
            event: None,
            allow: None,
            dropped_headers: None,
            strip_upgrade: false,
            body_wait: std::time::Duration::ZERO,
            upstream_status: None,
            upstream: None,
            upstream_deadline: None,
            upstream_error: None,
        }
    }

    async fn early_request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<()> {
        connection::head_received();
        // Unless told, Pingora keeps an HTTP/1.1 connection open between requests for ever.
        if session.get_keepalive().is_some() {
            session.set_keepalive(ctx.served.config.connections.keepalive_timeout_seconds);
        }
        // Requests a client sends before reading the previous answer are served in order,
        // instead of dropped when the connection closes (RFC 9112 section 9.3.2).
        session.set_pipelining_enabled(true);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let Some(peer) = peer else {
            return Error::e_explain(
                ErrorType::InternalError,
                "no peer address on the connection",
            );
        };
        if !ctx.served.config.keep_underscore_headers {
            if let Some((count, names)) = marks::drop_underscore_headers(session.req_header_mut()) {
                self.metrics.headers_dropped.inc_by(count as u64);
                ctx.dropped_headers = Some(names);
            }
        }
        let (decision, policy) = self.decide(session, peer, ctx).await;
        if ctx.strip_upgrade {
            // Without it Pingora never turns the connection into a tunnel.
            session
                .req_header_mut()
                .remove_header(&http::header::UPGRADE);
        }
        ctx.policy = policy;
        let decision = match policy {
            None => decision,
            Some(policy) => self.decide_further(session, policy, decision, ctx).await,
        };
        let took = ctx.started.elapsed().saturating_sub(ctx.body_wait);
        match ctx.served.route_metrics(&ctx.route) {
            Some(route) => route.decision_seconds.observe(took.as_secs_f64()),
            None => self
                .metrics
                .decision_seconds
                .with_label_values(&[&ctx.route])
                .observe(took.as_secs_f64()),
        }
        let reply = response::denial(&decision, &ctx.request_id);
        if decision.verdict() == Verdict::Review {
            self.enqueue_review(&decision, ctx).await;
        }
        ctx.decision = Some(decision);
        if let Some(mut reply) = reply {
            if let Some(allow) = &ctx.allow {
                reply.headers.push(("allow", allow.to_string()));
            }
            // Pipelined requests behind a refused one are still answered, unless the
            // refusal was about where this request ends, or what follows a CONNECT is
            // tunnel bytes.
            let reusable = !decision_doubts_framing(ctx.decision.as_ref())
                && session.req_header().method != http::Method::CONNECT;
            send_local(session, reply, reusable).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        // A request only gets here once allowed; refuse to forward anything undecided, and
        // never open a tunnel.
        if !matches!(&ctx.decision, Some(d) if !d.is_denied())
            || session.req_header().method == http::Method::CONNECT
        {
            return Error::e_explain(
                ErrorType::InternalError,
                "forwarding without an allow decision",
            );
        }
        // A retry goes to another upstream when one is up.
        let tried = ctx.upstream.as_ref().map(|u| u.addr);
        let upstream = self.serving.upstreams().select(tried).ok_or_else(|| {
            Error::new_up(ErrorType::ConnectNoRoute).more_context("no healthy upstream")
        })?;
        let peer = ctx.served.upstream_peer(&upstream);
        ctx.upstream_deadline
            .get_or_insert_with(|| Instant::now() + ctx.served.config.upstream.total_timeout);
        ctx.upstream = Some(upstream);
        Ok(Box::new(peer))
    }

    /// What Pingora's own error log says about a request: the request id, method and path,
    /// never the query string, where identifiers travel.
    fn request_summary(&self, session: &Session, ctx: &Self::CTX) -> String {
        let req = session.req_header();
        format!(
            "request {} {} {}",
            ctx.request_id.as_str(),
            req.method,
            crate::observe::decision_log::loggable_path(req.uri.path())
        )
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut Self::CTX,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Some(upstream) = &ctx.upstream {
            upstream.request_failed(ctx.served.config.upstream.max_fails, "cannot connect");
        }
        // Nothing reached that upstream: try the next one (the buffered body, if any, is
        // replayed whole). Pingora stops after `max_retries`.
        e.set_retry(true);
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        // An absolute-form target (`GET http://shop/x`) goes on in origin form, as NGINX
        // sends it: the route was chosen by its path, and some backends read only that.
        if !upstream_request.raw_path().starts_with(b"/") {
            if let Some(origin) = upstream_request.uri.path_and_query().cloned() {
                upstream_request.set_uri(http::Uri::from(origin));
            }
        }
        // Garita has answered the expectation and holds the whole body; the backend gets
        // it at once and has nothing to agree to.
        if session.response_written().is_some_and(|r| r.status == 100) {
            upstream_request.remove_header(&http::header::EXPECT);
        }
        if let Some(client) = ctx.client {
            use std::fmt::Write;
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
            let _ = write!(chain, "{}", client.peer);
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
        if ctx.duplicate {
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

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        ctx.upstream_status = Some(upstream_response.status.as_u16());
        if let Some(upstream) = &ctx.upstream {
            upstream.request_answered();
        }
        account::settle_claim(ctx).await;
        past_deadline(ctx)
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        past_deadline(ctx).map(|()| None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut Self::CTX,
    ) -> FailToProxy
    where
        Self::CTX: Send + Sync,
    {
        let failure = failure::Failure::of(e);
        let (code, reason) = (failure.status(), failure.code());
        if failure.is_upstream() {
            ctx.upstream_error = Some(failure);
            if let Some(upstream) = &ctx.upstream {
                if failure == failure::Failure::UpstreamTimeout {
                    upstream.request_failed(ctx.served.config.upstream.max_fails, "timed out");
                }
            }
        }
        if code > 0 && session.response_written().is_none() {
            let reply = response::json_error(code, reason, &ctx.request_id);
            if let Err(write_error) = send_local(session, reply, false).await {
                log::debug!("could not send the error response: {write_error}");
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut Self::CTX) {
        connection::request_finished();
        account::account(self, session, error, ctx).await;
    }
}
