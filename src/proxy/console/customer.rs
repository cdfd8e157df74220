//! The same customer's history, read from the store for one review's page: for each of
//! the review's identity keys, its block-list entry, the bindings made from it in the
//! review's policy (the accounts of a DNI, the devices seen with it), its orders and
//! amounts over the last 1, 7 and 30 local days (the day counters of
//! [`crate::core::rules::history`], read in the review's currency with a plan of reads),
//! its payment codes created, paid, expired and refunded over the same windows (the
//! counters of [`crate::core::rules::code_life`]),
//! and the other reviews that carry it, walked by the key's own index.
//!
//! Only the admin listener asks: nothing here is on a request's path. What it
//! approximates: bindings are read in the review's policy only, and a block list kept in
//! a config file (not in the store) is not shown.

use super::pages::{Codes, KeyHistory, Orders};
use crate::core::money::{Amount, Currency};
use crate::core::plan::{block_key, Acquired, Counter, StorePlan};
use crate::core::rules::code_life::{self, Outcome as CodeOutcome};
use crate::core::rules::history;
use crate::proxy::served::Served;
use crate::state::store::queue::ReviewQuery;
use crate::state::store::review::Review;
use crate::state::store::Held;

/// How many other reviews each key lists on the page.
const REVIEWS_SHOWN: usize = 6;

/// The history of each identity key of `review`; a key the store could not be asked
/// about is shown with what was read (the page never fails for its history).
pub(super) async fn history(served: &Served, review: &Review) -> Vec<KeyHistory> {
    let now = served.runtime.now().as_second();
    let keys: Vec<(&str, &str)> = review.identity_keys().collect();
    let mut prefixes = Vec::with_capacity(keys.len() * 2);
    for (fact, hash) in &keys {
        prefixes.push(block_key(fact, hash));
        prefixes.push(format!("b:{}:{fact}:{hash}:", review.policy));
    }
    let held = served
        .admin(served.runtime.store.inspect(&prefixes))
        .await
        .unwrap_or_default();
    let mut out = Vec::with_capacity(keys.len());
    for (fact, hash) in keys {
        let mut history = KeyHistory {
            fact: fact.to_string(),
            hash: hash.to_string(),
            ..KeyHistory::default()
        };
        let binding_prefix = format!("b:{}:{fact}:{hash}:", review.policy);
        for entry in &held {
            match entry {
                Held::Blocked { key, note } if *key == block_key(fact, hash) => {
                    history.blocked = Some(note.clone());
                }
                Held::Binding { key, members } => {
                    if let Some(other) = key.strip_prefix(&binding_prefix) {
                        let members = members
                            .iter()
                            .filter(|(_, until)| until.is_none_or(|u| u > now))
                            .map(|(m, _)| m.clone())
                            .collect();
                        history.bound.push((other.to_string(), members));
                    }
                }
                _ => {}
            }
        }
        history.orders = orders(served, fact, hash, review).await;
        history.codes = codes(served, fact, hash).await;
        let query = ReviewQuery {
            key: Some((fact.to_string(), hash.to_string())),
            all_statuses: true,
            newest_first: true,
            limit: REVIEWS_SHOWN + 1,
            ..ReviewQuery::default()
        };
        let walk = served.runtime.store.review_page(&query, now);
        if let Ok(page) = served.admin(walk).await {
            history.review_count = page.total;
            history.reviews = page.reviews;
        }
        out.push(history);
    }
    out
}

/// The key's orders over each window, in the review's currency; none when the review has
/// no amount or the store keeps no history for the key.
async fn orders(served: &Served, fact: &str, hash: &str, review: &Review) -> Vec<Orders> {
    let Some(currency) = review.currency.as_deref().and_then(Currency::parse) else {
        return Vec::new();
    };
    let now = served.runtime.now();
    let days = history::days(&served.config.identity.calendar, now);
    let reads: Vec<Counter> = days
        .iter()
        .flat_map(|day| history::day_keys(fact, &hash, currency, day))
        .map(|key| Counter::tally(key, 0, 0))
        .collect();
    let Some(counts) = read_counters(served, now, reads).await else {
        return Vec::new();
    };
    let per_day: Vec<(u64, u64)> = counts
        .chunks(2)
        .map(|c| (c[0], c.get(1).copied().unwrap_or(0)))
        .collect();
    if per_day.iter().all(|(n, _)| *n == 0) {
        return Vec::new();
    }
    history::windows(&per_day)
        .into_iter()
        .map(|(days, count, minor)| Orders {
            days,
            count,
            amounts: vec![(
                currency.as_str().to_string(),
                Amount { minor, currency }.to_string(),
            )],
        })
        .collect()
}

/// The counts of `reads` (counters read, nothing added), in their order; none when the
/// store could not be asked.
async fn read_counters(
    served: &Served,
    now: jiff::Timestamp,
    reads: Vec<Counter>,
) -> Option<Vec<u64>> {
    let plan = StorePlan {
        now: now.as_second(),
        counters: reads,
        ..StorePlan::default()
    };
    let answer = served
        .admin(served.runtime.store.execute(&plan))
        .await
        .ok()?;
    match answer.counters {
        Some(Acquired::Granted(counts)) => Some(counts),
        _ => None,
    }
}

/// The key's payment codes over each window; none when it never asked for one.
async fn codes(served: &Served, fact: &str, hash: &str) -> Vec<Codes> {
    let now = served.runtime.now();
    let days = history::days(&served.config.identity.calendar, now);
    let reads: Vec<Counter> = days
        .iter()
        .flat_map(|day| {
            CodeOutcome::ALL.map(|outcome| {
                Counter::tally(code_life::counter_key(fact, hash, outcome, day), 0, 0)
            })
        })
        .collect();
    let Some(counts) = read_counters(served, now, reads).await else {
        return Vec::new();
    };
    code_windows(&counts)
}

/// Per window, the sums of the day counters read newest first, four per day in the order
/// of [`CodeOutcome::ALL`]; empty when every count is zero.
fn code_windows(counts: &[u64]) -> Vec<Codes> {
    if counts.iter().all(|n| *n == 0) {
        return Vec::new();
    }
    history::WINDOWS
        .iter()
        .map(|days| {
            let mut codes = Codes {
                days: *days,
                ..Codes::default()
            };
            for day in counts
                .chunks(CodeOutcome::ALL.len())
                .take(usize::from(*days))
            {
                for (outcome, n) in CodeOutcome::ALL.iter().zip(day) {
                    let slot = match outcome {
                        CodeOutcome::Created => &mut codes.created,
                        CodeOutcome::Paid => &mut codes.paid,
                        CodeOutcome::Expired => &mut codes.expired,
                        CodeOutcome::Refunded => &mut codes.refunded,
                    };
                    *slot = slot.saturating_add(*n);
                }
            }
            codes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_windows_sum_the_newest_days() {
        // Day 0 (today): 2 created, 1 paid; day 5: 1 created, 1 expired; day 20: 1 refunded.
        let mut counts = vec![0u64; 30 * 4];
        counts[0] = 2;
        counts[1] = 1;
        counts[5 * 4] = 1;
        counts[5 * 4 + 2] = 1;
        counts[20 * 4 + 3] = 1;
        let windows = code_windows(&counts);
        let want = |days, created, paid, expired, refunded| Codes {
            days,
            created,
            paid,
            expired,
            refunded,
        };
        assert_eq!(
            windows,
            vec![
                want(1, 2, 1, 0, 0),
                want(7, 3, 1, 1, 0),
                want(30, 3, 1, 1, 1)
            ]
        );
        assert!(code_windows(&[0; 120]).is_empty());
    }
}
