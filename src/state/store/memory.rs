//! The in-process store: the [`Engine`] behind one lock, so that a plan is carried out
//! atomically.
//!
//! State is lost on restart and not shared between instances; the embedded store (one
//! node, kept on disk) and Redis (several instances) replace it behind the same trait.

use super::codes::{CodeEvent, CodeLedger, PaymentCode, Settled};
use super::engine::Engine;
use super::outbox::OutboxEvent;
use super::queue::{ReviewPage, ReviewQuery};
use super::review::{Changed, Resolution, Resolved, Review, ReviewChange};
use super::{Block, Held, Store, StoreAnswer, StoreError, StorePlan};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryStore {
    engine: Mutex<Engine>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Engine>, StoreError> {
        super::lock(&self.engine)
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreError> {
        Ok(self.lock()?.execute(plan))
    }

    async fn settle(
        &self,
        key: &str,
        delivered_until: Option<i64>,
        _now: i64,
    ) -> Result<(), StoreError> {
        self.lock()?.settle(key, delivered_until);
        Ok(())
    }

    async fn purge_expired(&self, now: i64) -> Result<(), StoreError> {
        self.lock()?.purge_expired(now);
        Ok(())
    }

    async fn size(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.len())
    }

    async fn add_review(&self, review: &Review) -> Result<(), StoreError> {
        self.lock()?.add_review(review);
        Ok(())
    }

    async fn reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError> {
        Ok(self.lock()?.reviews(pending))
    }

    async fn review(&self, id: &str) -> Result<Option<Review>, StoreError> {
        Ok(self.lock()?.review(id))
    }

    async fn review_page(&self, query: &ReviewQuery, now: i64) -> Result<ReviewPage, StoreError> {
        Ok(self.lock()?.review_page(query, now))
    }

    async fn change_review(
        &self,
        id: &str,
        change: &ReviewChange,
        now: i64,
    ) -> Result<Changed, StoreError> {
        Ok(self.lock()?.change_review(id, change, now))
    }

    async fn resolve_review(
        &self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> Result<Resolved, StoreError> {
        Ok(self.lock()?.resolve_review(id, resolution, notify).resolved)
    }

    async fn outbox_take(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        Ok(self.lock()?.outbox_take(now, lease_until, limit))
    }

    async fn outbox_settle(&self, event: &OutboxEvent, delivered: bool) -> Result<(), StoreError> {
        self.lock()?.outbox_settle(event, delivered);
        Ok(())
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.outbox_len() as u64)
    }

    async fn block(&self, block: &Block) -> Result<bool, StoreError> {
        Ok(self.lock()?.block(block))
    }

    async fn unblock(&self, fact: &str, hash: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()?
            .unblock(&crate::core::plan::block_key(fact, hash)))
    }

    async fn blocks(&self) -> Result<Vec<Block>, StoreError> {
        Ok(self.lock()?.blocks())
    }

    async fn inspect(&self, prefixes: &[String]) -> Result<Vec<Held>, StoreError> {
        Ok(self.lock()?.inspect(prefixes))
    }

    async fn reset_counters(&self, prefixes: &[String]) -> Result<Vec<String>, StoreError> {
        Ok(self.lock()?.reset_counters(prefixes))
    }

    async fn record_code(&self, code: &PaymentCode) -> Result<bool, StoreError> {
        Ok(self.lock()?.record_code(code))
    }

    async fn settle_code(
        &self,
        code: &str,
        event: CodeEvent,
        at: i64,
    ) -> Result<Settled, StoreError> {
        Ok(self.lock()?.settle_code(code, event, at))
    }

    async fn code(&self, code: &str) -> Result<Option<CodeLedger>, StoreError> {
        Ok(self.lock()?.code(code))
    }

    async fn open_codes(&self, _now: i64) -> Result<u64, StoreError> {
        Ok(self.lock()?.open_codes())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::{Acquired, BindOp, Binding, Claim, ClaimOp, Counter};

    fn acquire(store: &MemoryStore, counters: &[Counter], now: i64) -> Acquired {
        let plan = StorePlan {
            now,
            counters: counters.to_vec(),
            ..StorePlan::default()
        };
        store.lock().unwrap().execute(&plan).counters.unwrap()
    }

    fn claim(store: &MemoryStore, key: &str, hold_until: i64, now: i64) -> Claim {
        let plan = StorePlan {
            now,
            claim: Some(ClaimOp {
                key: key.into(),
                hold_until,
            }),
            ..StorePlan::default()
        };
        store.lock().unwrap().execute(&plan).claim.unwrap()
    }

    fn bind(
        store: &MemoryStore,
        key: &str,
        member: &str,
        max: u64,
        expires_at: Option<i64>,
        now: i64,
    ) -> Binding {
        let plan = StorePlan {
            now,
            bindings: vec![BindOp {
                key: key.into(),
                member: member.into(),
                max,
                expires_at,
                enforced: true,
            }],
            ..StorePlan::default()
        };
        store.lock().unwrap().execute(&plan).bindings[0]
    }

    fn counter(key: &str, limit: u64, enforced: bool) -> Counter {
        Counter {
            key: key.into(),
            limit,
            expires_at: 1000,
            enforced,
            add: 1,
        }
    }

    #[test]
    fn exactly_the_limit_is_granted_and_refusals_count_nothing() {
        let store = MemoryStore::new();
        let day = counter("day", 3, true);
        let hour = counter("hour", 2, true);
        let both = [day.clone(), hour.clone()];
        assert_eq!(acquire(&store, &both, 0), Acquired::Granted(vec![1, 1]));
        assert_eq!(acquire(&store, &both, 0), Acquired::Granted(vec![2, 2]));
        assert_eq!(acquire(&store, &both, 0), Acquired::Refused { index: 1 });
        // The refusal did not use up the daily quota.
        assert_eq!(
            acquire(&store, std::slice::from_ref(&day), 0),
            Acquired::Granted(vec![3])
        );
        assert_eq!(acquire(&store, &[day], 0), Acquired::Refused { index: 0 });
    }

    #[test]
    fn counters_restart_after_their_window() {
        let store = MemoryStore::new();
        let c = counter("k", 1, true);
        assert!(matches!(
            acquire(&store, std::slice::from_ref(&c), 999),
            Acquired::Granted(_)
        ));
        assert_eq!(
            acquire(&store, std::slice::from_ref(&c), 999),
            Acquired::Refused { index: 0 }
        );
        let next = Counter {
            expires_at: 2000,
            ..c
        };
        assert_eq!(acquire(&store, &[next], 1000), Acquired::Granted(vec![1]));
        store.lock().unwrap().purge_expired(5000);
        assert_eq!(store.lock().unwrap().len(), 0);
    }

    #[test]
    fn sums_add_amounts_and_reads_create_nothing() {
        let store = MemoryStore::new();
        let today = Counter::tally("s:today".into(), 12_050, 1000);
        let yesterday = Counter::tally("s:yesterday".into(), 0, 1000);
        let plan = [today.clone(), yesterday.clone()];
        assert_eq!(
            acquire(&store, &plan, 0),
            Acquired::Granted(vec![12_050, 0])
        );
        assert_eq!(
            acquire(&store, &plan, 0),
            Acquired::Granted(vec![24_100, 0])
        );
        assert_eq!(
            store.lock().unwrap().len(),
            1,
            "the read window was not created"
        );
        // A quota that would go past its limit refuses the whole plan: no amount is added.
        let full = Counter {
            add: 1,
            ..counter("q", 0, true)
        };
        assert_eq!(
            acquire(&store, &[today.clone(), full], 0),
            Acquired::Refused { index: 1 }
        );
        assert_eq!(
            acquire(&store, &[yesterday, today], 0),
            Acquired::Granted(vec![0, 36_150])
        );
    }

    #[test]
    fn review_counters_count_past_their_limit() {
        let store = MemoryStore::new();
        let soft = counter("soft", 1, false);
        for expected in 1..=3 {
            assert_eq!(
                acquire(&store, std::slice::from_ref(&soft), 0),
                Acquired::Granted(vec![expected])
            );
        }
    }

    #[test]
    fn an_event_is_seen_once_delivered_and_retried_if_not() {
        let store = MemoryStore::new();
        assert_eq!(claim(&store, "evt", 60, 0), Claim::New);
        assert_eq!(claim(&store, "evt", 60, 1), Claim::InFlight);
        // The backend failed: the retry goes through.
        store.lock().unwrap().settle("evt", None);
        assert_eq!(claim(&store, "evt", 62, 2), Claim::New);
        store.lock().unwrap().settle("evt", Some(1000));
        assert_eq!(claim(&store, "evt", 63, 3), Claim::Done);
        assert_eq!(claim(&store, "evt", 1060, 1000), Claim::New);
        // An abandoned claim lapses.
        assert_eq!(claim(&store, "lost", 10, 0), Claim::New);
        assert_eq!(claim(&store, "lost", 20, 11), Claim::New);
    }

    #[test]
    fn bindings_hold_at_most_max_members() {
        let store = MemoryStore::new();
        for (i, account) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(
                bind(&store, "dni", account, 3, None, 0),
                Binding::Within {
                    members: i as u64 + 1
                }
            );
        }
        assert_eq!(
            bind(&store, "dni", "a", 3, None, 0),
            Binding::Within { members: 3 }
        );
        assert_eq!(
            bind(&store, "dni", "d", 3, None, 0),
            Binding::Exceeded { members: 3 }
        );
        // Members that expire make room.
        bind(&store, "dni2", "x", 1, Some(10), 0);
        assert!(matches!(
            bind(&store, "dni2", "y", 1, Some(20), 5),
            Binding::Exceeded { .. }
        ));
        assert!(matches!(
            bind(&store, "dni2", "y", 1, Some(30), 11),
            Binding::Within { .. }
        ));
    }
}

#[cfg(test)]
mod plans {
    use super::*;
    use crate::state::store::{Acquired, BindOp, Binding, Counter};

    fn op(key: &str, member: &str, enforced: bool) -> BindOp {
        BindOp {
            key: key.into(),
            member: member.into(),
            max: 1,
            expires_at: None,
            enforced,
        }
    }

    fn quota(limit: u64) -> Counter {
        Counter {
            key: "q".into(),
            limit,
            expires_at: 1000,
            enforced: true,
            add: 1,
        }
    }

    #[test]
    fn an_exceeded_enforced_binding_stops_the_plan_before_the_counters() {
        let store = MemoryStore::new();
        let plan = |member: &str| StorePlan {
            now: 0,
            bindings: vec![op("dni", member, true), op("email", member, true)],
            counters: vec![quota(5)],
            ..StorePlan::default()
        };
        let first = store.lock().unwrap().execute(&plan("a"));
        assert_eq!(first.counters, Some(Acquired::Granted(vec![1])));
        let stopped = store.lock().unwrap().execute(&plan("b"));
        assert_eq!(stopped.bindings, vec![Binding::Exceeded { members: 1 }]);
        assert_eq!(stopped.counters, None);
        // Nothing was counted and the second binding was not touched.
        let again = store.lock().unwrap().execute(&plan("a"));
        assert_eq!(again.counters, Some(Acquired::Granted(vec![2])));
    }

    #[test]
    fn a_review_binding_is_reported_and_the_plan_goes_on() {
        let store = MemoryStore::new();
        let plan = |member: &str| StorePlan {
            now: 0,
            bindings: vec![op("dni", member, false)],
            counters: vec![quota(5)],
            ..StorePlan::default()
        };
        store.lock().unwrap().execute(&plan("a"));
        let answer = store.lock().unwrap().execute(&plan("b"));
        assert_eq!(answer.bindings, vec![Binding::Exceeded { members: 1 }]);
        assert_eq!(answer.counters, Some(Acquired::Granted(vec![2])));
    }
}
