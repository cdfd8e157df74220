//! Payment codes in the glue: read the code from the backend's answer to a creation
//! request, and settle it when a verified notification about it was delivered.
//!
//! The answer's head says whether its body may hold a code (2xx, not compressed, not
//! longer than `max_response`); its body is copied as it passes, never held back or
//! changed, and read once it is complete. The store is asked only in the logging phase,
//! after the client has the whole answer, and a store that fails costs the code (counted
//! as `store_error`), never the request. A notification is read for its code and event
//! right after its signature verified; it settles the code only once the backend
//! accepted it (2xx), like the replay claim.

use super::{GaritaProxy, RequestCtx};
use crate::core::plan::StorePlan;
use crate::core::rules::code_life::{count, parse_expiry, NoCode, Outcome, Settlement};
use crate::state::store::{PaymentCode, Settled};
use bytes::Bytes;
use pingora::http::ResponseHeader;

/// What a request learned of a payment code.
#[derive(Default)]
pub struct CodeCtx {
    /// The creation answer's body so far, while it may hold a code.
    answer: Option<Vec<u8>>,
    content_type: Option<String>,
    /// Why this answer gives no code.
    skipped: Option<NoCode>,
    /// What a verified notification says of a code.
    pub(super) settlement: Option<Settlement>,
    /// The code this exchange created or settled, for the evidence index.
    pub(super) named: Option<String>,
}

fn capture_of(ctx: &RequestCtx) -> Option<&crate::core::rules::code_life::CodeCapture> {
    let policy = &ctx.served.config.policies[ctx.policy?];
    policy.payment_codes.as_ref()
}

/// The answer's head: whether to copy its body.
pub(super) fn on_answer_head(ctx: &mut RequestCtx, head: &ResponseHeader) {
    let Some(capture) = capture_of(ctx) else {
        return;
    };
    let header = |name| head.headers.get(name).and_then(|v| v.to_str().ok());
    let length = header(http::header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok());
    match capture.admits(
        head.status.as_u16(),
        header(http::header::CONTENT_ENCODING),
        length,
    ) {
        Ok(()) => {
            let max = capture.max_response;
            ctx.code.content_type = header(http::header::CONTENT_TYPE).map(str::to_string);
            ctx.code.answer = Some(Vec::with_capacity(
                length.map_or(1024, |n| n as usize).min(max),
            ));
        }
        Err(why) => ctx.code.skipped = Some(why),
    }
}

/// A piece of the answer's body: copied while it fits.
pub(super) fn on_answer_body(ctx: &mut RequestCtx, body: &Option<Bytes>) {
    if ctx.code.answer.is_none() {
        return;
    }
    let max = capture_of(ctx).map_or(0, |c| c.max_response);
    let (Some(answer), Some(piece)) = (&mut ctx.code.answer, body) else {
        return;
    };
    if answer.len() + piece.len() > max {
        ctx.code.answer = None;
        ctx.code.skipped = Some(NoCode::Oversized);
    } else {
        answer.extend_from_slice(piece);
    }
}

/// In the logging phase: keep the code an answer named, or settle the one a delivered
/// notification named.
pub(super) async fn account(proxy: &GaritaProxy, ctx: &mut RequestCtx, finished: bool) {
    if let Some(settlement) = ctx.code.settlement.take() {
        if let Settlement::Code(code, _) = &settlement {
            ctx.code.named = Some(code.clone());
        }
        let delivered = ctx.upstream.status.is_some_and(|s| (200..300).contains(&s));
        if delivered && !ctx.webhook.duplicate {
            settle(proxy, ctx, settlement).await;
        }
        return;
    }
    if capture_of(ctx).is_none() {
        return;
    }
    let served = ctx.served.clone();
    let Some(capture) = ctx
        .policy
        .and_then(|id| served.config.policies[id].payment_codes.as_ref())
    else {
        return;
    };
    let outcome = match (ctx.code.answer.take(), ctx.code.skipped) {
        (_, Some(why)) => why.as_str(),
        // An answer cut short names nothing for sure.
        (Some(body), None) if finished => {
            match capture.read(ctx.code.content_type.as_deref(), &body) {
                Ok(code) => {
                    ctx.code.named = Some(code.clone());
                    keep(ctx, code).await
                }
                Err(why) => why.as_str(),
            }
        }
        _ => return,
    };
    proxy
        .metrics
        .codes
        .created
        .with_label_values(&[ctx.route.as_str(), outcome])
        .inc();
}

/// Keep a code with the request's identity keys, and count it as created for each.
async fn keep(ctx: &RequestCtx, code: String) -> &'static str {
    let served = &*ctx.served;
    let Some(capture) = capture_of(ctx) else {
        return "missing";
    };
    let now = served.runtime.now();
    let calendar = &served.config.identity.calendar;
    let (facts, hashes) = match &ctx.facts {
        Some((f, h)) => (Some(f), Some(h)),
        None => (None, None),
    };
    let expiry = facts
        .and_then(|f| f.code_expiry.as_deref())
        .and_then(|t| parse_expiry(t, calendar));
    let (expires_at, keep_until) = capture.lifetime(expiry, now);
    let amount = facts.and_then(|f| f.amount);
    let record = PaymentCode {
        code,
        request_id: ctx.request_id.to_string(),
        route: ctx.route.to_string(),
        keys: hashes.map_or_else(Vec::new, |h| {
            h.iter()
                .map(|(kind, hash)| (kind.as_str().to_string(), hash.to_string()))
                .collect()
        }),
        amount: amount.map(|a| a.to_string()),
        currency: amount.map(|a| a.currency.as_str().to_string()),
        order: facts.and_then(|f| f.order.clone()),
        review: ctx
            .decision
            .as_ref()
            .is_some_and(|d| d.verdict() == crate::core::decision::Verdict::Review),
        created_at: now.as_second(),
        expires_at,
        keep_until,
    };
    let keys = record.keys.iter().map(|(f, h)| (f.as_str(), h.as_str()));
    let created = StorePlan {
        now: now.as_second(),
        counters: count(keys, Outcome::Created, now, calendar),
        ..StorePlan::default()
    };
    // The record and its counters in one call (one round trip on Redis).
    let kept = served.runtime.store.record_code_counted(&record, &created);
    match served.code_call(kept).await {
        Ok(false) => "known",
        Ok(true) => "kept",
        Err(_) => "store_error",
    }
}

/// A code's first settlement by an event, for the audit trail: the creation request it
/// labels (never the code itself).
#[derive(serde::Serialize)]
struct SettledEvent<'a> {
    ts: crate::observe::decision_log::LogTime,
    event: &'static str,
    request: &'a str,
    route: &'a str,
    outcome: &'static str,
    created_at: i64,
}

/// Settle the code a delivered notification named, and count its outcome per key.
async fn settle(proxy: &GaritaProxy, ctx: &RequestCtx, settlement: Settlement) {
    let served = &*ctx.served;
    let (event, outcome) = match settlement {
        Settlement::Other => ("none", "not_a_code"),
        Settlement::Code(code, event) => {
            let now = served.runtime.now();
            let settled = served
                .code_call(
                    served
                        .runtime
                        .store
                        .settle_code(&code, event, now.as_second()),
                )
                .await;
            let outcome = match settled {
                Ok(Settled::Unknown) => "unknown_code",
                Ok(Settled::Again(_)) => "repeat",
                Err(_) => "store_error",
                Ok(Settled::First(ledger)) => {
                    // The audit trail's label: what became of the creation request.
                    proxy.log.write(&SettledEvent {
                        ts: proxy.log.time(),
                        event: "code_settled",
                        request: &ledger.record.request_id,
                        route: &ledger.record.route,
                        outcome: event.as_str(),
                        created_at: ledger.record.created_at,
                    });
                    let keys = ledger
                        .record
                        .keys
                        .iter()
                        .map(|(f, h)| (f.as_str(), h.as_str()));
                    let calendar = &served.config.identity.calendar;
                    let plan = StorePlan {
                        now: now.as_second(),
                        counters: count(keys, event.outcome(), now, calendar),
                        ..StorePlan::default()
                    };
                    match served.execute(&plan).await {
                        Ok(_) => "counted",
                        Err(_) => "store_error",
                    }
                }
            };
            (event.as_str(), outcome)
        }
    };
    proxy
        .metrics
        .codes
        .settlements
        .with_label_values(&[event, outcome])
        .inc();
}
