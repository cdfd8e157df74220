//! Each customer's orders, day by day, for the reviewer: how many orders and how much
//! each identity key (a DNI, an email, a phone, an account, a device) placed over the last
//! 1, 7 and 30 local days. Nothing is decided on them: they are what a review's page
//! shows beside the rules that fired.
//!
//! Two counters per key and local day, written in the request's store plan after the
//! quotas' and the risk rules' (so counted only when the request passed the hard rules,
//! like the risk counters), and kept 30 days past their day: the orders
//! (`h:{fact}:{hash}:n:{day}`) and the amount in minor units of the order's currency
//! (`h:{fact}:{hash}:{currency}:{day}`). Keys are global, not per policy: a customer's
//! history is theirs across routes. A review's page reads them with a plan of reads.
//!
//! What it approximates: a request later denied by its score counts (the store is asked
//! once, before the score is known); only orders with an amount count.

use crate::core::calendar::Calendar;
use crate::core::identity::key_list::KeyHashes;
use crate::core::money::Currency;
use crate::core::plan::Counter;
use crate::core::request::facts::{IdentityFacts, KeyKind};
use jiff::Timestamp;

/// The windows shown, in local days.
pub const WINDOWS: [u16; 3] = [1, 7, 30];
/// How long a day's counters are kept past its end.
const KEEP_SECONDS: i64 = 30 * 86_400 + 60;

/// The store keys of one identity key's counters for `day` (a local date, `2026-11-25`):
/// its orders, and its amount in `currency`.
pub fn day_keys(
    fact: &str,
    hash: &dyn std::fmt::Display,
    currency: Currency,
    day: &str,
) -> [String; 2] {
    [
        format!("h:{fact}:{hash}:n:{day}"),
        format!("h:{fact}:{hash}:{}:{day}", currency.as_str()),
    ]
}

/// The counters this order adds to: one order and its amount, per identity key, today.
pub fn plan(
    facts: &IdentityFacts,
    hashes: &KeyHashes,
    now: Timestamp,
    calendar: &Calendar,
    counters: &mut Vec<Counter>,
) {
    let Some(amount) = facts.amount else {
        return;
    };
    let today = calendar.window(crate::core::calendar::Period::Day, now);
    let expires_at = today.ends_at.as_second() + KEEP_SECONDS;
    for kind in KeyKind::ALL {
        if kind == KeyKind::Ip {
            continue;
        }
        let Some(hash) = hashes.get(kind) else {
            continue;
        };
        let [orders, total] = day_keys(kind.as_str(), &hash, amount.currency, &today.id);
        counters.push(Counter::tally(orders, 1, expires_at));
        counters.push(Counter::tally(total, amount.minor, expires_at));
    }
}

/// The local days ending today, newest first, as many as the longest window.
pub fn days(calendar: &Calendar, now: Timestamp) -> Vec<String> {
    let longest = usize::from(WINDOWS[WINDOWS.len() - 1]);
    calendar
        .days_back(now, longest)
        .into_iter()
        .map(|w| w.id)
        .collect()
}

/// Orders and amount over each of [`WINDOWS`], from the day counters read newest first
/// as `(orders, amount)` pairs.
pub fn windows(per_day: &[(u64, u64)]) -> Vec<(u16, u64, u64)> {
    WINDOWS
        .iter()
        .map(|days| {
            let span = per_day.iter().take(usize::from(*days));
            let orders = span.clone().map(|d| d.0).fold(0u64, u64::saturating_add);
            let amount = span.map(|d| d.1).fold(0u64, u64::saturating_add);
            (*days, orders, amount)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_add_up_the_days_newest_first() {
        let mut per_day = vec![(0, 0); 30];
        per_day[0] = (2, 3_000);
        per_day[3] = (1, 500);
        per_day[10] = (4, 100);
        per_day[29] = (1, 1);
        assert_eq!(
            windows(&per_day),
            [(1, 2, 3_000), (7, 3, 3_500), (30, 8, 3_601)]
        );
        let pen = Currency::parse("PEN").unwrap();
        assert_eq!(
            day_keys("dni", &"abc", pen, "2026-11-25"),
            [
                "h:dni:abc:n:2026-11-25".to_string(),
                "h:dni:abc:PEN:2026-11-25".to_string()
            ]
        );
        let calendar = Calendar::new("America/Lima").unwrap();
        let now: Timestamp = "2026-11-25T04:30:00Z".parse().unwrap();
        let back = days(&calendar, now);
        assert_eq!(back.len(), 30);
        assert_eq!(back[0], "2026-11-24", "still the 24th in Lima");
        assert_eq!(back[29], "2026-10-26");
    }
}
