//! The in-process store: counters and bindings in two maps behind one lock each.
//!
//! State is lost on restart and not shared between instances; the trait exists so that a
//! persistent and a shared store can replace it. Expired counters and bindings are dropped
//! by [`Store::purge_expired`], which housekeeping calls; bindings kept "forever" grow with
//! the number of distinct identities seen.

use super::{Acquired, Binding, Claim, Counter, Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    counters: Mutex<HashMap<String, (u64, i64)>>,
    /// key -> member -> expiry (None: forever)
    bindings: Mutex<HashMap<String, HashMap<String, Option<i64>>>>,
    /// webhook event key -> (delivered, expiry)
    replays: Mutex<HashMap<String, (bool, i64)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError("a lock was poisoned by a panic".into())
}

impl Store for MemoryStore {
    fn acquire(&self, counters: &[Counter], now: i64) -> Result<Acquired, StoreError> {
        let mut map = self.counters.lock().map_err(poisoned)?;
        let current = |c: &Counter| match map.get(&c.key) {
            Some((count, expires)) if *expires > now => *count,
            _ => 0,
        };
        if let Some(index) = counters
            .iter()
            .position(|c| c.enforced && current(c) >= c.limit)
        {
            return Ok(Acquired::Refused { index });
        }
        let mut counts = Vec::with_capacity(counters.len());
        for c in counters {
            let entry = map.entry(c.key.clone()).or_insert((0, c.expires_at));
            if entry.1 <= now {
                *entry = (0, c.expires_at);
            }
            entry.0 += 1;
            counts.push(entry.0);
        }
        Ok(Acquired::Granted(counts))
    }

    fn bind(
        &self,
        key: &str,
        member: &str,
        max: u64,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<Binding, StoreError> {
        let mut map = self.bindings.lock().map_err(poisoned)?;
        let set = map.entry(key.to_string()).or_default();
        set.retain(|_, expiry| expiry.is_none_or(|e| e > now));
        let known = set.contains_key(member);
        let others = set.len() as u64 - u64::from(known);
        if !known && others >= max {
            return Ok(Binding::Exceeded { members: others });
        }
        set.insert(member.to_string(), expires_at);
        Ok(Binding::Within {
            members: set.len() as u64,
        })
    }

    fn claim(&self, key: &str, hold_until: i64, now: i64) -> Result<Claim, StoreError> {
        let mut map = self.replays.lock().map_err(poisoned)?;
        match map.get(key) {
            Some((true, expires)) if *expires > now => Ok(Claim::Done),
            Some((false, expires)) if *expires > now => Ok(Claim::InFlight),
            _ => {
                map.insert(key.to_string(), (false, hold_until));
                Ok(Claim::New)
            }
        }
    }

    fn settle(&self, key: &str, delivered_until: Option<i64>, _now: i64) -> Result<(), StoreError> {
        let mut map = self.replays.lock().map_err(poisoned)?;
        match delivered_until {
            Some(until) => {
                map.insert(key.to_string(), (true, until));
            }
            None => {
                map.remove(key);
            }
        }
        Ok(())
    }

    fn purge_expired(&self, now: i64) {
        if let Ok(mut map) = self.replays.lock() {
            map.retain(|_, (_, expires)| *expires > now);
        }
        if let Ok(mut map) = self.counters.lock() {
            map.retain(|_, (_, expires)| *expires > now);
        }
        if let Ok(mut map) = self.bindings.lock() {
            map.retain(|_, set| {
                set.retain(|_, expiry| expiry.is_none_or(|e| e > now));
                !set.is_empty()
            });
        }
    }

    fn size(&self) -> usize {
        let counters = self.counters.lock().map(|m| m.len()).unwrap_or(0);
        let bindings = self.bindings.lock().map(|m| m.len()).unwrap_or(0);
        let replays = self.replays.lock().map(|m| m.len()).unwrap_or(0);
        counters + bindings + replays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(key: &str, limit: u64, enforced: bool) -> Counter {
        Counter {
            key: key.into(),
            limit,
            expires_at: 1000,
            enforced,
        }
    }

    #[test]
    fn exactly_the_limit_is_granted_and_refusals_count_nothing() {
        let store = MemoryStore::new();
        let day = counter("day", 3, true);
        let hour = counter("hour", 2, true);
        let both = [day.clone(), hour.clone()];
        assert_eq!(
            store.acquire(&both, 0).unwrap(),
            Acquired::Granted(vec![1, 1])
        );
        assert_eq!(
            store.acquire(&both, 0).unwrap(),
            Acquired::Granted(vec![2, 2])
        );
        assert_eq!(
            store.acquire(&both, 0).unwrap(),
            Acquired::Refused { index: 1 }
        );
        // The refusal did not use up the daily quota.
        assert_eq!(
            store.acquire(std::slice::from_ref(&day), 0).unwrap(),
            Acquired::Granted(vec![3])
        );
        assert_eq!(
            store.acquire(&[day], 0).unwrap(),
            Acquired::Refused { index: 0 }
        );
    }

    #[test]
    fn counters_restart_after_their_window() {
        let store = MemoryStore::new();
        let c = counter("k", 1, true);
        assert!(matches!(
            store.acquire(std::slice::from_ref(&c), 999).unwrap(),
            Acquired::Granted(_)
        ));
        assert_eq!(
            store.acquire(std::slice::from_ref(&c), 999).unwrap(),
            Acquired::Refused { index: 0 }
        );
        let next = Counter {
            expires_at: 2000,
            ..c
        };
        assert_eq!(
            store.acquire(&[next], 1000).unwrap(),
            Acquired::Granted(vec![1])
        );
        store.purge_expired(5000);
        assert_eq!(store.size(), 0);
    }

    #[test]
    fn review_counters_count_past_their_limit() {
        let store = MemoryStore::new();
        let soft = counter("soft", 1, false);
        for expected in 1..=3 {
            assert_eq!(
                store.acquire(std::slice::from_ref(&soft), 0).unwrap(),
                Acquired::Granted(vec![expected])
            );
        }
    }

    #[test]
    fn an_event_is_seen_once_delivered_and_retried_if_not() {
        let store = MemoryStore::new();
        assert_eq!(store.claim("evt", 60, 0).unwrap(), Claim::New);
        assert_eq!(store.claim("evt", 60, 1).unwrap(), Claim::InFlight);
        // The backend failed: the retry goes through.
        store.settle("evt", None, 2).unwrap();
        assert_eq!(store.claim("evt", 62, 2).unwrap(), Claim::New);
        store.settle("evt", Some(1000), 3).unwrap();
        assert_eq!(store.claim("evt", 63, 3).unwrap(), Claim::Done);
        assert_eq!(store.claim("evt", 1060, 1000).unwrap(), Claim::New);
        // An abandoned claim lapses.
        assert_eq!(store.claim("lost", 10, 0).unwrap(), Claim::New);
        assert_eq!(store.claim("lost", 20, 11).unwrap(), Claim::New);
    }

    #[test]
    fn bindings_hold_at_most_max_members() {
        let store = MemoryStore::new();
        for (i, account) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(
                store.bind("dni", account, 3, None, 0).unwrap(),
                Binding::Within {
                    members: i as u64 + 1
                }
            );
        }
        assert_eq!(
            store.bind("dni", "a", 3, None, 0).unwrap(),
            Binding::Within { members: 3 }
        );
        assert_eq!(
            store.bind("dni", "d", 3, None, 0).unwrap(),
            Binding::Exceeded { members: 3 }
        );
        // Members that expire make room.
        store.bind("dni2", "x", 1, Some(10), 0).unwrap();
        assert!(matches!(
            store.bind("dni2", "y", 1, Some(20), 5).unwrap(),
            Binding::Exceeded { .. }
        ));
        assert!(matches!(
            store.bind("dni2", "y", 1, Some(30), 11).unwrap(),
            Binding::Within { .. }
        ));
    }
}
