//! The decision sequence of one request, in the glue: the connection facts and the route,
//! then what the route's policy reads further (a webhook's notification, a payment's
//! facts), and for a request forwarded for review its place in the store's queue.
//!
//! The rules themselves are the core's; this file gathers what they need from the session
//! in the order the design gives, and stops at the first refusal.

use super::{body, webhook, GaritaProxy, RequestCtx};
use crate::core::decision::{Decision, Reason};
use crate::core::policy::PolicyId;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::{framing, path};
use crate::state::store::review::FiredRule;
use crate::state::store::Review;
use pingora::proxy::Session;
use std::time::Instant;

/// What a CONNECT is told the gateway takes instead.
const TUNNEL_REFUSED_ALLOW: std::borrow::Cow<'static, str> =
    std::borrow::Cow::Borrowed("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");

impl GaritaProxy {
    /// Gather the connection facts and ask the gate; also returns the policy, once known.
    pub(super) async fn decide(
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
    pub(super) async fn decide_further(
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
                Ok((mut facts, bytes)) => {
                    if rules.body_kind.is_some() {
                        super::evidence::keep_read_body(ctx, bytes);
                    }
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

    /// Put a request forwarded for review in the store's queue before it goes on. A store
    /// that does not take it is counted and logged by the store call; the request still
    /// goes to the backend marked, as its policy decided.
    pub(super) async fn enqueue_review(&self, decision: &Decision, ctx: &RequestCtx) {
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
            order: facts.and_then(|(f, _)| f.order.clone()),
            reasons,
            score: decision.risk().map(|r| r.score),
            fired: decision.risk().map_or_else(Vec::new, |risk| {
                risk.fired
                    .iter()
                    .filter(|f| !f.shadow)
                    .map(|f| FiredRule {
                        rule: f.rule.to_string(),
                        weight: f.weight,
                        seen: f.seen,
                    })
                    .collect()
            }),
            client_country: ctx.country.map(|c| c.as_str().to_string()),
            billing_country: facts
                .and_then(|(f, _)| f.billing_country)
                .map(|c| c.as_str().to_string()),
            hints: match (ctx.policy, facts) {
                (Some(id), Some((f, _))) => served.config.policies[id]
                    .review_hints
                    .iter()
                    .filter_map(|kind| {
                        let hint = crate::core::identity::hint::hint(*kind, &f.key(*kind)?)?;
                        Some((kind.as_str().to_string(), hint))
                    })
                    .collect(),
                _ => Vec::new(),
            },
            ..Review::default()
        };
        let _ = served.record_review(&review).await;
    }
}

/// Why a request goes to review: its reasons, then each enforced risk rule that fired
/// with what it added (`large_order=40`).
pub(super) fn review_reasons(decision: &Decision) -> Vec<String> {
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

/// Whether a refusal was about the request's framing (or an upgrade), after which the connection cannot be
/// trusted to carry another request.
pub(super) fn decision_doubts_framing(decision: Option<&Decision>) -> bool {
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
