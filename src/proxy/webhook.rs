//! A webhook route's phase: source networks, the raw body, the signature, the replay check.
//!
//! Nothing else looks at the body before the signature is verified over its exact bytes.
//! The event is claimed in the store before forwarding and settled when the backend has
//! answered (see [`super::account`]): delivered (2xx) events are remembered for the
//! replay window, failed deliveries are released so the provider's retry goes through.

use super::body::read_body;
use super::RequestCtx;
use crate::core::decision::{Decision, Reason};
use crate::core::rules::identity::IdentityEnv;
use crate::core::webhook::{Notification, OnDuplicate, WebhookRule};
use crate::state::store::Claim;
use pingora::proxy::Session;
use sha2::{Digest, Sha256};

/// How long a claimed event stays claimed if its delivery never settles.
const CLAIM_HOLD_SECONDS: i64 = 120;

/// Metrics outcome of one notification.
pub(super) fn outcome(ctx: &mut RequestCtx, rule: &WebhookRule, outcome: &'static str) {
    ctx.webhook = Some((rule.profile.name(), outcome));
}

pub(super) async fn check_notification(
    session: &mut Session,
    rule: &WebhookRule,
    policy: &str,
    env: &IdentityEnv,
    ctx: &mut RequestCtx,
) -> Decision {
    let client = ctx.client.map(|c| c.addr);
    if let (Some(sources), Some(ip)) = (&rule.sources, client) {
        if !sources.contains(ip) {
            outcome(ctx, rule, "source_not_allowed");
            return Decision::deny(Reason::WebhookSourceNotAllowed);
        }
    }
    let bytes = match read_body(session, rule.max_body, rule.body_timeout).await {
        Ok(bytes) => bytes,
        Err(reason) => {
            outcome(ctx, rule, reason.code());
            return Decision::deny(reason);
        }
    };
    let req = session.req_header();
    let notification = Notification {
        headers: &req.headers,
        query: req.uri.query(),
        body: &bytes,
    };
    let now = env.clock.now().as_second();
    let verified = match rule
        .profile
        .verify(&rule.keys, &notification, now, rule.tolerance)
    {
        Ok(v) => v,
        Err(e) => {
            outcome(ctx, rule, e.code());
            return Decision::deny(Reason::WebhookUnverified(e));
        }
    };
    let Some(event) = rule.replay_key(&verified, &notification) else {
        outcome(ctx, rule, "missing_replay_key");
        return Decision::deny(Reason::MissingReplayKey);
    };
    let key = format!(
        "w:{policy}:{}",
        hex::encode(Sha256::digest(event.as_bytes()))
    );
    match env.store.claim(&key, now + CLAIM_HOLD_SECONDS, now) {
        Ok(Claim::New) => {
            ctx.replay_claim = Some((key, rule.replay_window));
            outcome(ctx, rule, "verified");
            Decision::allow()
        }
        Ok(Claim::InFlight) => {
            outcome(ctx, rule, "in_flight");
            Decision::deny(Reason::NotificationInFlight)
        }
        Ok(Claim::Done) => {
            outcome(ctx, rule, "duplicate");
            match rule.on_duplicate {
                OnDuplicate::Ack => Decision::deny(Reason::DuplicateNotification),
                OnDuplicate::Forward => {
                    ctx.duplicate = true;
                    Decision::allow()
                }
            }
        }
        Err(e) => {
            log::error!("{e}");
            outcome(ctx, rule, "store_unavailable");
            Decision::deny(Reason::StoreUnavailable)
        }
    }
}
