//! Identity rules: what a payment route does with who is paying, planned and concluded.
//!
//! In order, stopping at the first denial: problems with the facts themselves (a missing
//! or malformed document, an email that is not one), key block lists ([`super::lists`]),
//! per-key burst limits ([`super::quotas`], in process), bindings ([`super::bindings`])
//! and calendar quotas ([`super::quotas`]). Each rule either denies or marks the request
//! for review; review reasons accumulate and the request is forwarded marked. Last, the
//! risk rules ([`super::risk`]) add up to a score that may review or deny it.
//!
//! The rules that need the store do not call it. [`plan`] either decides at once or
//! returns an [`IdentityPlan`] holding one [`StorePlan`] (bindings, then counters); the glue
//! has the store carry it out in one call and hands the answer to the plan's
//! [`Conclude`]. The policy's mode is applied to whatever comes out: a shadow
//! policy forwards and records what it would have done, keeping the sterner of this record
//! and any the connection rules left.
//!
//! What it approximates: burst limits are per instance; a binding records an association
//! even when a later rule denies the request (the attempt did happen); quotas count only
//! requests that pass every enforced quota.

use super::bindings::{self, BindingRule};
use super::lists::{self, KeyBlock};
use super::quotas::{self, BurstFinding, CounterMeta, KeyLimit, RateMeta};
use super::rate::BurstLimiter;
use super::risk::score::{RiskPlan, RiskRules};
use super::risk::{Buckets, RiskContext};
use crate::core::calendar::Calendar;
use crate::core::decision::{Action, Decision, Mode, Reason, Verdict};
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::plan::{
    Acquired, BlockedKey, Conclude, OnStoreError, StoreAnswer, StoreFailure, StorePlan,
    WithoutStore,
};
use crate::core::request::body::BodyKind;
use crate::core::request::facts::{FactProblem, FactSelectors, IdentityFacts, KeyKind};
use jiff::Timestamp;
use std::time::Duration;

/// What a problem with a fact does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnProblem {
    Reject,
    Review,
    Ignore,
}

/// A policy's identity rules, compiled.
#[derive(Debug)]
pub struct IdentityRules {
    pub selectors: FactSelectors,
    pub body_kind: Option<BodyKind>,
    pub max_body: usize,
    pub body_timeout: Duration,
    pub on_missing_document: OnProblem,
    pub on_invalid_document: OnProblem,
    pub on_invalid_fact: OnProblem,
    pub blocks: Vec<KeyBlock>,
    pub block_action: Action,
    pub limits: Vec<KeyLimit>,
    pub bindings: Vec<BindingRule>,
    pub risk: Option<RiskRules>,
    /// Count each identity key's orders per local day for the reviewer ([`super::history`]).
    pub order_history: bool,
}

/// Where the rules are applied: the policy's name, mode and failure mode, the time, the
/// shop's calendar, and the client address's country.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub policy: &'a str,
    pub mode: Mode,
    pub on_store_error: OnStoreError,
    pub now: Timestamp,
    pub calendar: &'a Calendar,
    pub country: Option<CountryCode>,
}

/// Either the decision, or what to ask the store before deciding.
pub type Step<'r> = crate::core::plan::Step<Box<IdentityPlan<'r>>>;

/// A decision waiting for the store's answer.
#[derive(Debug)]
pub struct IdentityPlan<'r> {
    rules: &'r IdentityRules,
    decision: Decision,
    mode: Mode,
    on_store_error: OnStoreError,
    earlier_shadow: Option<Verdict>,
    policy: String,
    store: StorePlan,
    rate_meta: Vec<RateMeta>,
    binding_rules: Vec<BindingMeta>,
    counter_meta: Vec<CounterMeta>,
    /// The risk rules' judgements; their counters follow the quotas' in the plan.
    risk: Option<RiskPlan>,
}

/// The reason and action of one planned binding.
#[derive(Debug, Clone, Copy)]
struct BindingMeta {
    reason: Reason,
    action: Action,
}

impl std::fmt::Debug for CounterMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CounterMeta")
    }
}

impl std::fmt::Debug for RateMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateMeta")
    }
}

/// Apply the policy's mode, keeping the sterner shadow record.
fn finish(decision: Decision, mode: Mode, earlier_shadow: Option<Verdict>) -> Decision {
    let mut decision = decision.in_mode(mode);
    decision.keep_sterner_shadow(earlier_shadow);
    decision
}

/// Review marks the decision and carries on; deny replaces it.
fn flag(decision: &mut Decision, reason: Reason, action: Action) -> Option<Decision> {
    match action {
        Action::Deny => Some(Decision::deny(reason)),
        Action::Review => {
            decision.review(reason);
            None
        }
    }
}

/// Apply the rules to `facts` on top of the connection-level `decision` (already under the
/// policy's mode). `burst` gives the runtime's limiter of each of `rules.limits` that has
/// a rate, by index.
pub fn plan<'r, 'l>(
    rules: &'r IdentityRules,
    setting: Setting<'_>,
    facts: &IdentityFacts,
    hashes: &KeyHashes,
    mut decision: Decision,
    burst: impl Fn(usize) -> Option<&'l dyn BurstLimiter>,
) -> Step<'r> {
    let (mode, earlier) = (setting.mode, decision.shadow());
    let done = |d: Decision| Step::Decided(finish(d, mode, earlier));
    if decision.is_denied() {
        return done(decision);
    }
    for problem in &facts.problems {
        let on = match problem {
            FactProblem::MissingDocument => rules.on_missing_document,
            FactProblem::InvalidDocument(_) => rules.on_invalid_document,
            _ => rules.on_invalid_fact,
        };
        let action = match on {
            OnProblem::Reject => Action::Deny,
            OnProblem::Review => Action::Review,
            OnProblem::Ignore => continue,
        };
        if let Some(denied) = flag(&mut decision, Reason::BadFact(*problem), action) {
            return done(denied);
        }
    }
    for kind in lists::listed(&rules.blocks, facts, hashes) {
        if let Some(denied) = flag(&mut decision, Reason::KeyBlocked(kind), rules.block_action) {
            return done(denied);
        }
    }
    for finding in quotas::bursts(&rules.limits, setting.policy, hashes, burst) {
        match finding {
            BurstFinding::Review(reason) => decision.review(reason),
            BurstFinding::Deny(denied) => return done(denied),
        }
    }
    let now = setting.now.as_second();
    // Identities a fraud resolution blocked are looked up in the store first.
    let blocks: Vec<BlockedKey> = KeyKind::ALL
        .into_iter()
        .filter(|k| *k != KeyKind::Ip)
        .filter_map(|k| hashes.get(k).and_then(|h| BlockedKey::new(k, h)))
        .collect();
    let (rate_ops, rate_meta) = quotas::shared_rates(
        &rules.limits,
        setting.policy,
        hashes,
        setting.now.as_millisecond(),
    );
    let (bind_ops, behind) = bindings::plan(&rules.bindings, setting.policy, hashes, now);
    let (mut counters, counter_meta) = quotas::plan(
        &rules.limits,
        setting.policy,
        hashes,
        setting.now,
        setting.calendar,
    );
    let risk = rules.risk.as_ref().map(|risk| {
        let cx = RiskContext {
            policy: setting.policy,
            facts,
            hashes,
            country: setting.country,
            now: setting.now,
            calendar: setting.calendar,
        };
        let mut buckets = Buckets::default();
        let plan = risk.plan(&cx, &mut buckets);
        counters.extend(buckets.into_counters());
        plan
    });
    // Written after the quotas' and the risk rules' counters, whose indices they keep.
    if rules.order_history {
        super::history::plan(facts, hashes, setting.now, setting.calendar, &mut counters);
    }
    if blocks.is_empty() && rate_ops.is_empty() && bind_ops.is_empty() && counters.is_empty() {
        let decision = match (risk, &rules.risk) {
            (Some(plan), Some(risk)) => plan.conclude(risk, &[], decision),
            _ => decision,
        };
        return done(decision);
    }
    Step::Ask(Box::new(IdentityPlan {
        rules,
        decision,
        mode,
        on_store_error: setting.on_store_error,
        earlier_shadow: earlier,
        policy: setting.policy.to_string(),
        binding_rules: behind
            .iter()
            .map(|r| BindingMeta {
                reason: Reason::BindingExceeded(r.from, r.to),
                action: r.action,
            })
            .collect(),
        rate_meta,
        store: StorePlan {
            now,
            blocks,
            rates: rate_ops,
            bindings: bind_ops,
            counters,
            claim: None,
        },
        counter_meta,
        risk,
    }))
}

impl Conclude for IdentityPlan<'_> {
    type Outcome = Decision;

    /// What to ask the store, in one call.
    fn store_plan(&self) -> &StorePlan {
        &self.store
    }

    /// The decision, given the store's answer. When the store failed, a policy that fails
    /// closed refuses the request (503, even in shadow mode: its limits could not be kept);
    /// one that fails open lets it through on what was decided without the store, with
    /// `store_unavailable` noted for the log and the metrics, its risk rules judged on
    /// what needs no store.
    fn conclude(self, answer: Result<StoreAnswer, StoreFailure>) -> Decision {
        let Self {
            rules,
            mut decision,
            mode,
            on_store_error,
            earlier_shadow,
            policy,
            store,
            rate_meta,
            binding_rules,
            counter_meta,
            risk,
        } = self;
        let done = |d: Decision| finish(d, mode, earlier_shadow);
        let judge = |decision: Decision, counts: &[u64]| match (risk, &rules.risk) {
            (Some(plan), Some(rules)) => plan.conclude(rules, counts, decision),
            _ => decision,
        };
        let Ok(answer) = answer else {
            return done(match on_store_error.without_store(decision) {
                WithoutStore::Refused(refused) => refused,
                WithoutStore::Unprotected(decided) => judge(decided, &[]),
            });
        };
        // A resolution confirmed these as fraud: refused whatever the list action.
        if let Some(blocked) = answer.blocked.and_then(|i| store.blocks.get(i)) {
            return done(Decision::deny(Reason::RuntimeBlocked(blocked.fact)));
        }
        if let Err(denied) =
            quotas::conclude_rates(&mut decision, &answer.rates, &rate_meta, &policy)
        {
            return done(denied);
        }
        let exceeded = answer
            .bindings
            .iter()
            .zip(&binding_rules)
            .filter(|(b, _)| matches!(b, crate::core::plan::Binding::Exceeded { .. }));
        for (_, meta) in exceeded {
            if let Some(denied) = flag(&mut decision, meta.reason, meta.action) {
                return done(denied);
            }
        }
        if let Some(acquired) = &answer.counters {
            decision = quotas::conclude(
                decision,
                acquired,
                &store.counters,
                &counter_meta,
                &policy,
                store.now,
            );
        }
        if decision.is_denied() {
            return done(decision);
        }
        // Risk counters follow the quotas' and are never refused on.
        let counts = match &answer.counters {
            Some(Acquired::Granted(counts)) => counts.get(counter_meta.len()..).unwrap_or(&[]),
            _ => &[],
        };
        done(judge(decision, counts))
    }
}

#[cfg(test)]
mod tests;
