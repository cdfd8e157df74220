//! A webhook route's phase in the glue: read the raw body, have the core verify it and
//! plan the replay claim, carry the claim out in the store, and let the core conclude.
//!
//! Nothing else looks at the body before the signature is verified over its exact bytes.
//! The claim is settled when the backend has answered (see [`super::account`]).

use super::body::read_body;
use super::served::Served;
use super::RequestCtx;
use crate::core::decision::Decision;
use crate::core::plan::Step;
use crate::core::policy::Policy;
use crate::core::rules::webhook as decide;
use crate::core::webhook::{Notification, WebhookRule};
use pingora::proxy::Session;

/// Metrics outcome of one notification.
fn outcome(ctx: &mut RequestCtx, rule: &WebhookRule, outcome: &'static str) {
    ctx.webhook.outcome = Some((rule.profile.name(), outcome));
}

pub(super) async fn check_notification(
    session: &mut Session,
    rule: &WebhookRule,
    policy: &Policy,
    connection: Decision,
    served: &Served,
    ctx: &mut RequestCtx,
) -> Decision {
    if let Err(refusal) = decide::admit_source(rule, ctx.client.map(|c| c.addr)) {
        outcome(ctx, rule, refusal.outcome);
        return refusal.decision;
    }
    let bytes = match read_body(session, rule.max_body, rule.body_timeout).await {
        Ok(bytes) => bytes,
        Err(reason) => {
            outcome(ctx, rule, reason.code());
            return Decision::deny(reason);
        }
    };
    let req = session.req_header();
    let notification = Notification::new(&req.headers, req.uri.query(), &bytes);
    let now = served.runtime.now().as_second();
    let arrival = decide::Arrival {
        policy: &policy.name,
        on_store_error: policy.on_store_error,
        connection,
    };
    let step = decide::verify(rule, arrival, &notification, now);
    if let Step::Ask(plan) = &step {
        ctx.webhook.event = Some(served.runtime.hasher.hash_event(plan.event()));
    }
    let verified = matches!(step, Step::Ask(_));
    if verified {
        served
            .metrics
            .codes
            .last_verified
            .with_label_values(&[ctx.route.as_str(), rule.profile.name()])
            .set(now);
        if let Some(settles) = &rule.settles {
            let content_type = req
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            ctx.code.settlement = Some(settles.read(content_type, &notification));
        }
    }
    let verdict = served.run(step).await;
    outcome(ctx, rule, verdict.outcome);
    ctx.webhook.claim = verdict.held;
    ctx.webhook.duplicate = verdict.duplicate;
    super::evidence::keep_read_body(ctx, bytes);
    verdict.decision
}
