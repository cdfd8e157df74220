//! The same customer's history, read from the store for one review's page: for each of
//! the review's identity keys, its block-list entry, the bindings made from it in the
//! review's policy (the accounts of a DNI, the devices seen with it), its orders and
//! amounts over the last 1, 7 and 30 local days (the day counters of
//! [`crate::core::rules::history`], read in the review's currency with a plan of reads),
//! and the other reviews that carry it, walked by the key's own index.
//!
//! Only the admin listener asks: nothing here is on a request's path. What it
//! approximates: bindings are read in the review's policy only, and a block list kept in
//! a config file (not in the store) is not shown.

use super::pages::{KeyHistory, Orders};
use crate::core::money::{Amount, Currency};
use crate::core::plan::{block_key, Acquired, Counter, StorePlan};
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
    let plan = StorePlan {
        now: now.as_second(),
        counters: reads,
        ..StorePlan::default()
    };
    let Ok(answer) = served.admin(served.runtime.store.execute(&plan)).await else {
        return Vec::new();
    };
    let Some(Acquired::Granted(counts)) = answer.counters else {
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
