//! Where identity state lives: calendar-quota counters, bindings and webhook replay records.
//!
//! One trait, so that the embedded store (one node) and a shared store (several instances
//! behind a load balancer) are interchangeable. A store carries out a whole
//! [`StorePlan`] (what the core planned for one request) in one call and atomically; the
//! order and the all-or-nothing rules are the plan's (see `core::plan`). Keys arriving
//! here are already keyed hashes, never identifiers in clear. Times are Unix seconds, UTC.
//!
//! Webhook replay records are claimed before delivery (in the plan) and settled after it
//! ([`Store::settle`]): an event counts as seen only once the backend accepted it, so a
//! delivery that failed does not make the provider's retry look like a replay, and two
//! copies arriving together cannot both go through.

mod memory;

pub use crate::core::plan::{
    Acquired, BindOp, Binding, Claim, ClaimOp, Counter, StoreAnswer, StoreFailure, StorePlan,
};
pub use memory::MemoryStore;

#[derive(Debug, thiserror::Error)]
#[error("identity store: {0}")]
pub struct StoreError(pub String);

impl From<StoreError> for StoreFailure {
    fn from(_: StoreError) -> Self {
        StoreFailure
    }
}

pub trait Store: Send + Sync {
    /// Carry out one request's plan, atomically.
    fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreError>;

    /// After the backend answered: `Some(until)` remembers the event as delivered until
    /// then; `None` drops the claim, so the provider's retry is let through.
    fn settle(&self, key: &str, delivered_until: Option<i64>, now: i64) -> Result<(), StoreError>;

    /// Forget what has expired.
    fn purge_expired(&self, now: i64);

    /// How many counters, binding sets and replay records are held (for metrics).
    fn size(&self) -> usize;
}
