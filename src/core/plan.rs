//! What the core asks of the store for one request, and what the store answers.
//!
//! The core never calls the store. Rules that need state build one [`StorePlan`] (the
//! bindings to record, the quota counters to acquire, the webhook event to claim); the glue
//! has the store carry out the whole plan in one call, which the store makes atomic (one
//! lock, one transaction or one script); the core turns the [`StoreAnswer`] into the
//! decision. Keys arriving in a plan are already keyed hashes, never identifiers in clear.
//! Times are Unix seconds, UTC.
//!
//! How a store carries out a plan:
//! 1. Bindings, in order. A binding that would exceed its set stops the plan there when it
//!    is enforced: neither later bindings nor any counter are touched, so a request denied
//!    by a binding uses up no quota. A review binding that is exceeded is reported and the
//!    plan goes on. A binding records its member even when a later rule denies the request
//!    (the attempt did happen).
//! 2. Counters, all or nothing: if an enforced counter is at its limit, nothing is counted
//!    (so a request denied by its hourly quota does not use up its daily one, and with a
//!    quota of N exactly N requests pass); otherwise every counter is incremented.
//! 3. The claim on a webhook event: new, in flight, or delivered before.

/// One calendar-quota counter a request wants to count against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub limit: u64,
    /// When the counter's window ends and it may be forgotten.
    pub expires_at: i64,
    /// Enforced counters must be below their limit for any counter to be incremented;
    /// the others are counted regardless and only reported (review rules).
    pub enforced: bool,
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
    pub bindings: Vec<BindOp>,
    pub counters: Vec<Counter>,
    pub claim: Option<ClaimOp>,
}

impl StorePlan {
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty() && self.counters.is_empty() && self.claim.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Every counter was incremented; the counts after incrementing, in order.
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
