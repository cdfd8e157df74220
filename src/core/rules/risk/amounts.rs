//! Amount and velocity rules, on the order's exact amount in its currency.
//!
//! - [`LargeOrder`]: one order at or above a threshold.
//! - [`Sum`]: what one key (a DNI, an email, an address...) has ordered in a window (the
//!   local hour, the local day, or the last N local days) is above a threshold.
//! - [`Structuring`]: at least N orders below a small amount from one key within T.
//! - [`Anomaly`]: a day's total, for the whole shop or one key, above a percentage (200%
//!   by default) of its mean over the D days before (the days that saw orders: a buyer who
//!   pays once a week is compared with their paying days, not with six empty ones).
//!
//! Sums are kept in counters of minor units, one per key, currency and window, in the
//! shop's calendar: a day rolls over at local midnight and the last 7 days are today and
//! the 6 local days before it. Currencies are never mixed, and a rule applies only to
//! currencies it has a threshold for. Each sum includes the order being judged.
//!
//! What it approximates: "within T" for structuring is counted in six steps of T/6, so
//! orders between T - T/6 and T ago may or may not count; a trailing mean leaves out the
//! days with no orders, so a shop's first days compare with the few before them.

use super::{Buckets, Pending, RiskCheck, RiskContext};
use crate::core::calendar::Period;
use crate::core::money::PerCurrency;
use crate::core::request::facts::KeyKind;
use std::time::Duration;

/// A minute's grace after a window ends, so that clocks a little apart agree on it.
const GRACE: i64 = 60;
const DAY: i64 = 86_400;

#[derive(Debug)]
pub struct LargeOrder {
    pub at_least: PerCurrency,
}

impl RiskCheck for LargeOrder {
    fn plan(&self, cx: &RiskContext<'_>, _: &mut Buckets) -> Option<Pending> {
        let amount = cx.facts.amount?;
        let threshold = self.at_least.get(amount.currency)?;
        Some(Pending::Known(amount.minor >= threshold))
    }
}

/// A window a sum is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumWindow {
    /// The local hour.
    Hour,
    /// The local day and the `n - 1` days before it.
    Days(u16),
}

#[derive(Debug)]
pub struct Sum {
    pub fact: KeyKind,
    pub window: SumWindow,
    pub above: PerCurrency,
}

/// Whose daily totals an anomaly compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Shop,
    Key(KeyKind),
}

/// The day-total counters of `scope` for the local days ending today, newest first: today's
/// gets `add`, the earlier ones are read. Each lives `reach` days past its own end.
fn day_totals(
    cx: &RiskContext<'_>,
    scope: Scope,
    currency: &str,
    days: usize,
    add: u64,
    buckets: &mut Buckets,
) -> Option<Vec<usize>> {
    let owner = match scope {
        Scope::Shop => "shop".to_string(),
        Scope::Key(kind) => format!("{}:{}", kind.as_str(), cx.hashes.get(kind)?),
    };
    let windows = cx.calendar.days_back(cx.now, days);
    let keep = (days as i64 - 1) * DAY + GRACE;
    Some(
        windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                buckets.want(
                    format!("s:{}:{owner}:{currency}:day:{}", cx.policy, w.id),
                    if i == 0 { add } else { 0 },
                    w.ends_at.as_second() + keep,
                )
            })
            .collect(),
    )
}

impl RiskCheck for Sum {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let amount = cx.facts.amount?;
        let threshold = self.above.get(amount.currency)?;
        let currency = amount.currency.as_str();
        let at = match self.window {
            SumWindow::Hour => {
                let hash = cx.hashes.get(self.fact)?;
                let w = cx.calendar.window(Period::Hour, cx.now);
                vec![buckets.want(
                    format!(
                        "s:{}:{}:{hash}:{currency}:hour:{}",
                        cx.policy,
                        self.fact.as_str(),
                        w.id
                    ),
                    amount.minor,
                    w.ends_at.as_second() + GRACE,
                )]
            }
            SumWindow::Days(n) => day_totals(
                cx,
                Scope::Key(self.fact),
                currency,
                usize::from(n),
                amount.minor,
                buckets,
            )?,
        };
        Some(Pending::Above { at, threshold })
    }
}

#[derive(Debug)]
pub struct Structuring {
    pub fact: KeyKind,
    /// What counts as a small order.
    pub below: PerCurrency,
    pub count: u32,
    pub within: Duration,
}

/// How many steps "within T" is counted in.
const STEPS: u64 = 6;

impl RiskCheck for Structuring {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let amount = cx.facts.amount?;
        let small = self.below.get(amount.currency)?;
        if amount.minor >= small {
            return None;
        }
        let hash = cx.hashes.get(self.fact)?;
        let within = self.within.as_secs().max(STEPS);
        let step = within / STEPS;
        let now = cx.now.as_second().max(0) as u64;
        let current = now / step;
        let at = (0..STEPS)
            .map(|back| {
                let n = current.saturating_sub(back);
                buckets.want(
                    format!(
                        "c:{}:{}:{hash}:small{within}:{n}",
                        cx.policy,
                        self.fact.as_str()
                    ),
                    u64::from(back == 0),
                    ((n + 1) * step + within) as i64 + GRACE,
                )
            })
            .collect();
        Some(Pending::AtLeast {
            at,
            count: u64::from(self.count),
        })
    }
}

#[derive(Debug)]
pub struct Anomaly {
    pub scope: Scope,
    pub percent: u32,
    pub days: u16,
    /// Today's total must be at least this, per currency, for an anomaly to count
    /// (a key's first few soles are not worth a review); 0 where not given.
    pub floor: PerCurrency,
}

impl Anomaly {
    pub fn is_shop_wide(&self) -> bool {
        self.scope == Scope::Shop
    }
}

impl RiskCheck for Anomaly {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let amount = cx.facts.amount?;
        let days = usize::from(self.days) + 1;
        let mut at = day_totals(
            cx,
            self.scope,
            amount.currency.as_str(),
            days,
            amount.minor,
            buckets,
        )?;
        let today = at.remove(0);
        Some(Pending::AboveMean {
            today,
            past: at,
            percent: u64::from(self.percent),
            floor: self.floor.get(amount.currency).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::calendar::Calendar;
    use crate::core::identity::key_list::{KeyHasher, KeyHashes};
    use crate::core::money::{Amount, Currency};
    use crate::core::request::facts::IdentityFacts;

    fn pen(text: &str) -> Amount {
        Currency::PEN.amount(text).unwrap()
    }

    fn facts(amount: &str) -> IdentityFacts {
        IdentityFacts {
            account: Some("cust-1".into()),
            amount: Some(pen(amount)),
            ..IdentityFacts::default()
        }
    }

    /// Plan `plan` on an order of `amount` at `at`, and hand back the counters asked for.
    fn planned(
        amount: &str,
        at: &str,
        plan: impl Fn(&RiskContext<'_>, &mut Buckets) -> Option<Pending>,
    ) -> (Option<Pending>, Vec<crate::core::plan::Counter>) {
        let calendar = Calendar::new("America/Lima").unwrap();
        let f = facts(amount);
        let hashes = KeyHashes::of(&f, &KeyHasher::new(b"test"));
        let cx = RiskContext {
            policy: "p",
            facts: &f,
            hashes: &hashes,
            country: None,
            now: at.parse().unwrap(),
            calendar: &calendar,
        };
        let mut buckets = Buckets::default();
        let pending = plan(&cx, &mut buckets);
        (pending, buckets.into_counters())
    }

    fn thresholds(text: &str) -> PerCurrency {
        PerCurrency::new(vec![pen(text)])
    }

    #[test]
    fn a_large_order_is_at_or_above_its_currencys_threshold() {
        let rule = LargeOrder {
            at_least: thresholds("5000"),
        };
        let judge = |amount| planned(amount, "2026-11-25T12:00:00Z", |cx, b| rule.plan(cx, b)).0;
        assert_eq!(judge("4999.99"), Some(Pending::Known(false)));
        assert_eq!(judge("5000"), Some(Pending::Known(true)));
        let usd_only = LargeOrder {
            at_least: PerCurrency::new(vec![Currency::parse("USD").unwrap().amount("1").unwrap()]),
        };
        let (p, _) = planned("9999", "2026-11-25T12:00:00Z", |cx, b| usd_only.plan(cx, b));
        assert_eq!(p, None, "no threshold in soles: the rule does not apply");
    }

    #[test]
    fn a_days_sum_reads_the_lima_days_and_adds_to_today() {
        let rule = Sum {
            fact: KeyKind::Account,
            window: SumWindow::Days(3),
            above: thresholds("1000"),
        };
        // 23:30 on the 24th in Lima.
        let (pending, counters) =
            planned("120.50", "2026-11-25T04:30:00Z", |cx, b| rule.plan(cx, b));
        assert_eq!(
            pending,
            Some(Pending::Above {
                at: vec![0, 1, 2],
                threshold: 100_000
            })
        );
        assert!(
            counters[0].key.ends_with(":PEN:day:2026-11-24"),
            "{}",
            counters[0].key
        );
        assert!(counters[2].key.ends_with(":day:2026-11-22"));
        assert_eq!(
            counters.iter().map(|c| c.add).collect::<Vec<_>>(),
            [12_050, 0, 0]
        );
        // Today's total is kept until it has left every 3-day window.
        let lima_midnight: jiff::Timestamp = "2026-11-25T05:00:00Z".parse().unwrap();
        assert_eq!(
            counters[0].expires_at,
            lima_midnight.as_second() + 2 * DAY + GRACE
        );
        assert!(!counters[0].key.contains("cust-1"), "keys are hashed");
    }

    #[test]
    fn structuring_counts_small_orders_only_in_six_steps() {
        let rule = Structuring {
            fact: KeyKind::Account,
            below: thresholds("20"),
            count: 4,
            within: Duration::from_secs(3600),
        };
        let (large, counters) = planned("20", "2026-11-25T12:00:00Z", |cx, b| rule.plan(cx, b));
        assert_eq!((large, counters.len()), (None, 0));
        let (small, counters) = planned("19.99", "2026-11-25T12:00:00Z", |cx, b| rule.plan(cx, b));
        assert_eq!(
            small,
            Some(Pending::AtLeast {
                at: (0..6).collect(),
                count: 4
            })
        );
        let adds: Vec<u64> = counters.iter().map(|c| c.add).collect();
        assert_eq!(adds, [1, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn an_anomaly_compares_today_with_the_days_before() {
        let rule = Anomaly {
            scope: Scope::Shop,
            percent: 200,
            days: 7,
            floor: PerCurrency::default(),
        };
        let (pending, counters) = planned("50", "2026-11-25T12:00:00Z", |cx, b| rule.plan(cx, b));
        assert_eq!(
            pending,
            Some(Pending::AboveMean {
                today: 0,
                past: (1..8).collect(),
                percent: 200,
                floor: 0
            })
        );
        assert!(counters[0].key.starts_with("s:p:shop:PEN:day:2026-11-25"));
        assert_eq!(counters.len(), 8);
    }
}
