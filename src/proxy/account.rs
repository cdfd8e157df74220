//! Accounting for one finished request: its decision-log line and its metrics.
//!
//! Identity facts are logged as keyed hashes (the same ones the store uses), so a log line
//! can be joined with others of the same DNI without the DNI ever being written; amount
//! and currency are logged as they are.

use super::{GaritaProxy, RequestCtx};
use crate::core::decision::{Decision, Reason};
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::request::facts::{format_amount, IdentityFacts, KeyKind};
use crate::observe::decision_log::DecisionLog;
use crate::observe::decision_log::{loggable_path, DecisionRecord, LogTime, LoggedFacts};
use crate::observe::metrics::{upstream_class, Metrics};
use pingora::proxy::Session;
use pingora::Error;
use std::net::IpAddr;

/// The route label of requests refused before they had a route.
pub(super) const UNPARSED_ROUTE: &str = "unparsed";

fn logged_facts<'a>(facts: &'a IdentityFacts, hashes: &'a KeyHashes) -> LoggedFacts<'a> {
    let hashed = |kind: KeyKind| hashes.get(kind);
    LoggedFacts {
        document_type: facts.document.as_ref().map(|d| d.kind.as_str()),
        dni: hashed(KeyKind::Dni),
        email: hashed(KeyKind::Email),
        phone: hashed(KeyKind::Phone),
        account: hashed(KeyKind::Account),
        device: hashed(KeyKind::Device),
        amount: facts.amount_minor.map(format_amount),
        currency: facts.currency.as_deref(),
    }
}

/// The decision label: `allow`, `review`, `deny`, or `shadow_deny` / `shadow_review` for
/// what a shadow policy let through.
fn decision_label(decision: Option<&Decision>) -> &'static str {
    match decision {
        None => "error",
        Some(d) => match d.shadow() {
            Some(crate::core::decision::Verdict::Deny) => "shadow_deny",
            Some(crate::core::decision::Verdict::Review) => "shadow_review",
            _ => d.verdict().as_str(),
        },
    }
}

/// Settle a claimed webhook event: remembered if the backend accepted it, released if not.
/// Called as soon as the backend's status is known, before the provider gets the answer,
/// and again when the request is done (a no-op then, unless no answer ever came).
pub(super) async fn settle_claim(proxy: &GaritaProxy, ctx: &mut RequestCtx) {
    let Some(held) = ctx.replay_claim.take() else {
        return;
    };
    let served = &proxy.served;
    let now = served.runtime.now().as_second();
    let until = held.delivered_until(ctx.upstream_status, now);
    served.settle(&held.key, until, now).await;
}

pub(super) async fn account(
    proxy: &GaritaProxy,
    session: &mut Session,
    error: Option<&Error>,
    ctx: &mut RequestCtx,
) {
    settle_claim(proxy, ctx).await;
    if let Some((profile, outcome)) = ctx.webhook {
        proxy
            .metrics
            .webhooks
            .with_label_values(&[profile, outcome])
            .inc();
    }
    let status = session.response_written().map_or(0, |r| r.status.as_u16());
    let decision = ctx.decision.as_ref();
    let label = decision_label(decision);
    let primary = decision.and_then(Decision::primary_reason);
    let fact = primary.and_then(Reason::fact).map_or("", KeyKind::as_str);
    let route = proxy.served.route_metrics(&ctx.route);
    match route {
        Some(route) if label == "allow" && primary.is_none() => route.allowed.inc(),
        _ => proxy
            .metrics
            .requests
            .with_label_values(&[
                &*ctx.route,
                label,
                primary.map_or("none", Reason::code),
                fact,
            ])
            .inc(),
    }
    let answered = ctx.upstream_status.is_some();
    if answered || (error.is_some() && decision.is_some_and(|d| !d.is_denied())) {
        match route {
            Some(route) => route.upstream(ctx.upstream_status).inc(),
            None => proxy
                .metrics
                .upstream_responses
                .with_label_values(&[ctx.route.as_str(), upstream_class(ctx.upstream_status)])
                .inc(),
        }
    }

    let req = session.req_header();
    let record = DecisionRecord {
        ts: LogTime::now(),
        request_id: &ctx.request_id,
        method: Some(req.method.as_str()),
        path: Some(loggable_path(req.uri.path())),
        route: &ctx.route,
        client_ip: ctx.client.map(|c| c.addr),
        peer_ip: ctx.client.map(|c| c.peer),
        country: ctx.country.as_ref().map(CountryCode::as_str),
        decision: label,
        reasons: decision.map_or_else(Vec::new, |d| {
            d.reasons().iter().map(|r| r.detail()).collect()
        }),
        facts: ctx.facts.as_ref().map(|(f, h)| logged_facts(f, h)),
        status,
        upstream_status: ctx.upstream_status,
        duration_ms: (ctx.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0,
    };
    proxy.log.write(&record);
}

/// Account for a request head Pingora refused with 400 before any phase ran: counted and
/// logged as a denial for `malformed_request`, under the route `unparsed`.
pub(super) fn account_refused(metrics: &Metrics, log: &DecisionLog, peer: Option<IpAddr>) {
    let reason = Reason::MalformedRequest;
    metrics
        .requests
        .with_label_values(&[UNPARSED_ROUTE, "deny", reason.code(), ""])
        .inc();
    log.write(&DecisionRecord {
        ts: LogTime::now(),
        request_id: &super::RequestId::new(),
        method: None,
        path: None,
        route: UNPARSED_ROUTE,
        client_ip: peer,
        peer_ip: peer,
        country: None,
        decision: "deny",
        reasons: vec![reason.detail()],
        facts: None,
        status: super::response::status(reason),
        upstream_status: None,
        duration_ms: 0.0,
    });
}
