//! Risk rules: soft signals that add up to a score, where hard rules refuse alone.
//!
//! The contract every check keeps, one family to a file ([`amounts`], [`newness`],
//! [`time`], [`country`]): a check never calls the store. Given what the rules see of the
//! request ([`RiskContext`]), [`RiskCheck::plan`] names the counters it wants in the
//! request's shared [`Buckets`] (one counter per key, however many checks read it) and
//! leaves a [`Pending`] judgement, or `None` when it does not apply (no amount, no such
//! fact, no threshold in this currency). The counters go into the request's store plan
//! after its quotas, and once the store has answered every pending judgement is read on
//! the counters' values; [`score`] dispatches, judges and totals. Checks depend on this
//! contract only, never on the score or on each other.

pub mod amounts;
pub mod codes;
pub mod country;
pub mod newness;
pub mod score;
pub mod time;

use crate::core::calendar::Calendar;
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::plan::Counter;
use crate::core::request::facts::IdentityFacts;
use jiff::Timestamp;

/// One risk check: how it will be judged on this request.
pub trait RiskCheck: std::fmt::Debug {
    /// The judgement to make once the store has answered, asking for its counters in
    /// `buckets`; `None` when the check does not apply to this request.
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending>;
}

/// What the risk rules see of one request.
#[derive(Debug, Clone, Copy)]
pub struct RiskContext<'a> {
    pub policy: &'a str,
    pub facts: &'a IdentityFacts,
    pub hashes: &'a KeyHashes,
    /// The client address's country, when known.
    pub country: Option<CountryCode>,
    pub now: Timestamp,
    pub calendar: &'a Calendar,
}

/// The counters one request's risk rules ask for, one per key.
#[derive(Debug, Default)]
pub struct Buckets(Vec<Counter>);

impl Buckets {
    /// The index of the counter at `key`, added to by `add`: a key asked for twice is one
    /// counter, added to once, kept as long as the longer asks.
    pub fn want(&mut self, key: String, add: u64, expires_at: i64) -> usize {
        if let Some(i) = self.0.iter().position(|c| c.key == key) {
            let c = &mut self.0[i];
            c.add = c.add.max(add);
            c.expires_at = c.expires_at.max(expires_at);
            return i;
        }
        self.0.push(Counter::tally(key, add, expires_at));
        self.0.len() - 1
    }

    pub fn into_counters(self) -> Vec<Counter> {
        self.0
    }
}

/// How a rule will be judged once the store has answered, by the indices of its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Judged without the store.
    Known(bool),
    /// The counters' total is above `threshold`.
    Above { at: Vec<usize>, threshold: u64 },
    /// The counters' total is at least `count`.
    AtLeast { at: Vec<usize>, count: u64 },
    /// Today's total is above `percent` % of the mean of those `past` days that saw
    /// anything (at least one must have), and at least `floor`.
    AboveMean {
        today: usize,
        past: Vec<usize>,
        percent: u64,
        floor: u64,
    },
    /// Fewer than `percent` % of `part` and `rest` together are `part`, with at least `min`
    /// in all (paid among settled codes).
    ShareBelow {
        part: Vec<usize>,
        rest: Vec<usize>,
        percent: u64,
        min: u64,
    },
    /// The counter was first added to by this request.
    First { at: usize },
    /// `at` was first added to by this request while `known` had been before.
    FirstWithKnown { at: usize, known: usize },
}

impl Pending {
    /// What the rule saw, for the sentence a reviewer reads: the counters' total (a sum
    /// in minor units, or a count of orders), today's total for an anomaly; nothing for a
    /// rule judged on the request alone or on newness.
    pub fn seen(&self, counts: &[u64]) -> Option<u64> {
        let count = |i: &usize| counts.get(*i).copied().unwrap_or(0);
        let sum = |at: &[usize]| at.iter().map(count).fold(0u64, u64::saturating_add);
        match self {
            Pending::Above { at, .. } | Pending::AtLeast { at, .. } => {
                Some(at.iter().map(count).fold(0u64, u64::saturating_add))
            }
            Pending::AboveMean { today, .. } => Some(count(today)),
            // The share in percent, rounded down.
            Pending::ShareBelow { part, rest, .. } => {
                let (part, rest) = (sum(part), sum(rest));
                let all = part.saturating_add(rest);
                Some(part.saturating_mul(100).checked_div(all).unwrap_or(0))
            }
            Pending::Known(_) | Pending::First { .. } | Pending::FirstWithKnown { .. } => None,
        }
    }

    pub fn fired(&self, counts: &[u64]) -> bool {
        let count = |i: &usize| counts.get(*i).copied().unwrap_or(0);
        let total = |at: &[usize]| at.iter().map(count).fold(0u64, u64::saturating_add);
        match self {
            Pending::Known(fired) => *fired,
            Pending::Above { at, threshold } => total(at) > *threshold,
            Pending::AtLeast { at, count } => total(at) >= *count,
            Pending::AboveMean {
                today,
                past,
                percent,
                floor,
            } => {
                let (today, past_total) = (count(today), total(past));
                let days = past.iter().filter(|i| count(i) > 0).count() as u128;
                // today > percent/100 * past_total/days, in whole numbers.
                days > 0
                    && today >= *floor
                    && u128::from(today) * 100 * days
                        > u128::from(*percent) * u128::from(past_total)
            }
            Pending::ShareBelow {
                part,
                rest,
                percent,
                min,
            } => {
                let (part, rest) = (total(part), total(rest));
                let all = u128::from(part) + u128::from(rest);
                all >= u128::from(*min)
                    && all > 0
                    && u128::from(part) * 100 < u128::from(*percent) * all
            }
            Pending::First { at } => count(at) == 1,
            Pending::FirstWithKnown { at, known } => count(at) == 1 && count(known) > 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_judgements_read_the_counts() {
        let counts = [5, 7, 0, 1, 3];
        assert!(Pending::Above {
            at: vec![0, 1],
            threshold: 11
        }
        .fired(&counts));
        assert!(!Pending::Above {
            at: vec![0, 1],
            threshold: 12
        }
        .fired(&counts));
        assert!(Pending::AtLeast {
            at: vec![0],
            count: 5
        }
        .fired(&counts));
        assert_eq!(
            Pending::Above {
                at: vec![0, 1],
                threshold: 11
            }
            .seen(&counts),
            Some(12)
        );
        assert_eq!(Pending::First { at: 3 }.seen(&counts), None);
        assert!(Pending::First { at: 3 }.fired(&counts));
        assert!(!Pending::First { at: 4 }.fired(&counts));
        assert!(Pending::FirstWithKnown { at: 3, known: 4 }.fired(&counts));
        assert!(!Pending::FirstWithKnown { at: 3, known: 3 }.fired(&counts));
        // Today 7 against the days that saw orders: 5 (the empty day is left out), 140 %.
        let mean = |percent| Pending::AboveMean {
            today: 1,
            past: vec![0, 2],
            percent,
            floor: 0,
        };
        assert!(mean(139).fired(&counts));
        assert!(!mean(140).fired(&counts));
        // Today 7 against (5 + 1 + 3) / 3 = 3: 233 %.
        let three = |percent| Pending::AboveMean {
            today: 1,
            past: vec![0, 3, 4],
            percent,
            floor: 0,
        };
        assert!(three(233).fired(&counts) && !three(234).fired(&counts));
        let floored = Pending::AboveMean {
            today: 1,
            past: vec![0],
            percent: 100,
            floor: 8,
        };
        assert!(!floored.fired(&counts), "under the floor");
        // Paid 5 of 5 + 7 settled: 41 %.
        let share = |percent, min| Pending::ShareBelow {
            part: vec![0],
            rest: vec![1],
            percent,
            min,
        };
        assert!(share(42, 12).fired(&counts) && !share(41, 12).fired(&counts));
        assert!(!share(90, 13).fired(&counts), "too few settled");
        assert_eq!(share(50, 1).seen(&counts), Some(41));
        assert!(
            !share(50, 0).fired(&[0, 0]),
            "nothing settled, nothing fires"
        );
        // No history: no anomaly.
        let unseen = Pending::AboveMean {
            today: 1,
            past: vec![2],
            percent: 100,
            floor: 0,
        };
        assert!(!unseen.fired(&counts));
    }

    #[test]
    fn buckets_share_a_key_and_keep_it_for_the_longest_reach() {
        let mut b = Buckets::default();
        let first = b.want("k".into(), 100, 10);
        let again = b.want("k".into(), 100, 50);
        let read = b.want("j".into(), 0, 5);
        assert_eq!((first, again, read), (0, 0, 1));
        let counters = b.into_counters();
        assert_eq!((counters[0].add, counters[0].expires_at), (100, 50));
        assert!(!counters[0].enforced);
    }
}
