//! What the core asks of the store for one request, and what the store answers.
//!
//! The core never calls the store. Rules that need state build one [`StorePlan`] (the
//! identities to look up in the block list, the bindings to record, the counters to
//! acquire or add to, the webhook event to claim); the glue
//! has the store carry out the whole plan in one call, which the store makes atomic (one
//! lock, one transaction or one script); the core turns the [`StoreAnswer`] into the
//! decision. Keys arriving in a plan are already keyed hashes, never identifiers in clear.
//! Times are Unix seconds, UTC.
//!
//! How a store carries out a plan:
//! 1. Blocked identities: the first of the request's keys that a fraud resolution put on
//!    the store's block list stops the plan there; nothing is counted.
//! 2. Shared rates (GCRA), in order. An enforced one that is over its rate stops the plan
//!    there and counts nothing further.
//! 3. Bindings, in order. A binding that would exceed its set stops the plan there when it
//!    is enforced: neither later bindings nor any counter are touched, so a request denied
//!    by a binding uses up no quota. A review binding that is exceeded is reported and the
//!    plan goes on. A binding records its member even when a later rule denies the request
//!    (the attempt did happen).
//! 4. Counters, all or nothing: if an enforced counter would go past its limit, nothing is
//!    counted (so a request denied by its hourly quota does not use up its daily one, and
//!    with a quota of N exactly N requests pass); otherwise every counter gets its `add`.
//!    Quotas add 1; amount sums add the amount in minor units; a window that is only read
//!    (an earlier day of a trailing mean) adds 0 and is not created.
//! 5. The claim on a webhook event: new, in flight, or delivered before.
//!
//! Every rule family that needs the store has the same shape: it returns a [`Step`],
//! decided at once or asking with a plan that implements [`Conclude`], and the glue runs
//! any of them the same way (carry out [`Conclude::store_plan`], hand the answer to
//! [`Conclude::conclude`]). When the store fails, [`OnStoreError::without_store`] is the one
//! rule for what a policy does about it.

use crate::core::decision::{Decision, Reason};
use crate::core::request::facts::KeyKind;

/// A rule family's first step: decided without the store, or a plan to carry out first.
pub enum Step<P: Conclude> {
    Decided(P::Outcome),
    Ask(P),
}

impl<P: Conclude> std::fmt::Debug for Step<P>
where
    P: std::fmt::Debug,
    P::Outcome: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Decided(outcome) => f.debug_tuple("Decided").field(outcome).finish(),
            Step::Ask(plan) => f.debug_tuple("Ask").field(plan).finish(),
        }
    }
}

/// A decision waiting for the store: what to ask it, and what to make of its answer.
pub trait Conclude {
    /// What the family decides: a [`Decision`], or more (a webhook's verdict).
    type Outcome;
    /// What to ask the store, in one call.
    fn store_plan(&self) -> &StorePlan;
    /// The outcome given the store's answer, or its failure (then the policy's
    /// [`OnStoreError`]).
    fn conclude(self, answer: Result<StoreAnswer, StoreFailure>) -> Self::Outcome;
}

impl<P: Conclude> Conclude for Box<P> {
    type Outcome = P::Outcome;
    fn store_plan(&self) -> &StorePlan {
        (**self).store_plan()
    }
    fn conclude(self, answer: Result<StoreAnswer, StoreFailure>) -> Self::Outcome {
        (*self).conclude(answer)
    }
}

impl<P: Conclude> Step<P> {
    /// The outcome, asking `store` when the step needs it (the replay and the benchmarks,
    /// which carry plans out without waiting; the proxy awaits its store instead).
    pub fn run_with(
        self,
        store: impl FnOnce(&StorePlan) -> Result<StoreAnswer, StoreFailure>,
    ) -> P::Outcome {
        match self {
            Step::Decided(outcome) => outcome,
            Step::Ask(plan) => {
                let answer = store(plan.store_plan());
                plan.conclude(answer)
            }
        }
    }
}

/// What a policy does with a request when the store does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// Refuse it (503, `store_unavailable`): its quotas, bindings or replay check could not
    /// be kept.
    Closed,
    /// Let it through without the store's rules, counted and logged loudly.
    Open,
}

/// A request whose plan the store could not carry out, under [`OnStoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithoutStore {
    /// Failing closed: refused with `store_unavailable` (even in shadow mode: the
    /// policy's limits could not be kept).
    Refused(Decision),
    /// Failing open: what was decided without the store, `store_unavailable` noted for
    /// the log and the metrics.
    Unprotected(Decision),
}

impl OnStoreError {
    /// The one rule for a failed store, applied to what was decided without it.
    pub fn without_store(self, mut decided: Decision) -> WithoutStore {
        match self {
            OnStoreError::Closed => WithoutStore::Refused(Decision::deny(Reason::StoreUnavailable)),
            OnStoreError::Open => {
                decided.note(Reason::StoreUnavailable);
                WithoutStore::Unprotected(decided)
            }
        }
    }
}

/// One counter a request counts against (a quota), adds to (an amount sum) or reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub limit: u64,
    /// When the counter may be forgotten; set when the counter is made, not moved after.
    pub expires_at: i64,
    /// Enforced counters must stay within their limit after adding for any counter to be
    /// added to; the others are counted regardless and only reported (review rules).
    pub enforced: bool,
    /// What this request adds: 1 for a quota, an amount for a sum, 0 to only read.
    pub add: u64,
}

impl Counter {
    /// A counter this request adds `add` to and never refuses on (risk rules').
    pub fn tally(key: String, add: u64, expires_at: i64) -> Self {
        Self {
            key,
            limit: u64::MAX,
            expires_at,
            enforced: false,
            add,
        }
    }
}

/// Bind `member` to the set at `key` unless it already holds `max` other live members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindOp {
    pub key: String,
    pub member: String,
    pub max: u64,
    /// The member's binding lasts until then (refreshed each time it is seen); `None` is
    /// forever.
    pub expires_at: Option<i64>,
    /// An exceeded enforced binding stops the plan.
    pub enforced: bool,
}

/// Count one request against a shared rate (GCRA): `burst` at once, then one every
/// `interval_ms`. The state is the key's theoretical arrival time, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcraOp {
    pub key: String,
    pub interval_ms: u64,
    pub burst: u32,
    /// The arrival time; a store shared by several instances may use a clock of its own
    /// instead, so that they agree.
    pub now_ms: i64,
    /// An enforced rate that is over stops the plan.
    pub enforced: bool,
}

impl GcraOp {
    /// Given the key's stored arrival time, whether one more fits, and the arrival time to
    /// store if it does (or how long until it would).
    pub fn decide(&self, stored_tat_ms: Option<i64>) -> Rate {
        let interval = self.interval_ms as i64;
        let tat = stored_tat_ms.unwrap_or(self.now_ms).max(self.now_ms);
        let next = tat + interval;
        let allowance = interval * i64::from(self.burst);
        if next - self.now_ms > allowance {
            Rate::Limited {
                retry_after_ms: (next - self.now_ms - allowance) as u64,
            }
        } else {
            Rate::Allowed { tat_ms: next }
        }
    }
}

/// A shared rate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Counted; the key's new arrival time (it may be forgotten once it has passed).
    Allowed { tat_ms: i64 },
    /// Over the rate: nothing counted; one more fits after this long.
    Limited { retry_after_ms: u64 },
}

/// The store key of a blocked identity: every policy looks it up.
pub fn block_key(kind: &str, hash: &str) -> String {
    format!("blk:{kind}:{hash}")
}

/// An identity a plan looks up in the store's block list: its fact and keyed hash (32 hex
/// digits), kept inline; a store makes the key text only if it has blocks to look in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedKey {
    pub fact: KeyKind,
    pub hash: [u8; 32],
}

impl BlockedKey {
    pub fn new(fact: KeyKind, hash: &str) -> Option<Self> {
        Some(Self {
            fact,
            hash: hash.as_bytes().try_into().ok()?,
        })
    }

    /// `blk:{fact}:{hash}`.
    pub fn key(&self) -> String {
        block_key(
            self.fact.as_str(),
            std::str::from_utf8(&self.hash).unwrap_or(""),
        )
    }
}

/// Claim a webhook event for delivery, held until `hold_until` unless settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOp {
    pub key: String,
    pub hold_until: i64,
}

/// Everything one request asks of the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorePlan {
    pub now: i64,
    /// Identities to look up in the store's block list, in order.
    pub blocks: Vec<BlockedKey>,
    pub rates: Vec<GcraOp>,
    pub bindings: Vec<BindOp>,
    pub counters: Vec<Counter>,
    pub claim: Option<ClaimOp>,
}

impl StorePlan {
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.rates.is_empty()
            && self.bindings.is_empty()
            && self.counters.is_empty()
            && self.claim.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Every counter was added to; the values after adding, in order.
    Granted(Vec<u64>),
    /// Nothing was incremented: the counter at `index` is full.
    Refused { index: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The member is (now) bound; `members` counts the set including it.
    Within { members: u64 },
    /// The set already holds `max` other members; this one was not added.
    Exceeded { members: u64 },
}

/// What the store knew of a webhook event when it was claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First sight: the caller now holds it and must settle it.
    New,
    /// Another copy is being delivered right now.
    InFlight,
    /// Delivered before.
    Done,
}

/// The store's answer to a plan, in the plan's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreAnswer {
    /// The index of the first key found on the block list; then nothing else was done.
    pub blocked: Option<usize>,
    /// One per shared rate carried out; shorter than the plan's when an enforced rate
    /// stopped it (and then nothing else was carried out).
    pub rates: Vec<Rate>,
    /// One per binding carried out; shorter than the plan's when an enforced binding
    /// stopped it.
    pub bindings: Vec<Binding>,
    /// `None` when the plan had no counters or was stopped before them.
    pub counters: Option<Acquired>,
    pub claim: Option<Claim>,
}

/// The store could not carry out the plan (down, timed out, corrupt): all the core needs
/// to know. The glue logs and counts the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFailure;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_lets_the_burst_through_then_one_per_interval() {
        let op = |now_ms| GcraOp {
            key: "r".into(),
            interval_ms: 1000,
            burst: 3,
            now_ms,
            enforced: true,
        };
        let mut tat = None;
        for _ in 0..3 {
            match op(0).decide(tat) {
                Rate::Allowed { tat_ms } => tat = Some(tat_ms),
                other => panic!("the burst is let through: {other:?}"),
            }
        }
        assert_eq!(
            op(0).decide(tat),
            Rate::Limited {
                retry_after_ms: 1000
            }
        );
        assert_eq!(
            op(400).decide(tat),
            Rate::Limited {
                retry_after_ms: 600
            }
        );
        assert_eq!(op(1000).decide(tat), Rate::Allowed { tat_ms: 4000 });
        // Long idle: the bucket is full again, not more than full.
        assert_eq!(op(60_000).decide(tat), Rate::Allowed { tat_ms: 61_000 });
    }
}
