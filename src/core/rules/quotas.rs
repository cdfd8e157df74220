//! Per-identity limits: an in-process burst `rate` and calendar quotas (`per_hour`,
//! `per_day`) on one fact.
//!
//! Burst limits are asked at planning time (in process, per instance). Quotas become
//! counters in the store plan, one per quota, in the window of the shop's calendar that
//! `now` falls in: a day rolls over at local midnight. The store counts all or nothing, so
//! with a quota of N exactly N requests pass.

use super::rate::{BurstLimiter, LimiterKey, RateOutcome, RateScope, RateSpec};
use crate::core::calendar::{Calendar, Period};
use crate::core::decision::{Action, Decision, RateLimitState, Reason};
use crate::core::identity::key_list::KeyHashes;
use crate::core::plan::{Acquired, Counter, GcraOp, Rate};
use crate::core::request::facts::KeyKind;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub period: Period,
    pub limit: u64,
}

#[derive(Debug)]
pub struct KeyLimit {
    pub kind: KeyKind,
    pub burst: Option<RateSpec>,
    pub quotas: Vec<Quota>,
    pub action: Action,
}

/// What a burst limit found: nothing, a review, or a denial.
pub(super) enum BurstFinding {
    Review(Reason),
    Deny(Decision),
}

/// Ask each limit's local burst limiter (the runtime's, by the limit's index) about this
/// request's key. Shared rates are planned by [`shared_rates`] instead.
pub(super) fn bursts<'l>(
    limits: &[KeyLimit],
    policy: &str,
    hashes: &KeyHashes,
    limiter: impl Fn(usize) -> Option<&'l dyn BurstLimiter>,
) -> Vec<BurstFinding> {
    let mut findings = Vec::new();
    for (index, limit) in limits.iter().enumerate() {
        if limit
            .burst
            .is_some_and(|spec| spec.scope == RateScope::Shared)
        {
            continue;
        }
        let (Some(burst), Some(h)) = (limiter(index), hashes.get(limit.kind)) else {
            continue;
        };
        let key = LimiterKey::Identity(u128::from_str_radix(h, 16).unwrap_or(0));
        if let RateOutcome::Limited { retry_after } = burst.check_key(key) {
            let reason = Reason::KeyRateLimited(limit.kind);
            if limit.action == Action::Review {
                findings.push(BurstFinding::Review(reason));
                continue;
            }
            let spec = burst.spec();
            findings.push(BurstFinding::Deny(Decision::deny_limited(
                reason,
                RateLimitState {
                    policy: Arc::from(format!("{policy}-{}", limit.kind.as_str())),
                    burst: spec.burst.get(),
                    window_seconds: spec.window_seconds(),
                    retry_after,
                },
            )));
            return findings;
        }
    }
    findings
}

/// What a planned shared rate stands for, to explain the store's answer.
pub(super) struct RateMeta {
    kind: KeyKind,
    spec: RateSpec,
    action: Action,
}

/// The shared-rate operations (`scope = "shared"`) one request asks the store for.
pub(super) fn shared_rates(
    limits: &[KeyLimit],
    policy: &str,
    hashes: &KeyHashes,
    now_ms: i64,
) -> (Vec<GcraOp>, Vec<RateMeta>) {
    let mut ops = Vec::new();
    let mut meta = Vec::new();
    for limit in limits {
        let Some(spec) = limit.burst.filter(|s| s.scope == RateScope::Shared) else {
            continue;
        };
        let Some(h) = hashes.get(limit.kind) else {
            continue;
        };
        let key = ["r:", policy, ":", limit.kind.as_str(), ":", h].concat();
        ops.push(spec.gcra(key, now_ms, limit.action == Action::Deny));
        meta.push(RateMeta {
            kind: limit.kind,
            spec,
            action: limit.action,
        });
    }
    (ops, meta)
}

/// Turn the store's answers to shared rates into a denial or review reasons; `Err` with
/// the denial when an enforced rate is over.
pub(super) fn conclude_rates(
    decision: &mut Decision,
    answers: &[Rate],
    meta: &[RateMeta],
    policy: &str,
) -> Result<(), Decision> {
    for (answer, m) in answers.iter().zip(meta) {
        let Rate::Limited { retry_after_ms } = answer else {
            continue;
        };
        let reason = Reason::KeyRateLimited(m.kind);
        if m.action == Action::Review {
            decision.review(reason);
            continue;
        }
        return Err(Decision::deny_limited(
            reason,
            RateLimitState {
                policy: Arc::from(format!("{policy}-{}", m.kind.as_str())),
                burst: m.spec.burst.get(),
                window_seconds: m.spec.window_seconds(),
                retry_after: Duration::from_millis(*retry_after_ms),
            },
        ));
    }
    Ok(())
}

/// What a counter stands for, to explain the store's answer.
pub(super) struct CounterMeta {
    kind: KeyKind,
    period: Period,
    ends_at: i64,
}

/// The quota counters one request asks the store for.
pub(super) fn plan(
    limits: &[KeyLimit],
    policy: &str,
    hashes: &KeyHashes,
    now: Timestamp,
    calendar: &Calendar,
) -> (Vec<Counter>, Vec<CounterMeta>) {
    let mut counters = Vec::new();
    let mut meta = Vec::new();
    // Every quota of one period shares the window: find it in the calendar once.
    let (mut day, mut hour) = (None, None);
    for limit in limits {
        let Some(h) = hashes.get(limit.kind) else {
            continue;
        };
        for quota in &limit.quotas {
            let slot = match quota.period {
                Period::Day => &mut day,
                Period::Hour => &mut hour,
            };
            let window = slot.get_or_insert_with(|| calendar.window(quota.period, now));
            counters.push(Counter {
                // `q:POLICY:KIND:HASH:PERIOD:WINDOW`, sized once (no formatting machinery
                // per counter per request).
                key: [
                    "q:",
                    policy,
                    ":",
                    limit.kind.as_str(),
                    ":",
                    h,
                    ":",
                    quota.period.as_str(),
                    ":",
                    &window.id,
                ]
                .concat(),
                limit: quota.limit,
                // A minute's grace so clocks a little apart agree on the window.
                expires_at: window.ends_at.as_second() + 60,
                enforced: limit.action == Action::Deny,
                add: 1,
            });
            meta.push(CounterMeta {
                kind: limit.kind,
                period: quota.period,
                ends_at: window.ends_at.as_second(),
            });
        }
    }
    (counters, meta)
}

/// Turn the store's count into a denial (a full enforced quota) or review reasons
/// (review quotas counted past their limit).
pub(super) fn conclude(
    mut decision: Decision,
    acquired: &Acquired,
    counters: &[Counter],
    meta: &[CounterMeta],
    policy: &str,
    now: i64,
) -> Decision {
    match acquired {
        Acquired::Refused { index } => {
            let (counter, m) = (&counters[*index], &meta[*index]);
            let wait = (m.ends_at - now).max(1) as u64;
            Decision::deny_limited(
                Reason::QuotaExceeded(m.kind, m.period),
                RateLimitState {
                    policy: Arc::from(format!(
                        "{policy}-{}-{}",
                        m.kind.as_str(),
                        m.period.as_str()
                    )),
                    burst: u32::try_from(counter.limit).unwrap_or(u32::MAX),
                    window_seconds: match m.period {
                        Period::Hour => 3600,
                        Period::Day => 86_400,
                    },
                    retry_after: Duration::from_secs(wait),
                },
            )
        }
        Acquired::Granted(counts) => {
            for ((counter, count), m) in counters.iter().zip(counts).zip(meta) {
                if !counter.enforced && *count > counter.limit {
                    decision.review(Reason::QuotaExceeded(m.kind, m.period));
                }
            }
            decision
        }
    }
}
