//! Newness rules: the first order of an identity, a device never seen with it before, and a
//! first order that is also a large one.
//!
//! Each identity's orders are counted for `remember` (a year and a month by default) from
//! its first one, in a counter keyed by its hash; an order is its first when it brings the
//! count to 1. A device's first order with a DNI is counted the same way, under a key made
//! of both hashes, and only counts as new when the DNI itself has been seen before (a new
//! DNI is the first-order rule's business).
//!
//! What it approximates: "seen" means an earlier request passed the hard rules, even if the
//! score then denied it; after `remember` without being forgotten, an identity counts as
//! new again a year on from its first order, not from its last.

use super::{Buckets, Pending, RiskCheck, RiskContext};
use crate::core::money::PerCurrency;
use crate::core::request::facts::KeyKind;
use std::time::Duration;

/// The counter of an identity's orders, added to on every order.
fn seen(
    cx: &RiskContext<'_>,
    fact: KeyKind,
    remember: Duration,
    buckets: &mut Buckets,
) -> Option<usize> {
    let hash = cx.hashes.get(fact)?;
    Some(buckets.want(
        format!("n:{}:{}:{hash}", cx.policy, fact.as_str()),
        1,
        cx.now.as_second() + remember.as_secs() as i64,
    ))
}

#[derive(Debug)]
pub struct FirstOrder {
    pub fact: KeyKind,
    pub remember: Duration,
}

impl RiskCheck for FirstOrder {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let at = seen(cx, self.fact, self.remember, buckets)?;
        Some(Pending::First { at })
    }
}

#[derive(Debug)]
pub struct NewDevice {
    /// The identity the device is new to (a DNI, an account).
    pub fact: KeyKind,
    pub remember: Duration,
}

impl RiskCheck for NewDevice {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let (Some(owner), Some(device)) =
            (cx.hashes.get(self.fact), cx.hashes.get(KeyKind::Device))
        else {
            return None;
        };
        let known = seen(cx, self.fact, self.remember, buckets)?;
        let at = buckets.want(
            format!(
                "n:{}:{}>device:{owner}:{device}",
                cx.policy,
                self.fact.as_str()
            ),
            1,
            cx.now.as_second() + self.remember.as_secs() as i64,
        );
        Some(Pending::FirstWithKnown { at, known })
    }
}

#[derive(Debug)]
pub struct FirstLargeOrder {
    pub fact: KeyKind,
    pub at_least: PerCurrency,
    pub remember: Duration,
}

impl RiskCheck for FirstLargeOrder {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        // Every order counts towards "seen", or a string of small ones would leave the
        // next large one looking like a first.
        let at = seen(cx, self.fact, self.remember, buckets)?;
        let amount = cx.facts.amount?;
        let threshold = self.at_least.get(amount.currency)?;
        Some(if amount.minor >= threshold {
            Pending::First { at }
        } else {
            Pending::Known(false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::calendar::Calendar;
    use crate::core::identity::key_list::{KeyHasher, KeyHashes};
    use crate::core::money::Currency;
    use crate::core::request::facts::IdentityFacts;

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    fn planned(
        facts: &IdentityFacts,
        plan: impl Fn(&RiskContext<'_>, &mut Buckets) -> Option<Pending>,
    ) -> (Option<Pending>, Vec<crate::core::plan::Counter>) {
        let calendar = Calendar::new("America/Lima").unwrap();
        let hashes = KeyHashes::of(facts, &KeyHasher::new(b"test"));
        let cx = RiskContext {
            policy: "p",
            facts,
            hashes: &hashes,
            country: None,
            now: "2026-11-25T12:00:00Z".parse().unwrap(),
            calendar: &calendar,
        };
        let mut buckets = Buckets::default();
        let pending = plan(&cx, &mut buckets);
        (pending, buckets.into_counters())
    }

    fn buyer(device: Option<&str>, amount: &str) -> IdentityFacts {
        IdentityFacts {
            account: Some("cust-1".into()),
            device: device.map(str::to_string),
            amount: Currency::PEN.amount(amount),
            ..IdentityFacts::default()
        }
    }

    #[test]
    fn a_new_device_needs_a_known_owner_and_shares_its_counter() {
        let first = FirstOrder {
            fact: KeyKind::Account,
            remember: YEAR,
        };
        let device = NewDevice {
            fact: KeyKind::Account,
            remember: YEAR,
        };
        let f = buyer(Some("dev-1"), "10");
        let (p, counters) = planned(&f, |cx, b| {
            let a = first.plan(cx, b);
            let d = device.plan(cx, b);
            assert_eq!(a, Some(Pending::First { at: 0 }));
            d
        });
        assert_eq!(p, Some(Pending::FirstWithKnown { at: 1, known: 0 }));
        assert_eq!(counters.len(), 2, "the owner's counter is shared");
        assert!(counters[1].key.contains("account>device"));
        let (none, _) = planned(&buyer(None, "10"), |cx, b| device.plan(cx, b));
        assert_eq!(none, None);
    }

    #[test]
    fn a_first_large_order_still_counts_small_ones() {
        let rule = FirstLargeOrder {
            fact: KeyKind::Account,
            at_least: PerCurrency::new(vec![Currency::PEN.amount("1000").unwrap()]),
            remember: YEAR,
        };
        let (small, counters) = planned(&buyer(None, "999.99"), |cx, b| rule.plan(cx, b));
        assert_eq!(small, Some(Pending::Known(false)));
        assert_eq!(counters[0].add, 1);
        let (large, _) = planned(&buyer(None, "1000"), |cx, b| rule.plan(cx, b));
        assert_eq!(large, Some(Pending::First { at: 0 }));
    }
}
