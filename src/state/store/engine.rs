//! The store's engine: counters, bindings, replay records, shared rates, the review
//! queue and the block list in plain maps, and the one implementation of how a plan is
//! carried out (the order and the all-or-nothing rules of `core::plan`).
//!
//! It does no locking and no I/O: the memory store holds it behind one lock, and the
//! embedded store does the same and writes what changed to its file. Redis carries plans
//! out with the same rules in its own script (`redis/plan.lua`); `tests/stores.rs` holds
//! all three to one table of cases. Expired entries are dropped by `purge_expired`, which
//! housekeeping calls; bindings kept "forever" grow with the number of distinct
//! identities seen.

use super::codes::{CodeBook, CodeEvent, CodeLedger, PaymentCode, Settled};
use super::outbox::{OutboxBook, OutboxEvent};
use super::queue::{ReviewPage, ReviewQuery};
use super::review::{Changed, Resolution, Resolved, Review, ReviewChange};
use super::review_book::ReviewBook;
use super::{
    Acquired, BindOp, Binding, Block, BlockNote, Claim, ClaimOp, Counter, Held, Rate, StoreAnswer,
    StorePlan,
};
use std::collections::HashMap;

/// Keys that expired and were dropped.
#[derive(Debug, Default)]
pub(super) struct Forgotten {
    pub counters: Vec<String>,
    pub bindings: Vec<String>,
    pub replays: Vec<String>,
    pub reviews: Vec<String>,
    pub codes: Vec<String>,
}

impl Forgotten {
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.bindings.is_empty()
            && self.replays.is_empty()
            && self.reviews.is_empty()
            && self.codes.is_empty()
    }
}

/// What resolving a review did: the answer, the keys it blocked and the event it owes the
/// shop (for the embedded store to write down with it).
pub(super) struct ResolvedNow {
    pub resolved: Resolved,
    pub blocked: Vec<Block>,
    pub event: Option<OutboxEvent>,
}

/// Everything a store holds, in memory.
#[derive(Default)]
pub(super) struct Engine {
    /// key -> (count, expiry)
    counters: HashMap<String, (u64, i64)>,
    /// key -> member -> expiry (None: forever)
    bindings: HashMap<String, HashMap<String, Option<i64>>>,
    /// webhook event key -> (delivered, expiry)
    replays: HashMap<String, (bool, i64)>,
    /// shared rate key -> theoretical arrival time, milliseconds
    rates: HashMap<String, i64>,
    /// the review records, in time order
    reviews: ReviewBook,
    /// events owed to the shop
    outbox: OutboxBook,
    /// blocked identity keys (`blk:{fact}:{hash}`) -> when, by whom, why
    blocks: HashMap<String, BlockNote>,
    /// payment codes the backend created, and what settled them
    codes: CodeBook,
}

impl Engine {
    /// Carry out a plan: bindings (stopping at an exceeded enforced one), then counters,
    /// then the claim.
    pub(super) fn execute(&mut self, plan: &StorePlan) -> StoreAnswer {
        let mut answer = StoreAnswer::default();
        // Most stores block nobody: then no key text is made at all.
        if !self.blocks.is_empty() {
            if let Some(index) = plan
                .blocks
                .iter()
                .position(|k| self.blocks.contains_key(&k.key()))
            {
                answer.blocked = Some(index);
                return answer;
            }
        }
        for op in &plan.rates {
            let rate = op.decide(self.rates.get(&op.key).copied());
            answer.rates.push(rate);
            match rate {
                Rate::Allowed { tat_ms } => {
                    self.rates.insert(op.key.clone(), tat_ms);
                }
                Rate::Limited { .. } if op.enforced => return answer,
                Rate::Limited { .. } => {}
            }
        }
        for op in &plan.bindings {
            let bound = self.bind(op, plan.now);
            answer.bindings.push(bound);
            if op.enforced && matches!(bound, Binding::Exceeded { .. }) {
                return answer;
            }
        }
        if !plan.counters.is_empty() {
            answer.counters = Some(self.acquire(&plan.counters, plan.now));
        }
        answer.claim = plan.claim.as_ref().map(|op| self.claim(op, plan.now));
        answer
    }

    pub(super) fn settle(&mut self, key: &str, delivered_until: Option<i64>) {
        match delivered_until {
            Some(until) => {
                self.replays.insert(key.to_string(), (true, until));
            }
            None => {
                self.replays.remove(key);
            }
        }
    }

    pub(super) fn purge_expired(&mut self, now: i64) {
        self.purge_expired_keys(now);
    }

    /// Drop what expired by `now`, and say which keys went (for the embedded store's file).
    pub(super) fn purge_expired_keys(&mut self, now: i64) -> Forgotten {
        let mut gone = Forgotten::default();
        // A rate whose arrival time has passed is a full bucket: nothing to remember.
        self.rates
            .retain(|_, tat_ms| *tat_ms > now.saturating_mul(1000));
        self.replays.retain(|k, (_, expires)| {
            let keep = *expires > now;
            if !keep {
                gone.replays.push(k.clone());
            }
            keep
        });
        self.counters.retain(|k, (_, expires)| {
            let keep = *expires > now;
            if !keep {
                gone.counters.push(k.clone());
            }
            keep
        });
        self.bindings.retain(|k, set| {
            set.retain(|_, expiry| expiry.is_none_or(|e| e > now));
            if set.is_empty() {
                gone.bindings.push(k.clone());
            }
            !set.is_empty()
        });
        gone.reviews = self.reviews.purge(now);
        gone.codes = self.codes.purge(now);
        gone
    }

    /// Keep a new payment code; `false` when it is known already.
    pub(super) fn record_code(&mut self, code: &PaymentCode) -> bool {
        self.codes.record(code)
    }

    /// Settle a code with `event` at `at`, once per event.
    pub(super) fn settle_code(&mut self, code: &str, event: CodeEvent, at: i64) -> Settled {
        self.codes.settle(code, event, at)
    }

    pub(super) fn code(&self, code: &str) -> Option<CodeLedger> {
        self.codes.get(code).cloned()
    }

    pub(super) fn restore_code(&mut self, ledger: CodeLedger) {
        self.codes.restore(ledger);
    }

    /// Codes neither paid nor expired.
    pub(super) fn open_codes(&self) -> u64 {
        self.codes.open()
    }

    pub(super) fn add_review(&mut self, review: &Review) {
        self.reviews.insert(review);
    }

    /// The records held, oldest first (only the unresolved ones when `pending`).
    pub(super) fn reviews(&self, pending: bool) -> Vec<Review> {
        self.reviews.list(pending)
    }

    pub(super) fn review(&self, id: &str) -> Option<Review> {
        self.reviews.get(id).cloned()
    }

    pub(super) fn review_page(&self, query: &ReviewQuery, now: i64) -> ReviewPage {
        self.reviews.page(query, now)
    }

    /// Claim, release, escalate or note a review.
    pub(super) fn change_review(&mut self, id: &str, change: &ReviewChange, now: i64) -> Changed {
        self.reviews.change(id, change, now)
    }

    /// Resolve a review; a fraud resolution blocks its identity keys. Returns what was
    /// done and the keys newly blocked.
    pub(super) fn resolve_review(
        &mut self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> ResolvedNow {
        let (resolved, blocked) = self.reviews.resolve(id, resolution);
        for block in &blocked {
            self.block(block);
        }
        let event = match (&resolved, notify) {
            (Resolved::Now(review), true) => OutboxEvent::resolved(review),
            _ => None,
        };
        if let Some(event) = &event {
            self.outbox.put(event.clone());
        }
        ResolvedNow {
            resolved,
            blocked,
            event,
        }
    }

    /// The outbox's events due by `now`, leased until `lease_until`.
    pub(super) fn outbox_take(
        &mut self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Vec<OutboxEvent> {
        self.outbox.take(now, lease_until, limit)
    }

    /// `false` if the event was not held.
    pub(super) fn outbox_settle(&mut self, event: &OutboxEvent, delivered: bool) -> bool {
        self.outbox.settle(event, delivered)
    }

    pub(super) fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// An event read back from the file at start.
    pub(super) fn restore_event(&mut self, event: OutboxEvent) {
        self.outbox.put(event);
    }

    pub(super) fn restore_block(&mut self, key: &str, note: BlockNote) {
        self.blocks.insert(key.to_string(), note);
    }

    /// Block a key; `false` (and the note left alone) if it was blocked already.
    pub(super) fn block(&mut self, block: &Block) -> bool {
        match self.blocks.entry(block.key()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(block.note.clone());
                true
            }
        }
    }

    pub(super) fn unblock(&mut self, key: &str) -> bool {
        self.blocks.remove(key).is_some()
    }

    pub(super) fn blocks(&self) -> Vec<Block> {
        let mut out: Vec<Block> = self
            .blocks
            .iter()
            .filter_map(|(key, note)| Block::from_key(key, note.clone()))
            .collect();
        super::sort_blocks(&mut out);
        out
    }

    /// What is held under any of `prefixes`, by kind and then key.
    /// Drop the counters and shared rates under any of `prefixes`; the keys dropped.
    pub(super) fn reset_counters(&mut self, prefixes: &[String]) -> Vec<String> {
        let wanted = |key: &str| prefixes.iter().any(|p| key.starts_with(p.as_str()));
        let mut gone: Vec<String> = self
            .counters
            .keys()
            .chain(self.rates.keys())
            .filter(|k| wanted(k))
            .cloned()
            .collect();
        for key in &gone {
            self.counters.remove(key);
            self.rates.remove(key);
        }
        gone.sort();
        gone
    }

    pub(super) fn inspect(&self, prefixes: &[String]) -> Vec<Held> {
        let wanted = |key: &str| prefixes.iter().any(|p| key.starts_with(p.as_str()));
        let mut held = Vec::new();
        for (key, (count, expires)) in &self.counters {
            if wanted(key) {
                held.push(Held::Counter {
                    key: key.clone(),
                    count: *count,
                    expires: *expires,
                });
            }
        }
        for (key, members) in &self.bindings {
            if wanted(key) {
                let mut members: Vec<_> = members.iter().map(|(m, e)| (m.clone(), *e)).collect();
                members.sort();
                held.push(Held::Binding {
                    key: key.clone(),
                    members,
                });
            }
        }
        for (key, (delivered, expires)) in &self.replays {
            if wanted(key) {
                held.push(Held::Replay {
                    key: key.clone(),
                    delivered: *delivered,
                    expires: *expires,
                });
            }
        }
        for (key, tat_ms) in &self.rates {
            if wanted(key) {
                held.push(Held::Rate {
                    key: key.clone(),
                    tat_ms: *tat_ms,
                });
            }
        }
        for (key, note) in &self.blocks {
            if wanted(key) {
                held.push(Held::Blocked {
                    key: key.clone(),
                    note: note.clone(),
                });
            }
        }
        held.sort_by(|a, b| a.key().cmp(b.key()));
        held
    }

    pub(super) fn counter(&self, key: &str) -> Option<(u64, i64)> {
        self.counters.get(key).copied()
    }

    pub(super) fn members(&self, set: &str) -> Vec<(String, Option<i64>)> {
        self.bindings
            .get(set)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    pub(super) fn replay(&self, key: &str) -> Option<(bool, i64)> {
        self.replays.get(key).copied()
    }

    pub(super) fn restore_counter(&mut self, key: &str, count: u64, expires: i64) {
        self.counters.insert(key.to_string(), (count, expires));
    }

    pub(super) fn restore_member(&mut self, set: &str, member: &str, expires: Option<i64>) {
        self.bindings
            .entry(set.to_string())
            .or_default()
            .insert(member.to_string(), expires);
    }

    pub(super) fn restore_replay(&mut self, key: &str, delivered: bool, expires: i64) {
        self.replays.insert(key.to_string(), (delivered, expires));
    }

    pub(super) fn len(&self) -> u64 {
        (self.counters.len()
            + self.bindings.len()
            + self.replays.len()
            + self.reviews.len()
            + self.blocks.len()
            + self.codes.len()) as u64
    }

    fn acquire(&mut self, counters: &[Counter], now: i64) -> Acquired {
        let map = &mut self.counters;
        let current = |map: &HashMap<String, (u64, i64)>, c: &Counter| match map.get(&c.key) {
            Some((count, expires)) if *expires > now => *count,
            _ => 0,
        };
        if let Some(index) = counters
            .iter()
            .position(|c| c.enforced && current(map, c).saturating_add(c.add) > c.limit)
        {
            return Acquired::Refused { index };
        }
        let mut counts = Vec::with_capacity(counters.len());
        for c in counters {
            if c.add == 0 {
                counts.push(current(map, c));
                continue;
            }
            let entry = map.entry(c.key.clone()).or_insert((0, c.expires_at));
            if entry.1 <= now {
                *entry = (0, c.expires_at);
            }
            entry.0 = entry.0.saturating_add(c.add);
            counts.push(entry.0);
        }
        Acquired::Granted(counts)
    }

    fn bind(&mut self, op: &BindOp, now: i64) -> Binding {
        let set = self.bindings.entry(op.key.clone()).or_default();
        set.retain(|_, expiry| expiry.is_none_or(|e| e > now));
        let known = set.contains_key(&op.member);
        let others = set.len() as u64 - u64::from(known);
        if !known && others >= op.max {
            return Binding::Exceeded { members: others };
        }
        set.insert(op.member.clone(), op.expires_at);
        Binding::Within {
            members: set.len() as u64,
        }
    }

    fn claim(&mut self, op: &ClaimOp, now: i64) -> Claim {
        match self.replays.get(&op.key) {
            Some((true, expires)) if *expires > now => Claim::Done,
            Some((false, expires)) if *expires > now => Claim::InFlight,
            _ => {
                self.replays.insert(op.key.clone(), (false, op.hold_until));
                Claim::New
            }
        }
    }
}
