//! Where identity state lives: calendar-quota counters and bindings.
//!
//! One trait, so that the embedded store (one node) and a shared store (several instances
//! behind a load balancer) are interchangeable. Keys arriving here are already keyed hashes,
//! never identifiers in clear. Times are Unix seconds, UTC.
//!
//! [`Store::acquire`] is all-or-nothing: a request subject to several quotas either counts
//! against all of them or against none, so a request denied by its hourly quota does not
//! use up its daily one, and with a quota of N exactly N requests pass.
//!
//! Webhook replay records are claimed before delivery and settled after it
//! ([`Store::claim`], [`Store::settle`]): an event counts as seen only once the backend
//! accepted it, so a delivery that failed does not make the provider's retry look like a
//! replay, and two copies arriving together cannot both go through.

mod memory;

pub use memory::MemoryStore;

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

#[derive(Debug, thiserror::Error)]
#[error("identity store: {0}")]
pub struct StoreError(pub String);

pub trait Store: Send + Sync {
    fn acquire(&self, counters: &[Counter], now: i64) -> Result<Acquired, StoreError>;

    /// Bind `member` to `key` unless the set already holds `max` other live members.
    /// A member's binding lasts until `expires_at` (refreshed each time it is seen), or
    /// forever when `None`.
    fn bind(
        &self,
        key: &str,
        member: &str,
        max: u64,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<Binding, StoreError>;

    /// Claim a webhook event key for delivery, held until `hold_until` unless settled.
    fn claim(&self, key: &str, hold_until: i64, now: i64) -> Result<Claim, StoreError>;

    /// After the backend answered: `Some(until)` remembers the event as delivered until
    /// then; `None` drops the claim, so the provider's retry is let through.
    fn settle(&self, key: &str, delivered_until: Option<i64>, now: i64) -> Result<(), StoreError>;

    /// Forget what has expired.
    fn purge_expired(&self, now: i64);

    /// How many counters and binding sets are held (for metrics).
    fn size(&self) -> usize;
}
