//! The engine's review records, kept in time order three ways: all of them, the open
//! ones (not resolved), which the queue walks by default, and those of each identity key,
//! which a customer's history walks.
//!
//! What a review may become is [`review::apply`] and [`review::resolve`]'s business; this
//! file keeps the records and their order in step with each change.

use super::queue::{self, ReviewPage, ReviewQuery};
use super::review::{self, Changed, Resolution, Resolved, Review, ReviewChange};
use super::Block;
use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
pub(super) struct ReviewBook {
    records: HashMap<String, Review>,
    /// (time, id) of every record.
    all: BTreeSet<(i64, String)>,
    /// (time, id) of the records not resolved.
    open: BTreeSet<(i64, String)>,
    /// (time, id) of the records carrying each identity key (fact, keyed hash).
    by_key: HashMap<(String, String), BTreeSet<(i64, String)>>,
}

impl ReviewBook {
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    /// Keep `review` (replacing a record with its id).
    pub(super) fn insert(&mut self, review: &Review) {
        self.remove(&review.id);
        let place = (review.at, review.id.clone());
        if review.resolution.is_none() {
            self.open.insert(place.clone());
        }
        for key in review.identity_keys() {
            let key = (key.0.to_string(), key.1.to_string());
            self.by_key.entry(key).or_default().insert(place.clone());
        }
        self.all.insert(place);
        self.records.insert(review.id.clone(), review.clone());
    }

    /// Forget record `id` and its places in the indexes.
    fn remove(&mut self, id: &str) {
        let Some(old) = self.records.remove(id) else {
            return;
        };
        let place = (old.at, old.id.clone());
        self.all.remove(&place);
        self.open.remove(&place);
        for (fact, hash) in old.identity_keys() {
            let key = (fact.to_string(), hash.to_string());
            if let Some(places) = self.by_key.get_mut(&key) {
                places.remove(&place);
                if places.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    pub(super) fn get(&self, id: &str) -> Option<&Review> {
        self.records.get(id)
    }

    /// Forget the records kept past their time; their ids.
    pub(super) fn purge(&mut self, now: i64) -> Vec<String> {
        let gone: Vec<String> = self
            .records
            .values()
            .filter(|r| r.expires_at() <= now)
            .map(|r| r.id.clone())
            .collect();
        for id in &gone {
            self.remove(id);
        }
        gone
    }

    /// The records, oldest first (only the unresolved ones when `pending`).
    pub(super) fn list(&self, pending: bool) -> Vec<Review> {
        let order = if pending { &self.open } else { &self.all };
        order
            .iter()
            .filter_map(|(_, id)| self.records.get(id))
            .cloned()
            .collect()
    }

    /// A page of the queue: the records of the query's key when it names one, else the
    /// open records unless the query asks for the resolved ones.
    pub(super) fn page(&self, query: &ReviewQuery, now: i64) -> ReviewPage {
        let none = BTreeSet::new();
        let order = match &query.key {
            Some(key) => self.by_key.get(key).unwrap_or(&none),
            None if query.walks_resolved() => &self.all,
            None => &self.open,
        };
        let record = |(_, id): &(i64, String)| self.records.get(id);
        if query.newest_first {
            queue::page(query, order.iter().rev().filter_map(record), now)
        } else {
            queue::page(query, order.iter().filter_map(record), now)
        }
    }

    /// Resolve a record; the block-list entries a fraud resolution adds.
    pub(super) fn resolve(&mut self, id: &str, resolution: &Resolution) -> (Resolved, Vec<Block>) {
        let Some(record) = self.records.get(id) else {
            return (Resolved::Unknown, Vec::new());
        };
        let Some((resolved, blocked)) = review::resolve(record, resolution) else {
            return (Resolved::Already(record.clone()), Vec::new());
        };
        self.insert(&resolved);
        (Resolved::Now(resolved), blocked)
    }

    /// Claim, release, escalate or note a record.
    pub(super) fn change(&mut self, id: &str, change: &ReviewChange, now: i64) -> Changed {
        let Some(record) = self.records.get(id) else {
            return Changed::Unknown;
        };
        let changed = review::apply(record, change, now);
        if let Changed::Now(next) = &changed {
            self.insert(next);
        }
        changed
    }
}
