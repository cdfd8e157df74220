//! Accounting for one finished request: its decision-log line and its metrics.
//!
//! Identity facts are logged as keyed hashes (the same ones the store uses), so a log line
//! can be joined with others of the same DNI without the DNI ever being written; amount
//! and currency are logged as they are.

use super::{GaritaProxy, RequestCtx};
use crate::core::decision::{Decision, Reason, Risk};
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::request::facts::{IdentityFacts, KeyKind};
use crate::observe::decision_log::DecisionLog;
use crate::observe::decision_log::{
    loggable_path, DecisionRecord, LogTime, LoggedFacts, LoggedRule,
};
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
        amount: facts.amount.map(|a| a.to_string()),
        currency: facts.amount.as_ref().map(|a| a.currency.as_str()),
        billing_country: facts.billing_country.as_ref().map(CountryCode::as_str),
        problems: facts.problems.iter().map(|p| p.code()).collect(),
    }
}

/// The decision label, or `error` for a request that never got a decision.
fn decision_label(decision: Option<&Decision>) -> &'static str {
    decision.map_or("error", Decision::label)
}

/// Settle a claimed webhook event: remembered if the backend accepted it, released if not.
/// Called as soon as the backend's status is known, before the provider gets the answer,
/// and again when the request is done (a no-op then, unless no answer ever came).
pub(super) async fn settle_claim(ctx: &mut RequestCtx) {
    let Some(held) = ctx.webhook.claim.take() else {
        return;
    };
    let served = &ctx.served;
    let now = served.runtime.now().as_second();
    let until = held.delivered_until(ctx.upstream.status, now);
    served.settle(&held.key, until, now).await;
}

pub(super) async fn account(
    proxy: &GaritaProxy,
    session: &mut Session,
    error: Option<&Error>,
    ctx: &mut RequestCtx,
) {
    settle_claim(ctx).await;
    if let Some((profile, outcome)) = ctx.webhook.outcome {
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
    let route = ctx.served.route_metrics(&ctx.route);
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
    let answered = ctx.upstream.status.is_some();
    if answered || (error.is_some() && decision.is_some_and(|d| !d.is_denied())) {
        match route {
            Some(route) => route.upstream(ctx.upstream.status).inc(),
            None => proxy
                .metrics
                .upstream_responses
                .with_label_values(&[ctx.route.as_str(), upstream_class(ctx.upstream.status)])
                .inc(),
        }
    }

    let risk = decision.and_then(Decision::risk);
    if let Some(risk) = risk {
        account_risk(proxy, ctx, risk);
    }
    let req = session.req_header();
    let path = loggable_path(req.uri.path());
    let at = proxy.log.now();
    let record = DecisionRecord {
        ts: LogTime::of(at),
        request_id: &ctx.request_id,
        key_id: ctx.served.runtime.hasher.key_id(),
        method: Some(req.method.as_str()),
        path: Some(&path),
        route: &ctx.route,
        client_ip: ctx.client.map(|c| c.addr),
        peer_ip: ctx.client.map(|c| c.peer),
        country: ctx.country.as_ref().map(CountryCode::as_str),
        decision: label,
        reasons: decision.map_or_else(Vec::new, |d| {
            d.reasons().iter().map(|r| r.detail()).collect()
        }),
        facts: ctx.facts.as_ref().map(|(f, h)| logged_facts(f, h)),
        score: risk.map(|r| r.score),
        rules: risk.map_or_else(Vec::new, |r| {
            r.fired
                .iter()
                .map(|f| LoggedRule {
                    rule: &f.rule,
                    weight: f.weight,
                    shadow: f.shadow,
                })
                .collect()
        }),
        status,
        upstream_status: ctx.upstream.status,
        event: ctx
            .webhook
            .event
            .as_ref()
            .and_then(|h| std::str::from_utf8(h).ok()),
        upstream: ctx.upstream.chosen.as_ref().map(|u| u.addr),
        upstream_error: ctx.upstream.error.map(|f| f.code()),
        dropped_headers: ctx.dropped_headers.as_deref(),
        duration_ms: (ctx.started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0,
    };
    proxy.log.write_decision(&record);
    let evidence_line = super::evidence::decision_line(ctx, &record);
    if let Some(shadow) = &ctx.served.shadow {
        let decided_by_rules = ctx
            .policy
            .is_some_and(|id| ctx.served.config.policies[id].webhook.is_none());
        if decided_by_rules {
            shadow.offer(&record, ctx, at, &proxy.log, &proxy.metrics);
        }
    }
    super::evidence::keep_decision(ctx, evidence_line);
}

/// Count the risk rules that fired, and keep the shop-wide anomaly gauges.
fn account_risk(proxy: &GaritaProxy, ctx: &RequestCtx, risk: &Risk) {
    let Some(policy) = ctx.policy.map(|id| &ctx.served.config.policies[id]) else {
        return;
    };
    let risk_metrics = &proxy.metrics.risk;
    for fired in &risk.fired {
        let mode = if fired.shadow { "shadow" } else { "enforce" };
        risk_metrics
            .fired
            .with_label_values(&[&policy.name, &fired.rule, mode])
            .inc();
    }
    let rules = policy.identity.as_ref().and_then(|i| i.risk.as_ref());
    let currency = ctx
        .facts
        .as_ref()
        .and_then(|(f, _)| f.amount)
        .map(|a| a.currency);
    if let (Some(rules), Some(currency)) = (rules, currency) {
        for (index, holds) in &risk.shop_anomalies {
            risk_metrics
                .anomaly
                .with_label_values(&[&policy.name, &rules.rules[*index].name, currency.as_str()])
                .set(i64::from(*holds));
        }
    }
}

/// Account for a request head Pingora refused with 400 before any phase ran: counted and
/// logged as a denial for `malformed_request`, under the route `unparsed`.
pub(super) fn account_refused(metrics: &Metrics, log: &DecisionLog, peer: Option<IpAddr>) {
    let reason = Reason::MalformedRequest;
    metrics
        .requests
        .with_label_values(&[UNPARSED_ROUTE, "deny", reason.code(), ""])
        .inc();
    log.write_decision(&DecisionRecord {
        ts: log.time(),
        request_id: &super::ctx::RequestId::new(),
        // No identity was read: no hash on the line to name a key for.
        key_id: "",
        method: None,
        path: None,
        route: UNPARSED_ROUTE,
        client_ip: peer,
        peer_ip: peer,
        country: None,
        decision: "deny",
        reasons: vec![reason.detail()],
        facts: None,
        score: None,
        rules: Vec::new(),
        status: super::response::status(reason),
        upstream_status: None,
        event: None,
        upstream: None,
        upstream_error: None,
        dropped_headers: None,
        duration_ms: 0.0,
    });
}
