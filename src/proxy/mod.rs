//! The Pingora glue: the `ProxyHttp` hooks of one request, each short, and the files that
//! do their jobs.
//!
//! It holds no policy of its own. `request_filter` drops the headers nothing may read
//! ([`marks`]), has [`decide`] gather the facts (client address, normalised path, route,
//! country) and run the rules, reading the body where it must (buffered, so Pingora
//! replays it to the backend byte for byte: [`webhook`] verifies a notification and claims
//! it against replays, [`body`] reads a payment's facts), and then either answers itself
//! ([`response`]: denied, the backend sees nothing, not even headers) or lets Pingora
//! forward the request as it came, with the headers [`marks`] writes. What a request
//! learned lives in its [`ctx`]; an upstream that fails is a typed [`failure`]. `logging`
//! ([`account`]) writes the decision-log line and the metrics once per request, whatever
//! happened.

mod account;
pub mod admin;
mod body;
mod codes;
pub mod connection;
pub mod console;
mod ctx;
mod decide;
mod evidence;
mod failure;
pub mod health_check;
mod housekeeping;
mod limited_http;
pub mod listeners;
mod marks;
mod outbox;
pub mod refused;
pub mod reload;
pub mod response;
pub mod served;
pub mod server;
mod shadow;
pub mod tls;
mod webhook;

use crate::core::decision::Verdict;
use crate::observe::decision_log::DecisionLog;
use crate::observe::metrics::Metrics;
use async_trait::async_trait;
use bytes::Bytes;
pub use ctx::RequestCtx;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::time::Instant;

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
}

#[async_trait]
impl ProxyHttp for GaritaProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx::new(self.serving.current())
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
            let reusable = !decide::decision_doubts_framing(ctx.decision.as_ref())
                && session.req_header().method != http::Method::CONNECT;
            response::send_local(session, reply, reusable).await?;
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
        let tried = ctx.upstream.chosen.as_ref().map(|u| u.addr);
        let upstream = self.serving.upstreams().select(tried).ok_or_else(|| {
            Error::new_up(ErrorType::ConnectNoRoute).more_context("no healthy upstream")
        })?;
        let peer = ctx.served.upstream_peer(&upstream);
        ctx.upstream
            .deadline
            .get_or_insert_with(|| Instant::now() + ctx.served.config.upstream.total_timeout);
        ctx.upstream.chosen = Some(upstream);
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
        if let Some(upstream) = &ctx.upstream.chosen {
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
        marks::mark_forwarded(upstream_request, ctx)
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        ctx.upstream.status = Some(upstream_response.status.as_u16());
        codes::on_answer_head(ctx, upstream_response);
        evidence::on_answer_head(ctx, upstream_response);
        if let Some(upstream) = &ctx.upstream.chosen {
            upstream.request_answered();
        }
        account::settle_claim(ctx).await;
        ctx.upstream.past_deadline()
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        evidence::on_request_body(ctx, body);
        Ok(())
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        codes::on_answer_body(ctx, body);
        evidence::on_answer_body(ctx, body);
        ctx.upstream.past_deadline().map(|()| None)
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
            ctx.upstream.error = Some(failure);
            if let Some(upstream) = &ctx.upstream.chosen {
                if failure == failure::Failure::UpstreamTimeout {
                    upstream.request_failed(ctx.served.config.upstream.max_fails, "timed out");
                }
            }
        }
        if code > 0 && session.response_written().is_none() {
            let reply = response::json_error(code, reason, &ctx.request_id);
            if let Err(write_error) = response::send_local(session, reply, false).await {
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
        codes::account(self, ctx, error.is_none()).await;
        evidence::account(session, ctx);
    }
}
