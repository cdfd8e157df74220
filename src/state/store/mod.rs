//! Where identity state lives: calendar-quota counters and amount sums, bindings, webhook
//! replay records, the review queue and the block list that fraud resolutions add to.
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

pub mod blocks;
pub mod codes;
mod embedded;
mod engine;
mod memory;
pub mod outbox;
pub mod queue;
mod redis;
pub mod review;
mod review_book;

pub use crate::core::plan::{
    Acquired, BindOp, Binding, BlockedKey, Claim, ClaimOp, Counter, GcraOp, Rate, StoreAnswer,
    StoreFailure, StorePlan,
};
pub use blocks::{Block, BlockNote};
pub use codes::{CodeEvent, CodeLedger, PaymentCode, Settled};
pub use embedded::{inspect_file, EmbeddedStore};
pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use review::{Resolution, Resolved, Review};

/// Why the store did not answer. The kind is a metric label.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the identity store did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the identity store is unavailable: {0}")]
    Unavailable(String),
    #[error("the identity store holds something it cannot read: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Timeout(_) => "timeout",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "corrupt",
        }
    }
}

/// Lock a store's state; a lock a panic poisoned is reported, not unwrapped.
pub(super) fn lock<T>(
    state: &std::sync::Mutex<T>,
) -> Result<std::sync::MutexGuard<'_, T>, StoreError> {
    state
        .lock()
        .map_err(|_| StoreError::Corrupt("a lock was poisoned by a panic".into()))
}

impl From<StoreError> for StoreFailure {
    fn from(_: StoreError) -> Self {
        StoreFailure
    }
}

/// One thing a store holds, as `garita state inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// A quota counter and when its window (plus a minute's grace) ends.
    Counter {
        key: String,
        count: u64,
        expires: i64,
    },
    /// A binding set: its members (keyed hashes) and when each lapses (`None`: never).
    Binding {
        key: String,
        members: Vec<(String, Option<i64>)>,
    },
    /// A webhook event: delivered, or claimed by a delivery in flight.
    Replay {
        key: String,
        delivered: bool,
        expires: i64,
    },
    /// A shared rate's theoretical arrival time, milliseconds.
    Rate { key: String, tat_ms: i64 },
    /// A key on the block list.
    Blocked { key: String, note: BlockNote },
}

impl Held {
    pub fn key(&self) -> &str {
        match self {
            Held::Counter { key, .. }
            | Held::Binding { key, .. }
            | Held::Replay { key, .. }
            | Held::Rate { key, .. }
            | Held::Blocked { key, .. } => key,
        }
    }
}

/// A store. Every call may wait (on a disk, on a network), so every call is async and
/// none blocks the thread it is awaited on.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// `memory`, `embedded` or `redis`, for `check` and the logs.
    fn backend(&self) -> &'static str;

    /// Carry out one request's plan, atomically.
    async fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreError>;

    /// After the backend answered: `Some(until)` remembers the event as delivered until
    /// then; `None` drops the claim, so the provider's retry is let through. Durable before
    /// it returns, where the store is durable at all.
    async fn settle(
        &self,
        key: &str,
        delivered_until: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Forget what has expired.
    async fn purge_expired(&self, now: i64) -> Result<(), StoreError>;

    /// How many counters, binding sets and replay records are held (for metrics).
    async fn size(&self) -> Result<u64, StoreError>;

    /// Write out whatever is held back (at a graceful stop).
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Write out whatever is held back and let go of the store's files, closed cleanly:
    /// the last call at a graceful stop (it blocks until the writing is done).
    fn close(&self) {}

    /// Add a request forwarded for review to the queue; durable before it returns, where
    /// the store is durable at all.
    async fn add_review(&self, review: &Review) -> Result<(), StoreError>;

    /// The review records held, oldest first; only the unresolved ones when `pending`.
    async fn reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError>;

    /// One review record.
    async fn review(&self, id: &str) -> Result<Option<Review>, StoreError>;

    /// A page of the review queue as it stands at `now` (see [`queue`]).
    async fn review_page(
        &self,
        query: &queue::ReviewQuery,
        now: i64,
    ) -> Result<queue::ReviewPage, StoreError>;

    /// Claim, release, escalate or note an unresolved review, atomically (see
    /// [`review::apply`]); durable before it returns, where the store is durable at all.
    async fn change_review(
        &self,
        id: &str,
        change: &review::ReviewChange,
        now: i64,
    ) -> Result<review::Changed, StoreError>;

    /// Resolve a review. `fraud` puts its identity keys on the block list in the same
    /// step, effective for the next plan; with `notify`, the `review.resolved` event the
    /// shop is owed goes into the outbox in that step too; all durable before it returns.
    async fn resolve_review(
        &self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> Result<Resolved, StoreError>;

    /// Up to `limit` outbox events due by `now`, leased until `lease_until` so that no
    /// other sender takes them meanwhile (see [`outbox`]).
    async fn outbox_take(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<outbox::OutboxEvent>, StoreError>;

    /// After a delivery: forget the event if `delivered`, else keep it as `event` says
    /// (its attempts and when it is due again); durable before it returns.
    async fn outbox_settle(
        &self,
        event: &outbox::OutboxEvent,
        delivered: bool,
    ) -> Result<(), StoreError>;

    /// How many events the outbox holds (for the metrics).
    async fn outbox_len(&self) -> Result<u64, StoreError>;

    /// Put a key on the block list, effective for the next plan, durable before it
    /// returns; `false` if it was there already (its note is left as it was).
    async fn block(&self, block: &Block) -> Result<bool, StoreError>;

    /// Take a key off the block list; `false` if it was not on it.
    async fn unblock(&self, fact: &str, hash: &str) -> Result<bool, StoreError>;

    /// The block list, oldest first.
    async fn blocks(&self) -> Result<Vec<Block>, StoreError>;

    /// What is held under any of `prefixes` (for `GET /admin/keys`).
    async fn inspect(&self, prefixes: &[String]) -> Result<Vec<Held>, StoreError>;

    /// Forget the counters and shared rates under any of `prefixes` (a support action:
    /// one identity's quotas start again); the keys forgotten.
    async fn reset_counters(&self, prefixes: &[String]) -> Result<Vec<String>, StoreError>;

    /// Keep a payment code the backend created (see [`codes`]); `false`, and nothing
    /// changed, when the code is known already. Durable before it returns, where the store
    /// is durable at all.
    async fn record_code(&self, code: &PaymentCode) -> Result<bool, StoreError>;

    /// Keep a code as [`Store::record_code`] does and, only when it is new, add to the
    /// counters of `created` (a plan of unrefusable counters, and nothing else): one call
    /// from the proxy, so that a store across the network may make it one round trip.
    async fn record_code_counted(
        &self,
        code: &PaymentCode,
        created: &StorePlan,
    ) -> Result<bool, StoreError> {
        if !self.record_code(code).await? {
            return Ok(false);
        }
        self.execute(created).await?;
        Ok(true)
    }

    /// Settle a code with a verified notification's `event`, which came at `at`: each event
    /// once per code. Durable before it returns, where the store is durable at all.
    async fn settle_code(
        &self,
        code: &str,
        event: CodeEvent,
        at: i64,
    ) -> Result<Settled, StoreError>;

    /// One code's record and events.
    async fn code(&self, code: &str) -> Result<Option<CodeLedger>, StoreError>;

    /// How many codes held at `now` are neither paid nor expired (for the heartbeat gauge).
    async fn open_codes(&self, now: i64) -> Result<u64, StoreError>;

    /// Whether the store answers at all (for `GET /admin/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Sort a block list oldest first (then by key, for a stable order).
pub(super) fn sort_blocks(blocks: &mut [Block]) {
    blocks.sort_by(|a, b| (a.note.since, &a.fact, &a.hash).cmp(&(b.note.since, &b.fact, &b.hash)));
}
