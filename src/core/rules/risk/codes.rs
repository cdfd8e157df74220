//! Payment-code rules: identities that create codes and do not pay them.
//!
//! Each reads the day counters of [`code_life`](crate::core::rules::code_life) for one
//! identity key over the last `days` local days (today included), and adds nothing to
//! them: the counters move when a code is created and when a notification settles it.
//! `unpaid_codes` fires on `count` or more codes expired unpaid, `refunds` on `count` or
//! more refunded; `paid_ratio` fires when fewer than `percent` % of the codes settled in
//! the window were paid, once at least `min_settled` were settled (paid or expired), so
//! that codes still open count neither way.
//!
//! What it approximates: a code counts in the window its outcome came in, not the one it
//! was created in; an identity garita never saw a code for reads zeros and never fires.

use super::{Buckets, Pending, RiskCheck, RiskContext};
use crate::core::request::facts::KeyKind;
use crate::core::rules::code_life::{counter_key, read_expiry, window_days, Outcome};

/// The counters of `outcome` for the fact's key over the last `days`, read only.
fn read(
    cx: &RiskContext<'_>,
    fact: KeyKind,
    outcome: Outcome,
    days: u16,
    buckets: &mut Buckets,
) -> Option<Vec<usize>> {
    let hash = cx.hashes.get(fact)?;
    let expires_at = read_expiry(cx.now);
    Some(
        window_days(cx.calendar, cx.now, days)
            .iter()
            .map(|day| {
                buckets.want(
                    counter_key(fact.as_str(), hash, outcome, day),
                    0,
                    expires_at,
                )
            })
            .collect(),
    )
}

#[derive(Debug)]
pub struct UnpaidCodes {
    pub fact: KeyKind,
    pub count: u64,
    pub days: u16,
}

impl RiskCheck for UnpaidCodes {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let at = read(cx, self.fact, Outcome::Expired, self.days, buckets)?;
        Some(Pending::AtLeast {
            at,
            count: self.count,
        })
    }
}

#[derive(Debug)]
pub struct Refunds {
    pub fact: KeyKind,
    pub count: u64,
    pub days: u16,
}

impl RiskCheck for Refunds {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let at = read(cx, self.fact, Outcome::Refunded, self.days, buckets)?;
        Some(Pending::AtLeast {
            at,
            count: self.count,
        })
    }
}

#[derive(Debug)]
pub struct PaidRatio {
    pub fact: KeyKind,
    /// Fires below this share of paid codes, in percent.
    pub percent: u64,
    /// Settled codes needed before the share means anything.
    pub min_settled: u64,
    pub days: u16,
}

impl RiskCheck for PaidRatio {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        let paid = read(cx, self.fact, Outcome::Paid, self.days, buckets)?;
        let expired = read(cx, self.fact, Outcome::Expired, self.days, buckets)?;
        Some(Pending::ShareBelow {
            part: paid,
            rest: expired,
            percent: self.percent,
            min: self.min_settled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::calendar::Calendar;
    use crate::core::identity::key_list::{KeyHasher, KeyHashes};
    use crate::core::request::facts::IdentityFacts;

    #[test]
    fn code_rules_read_their_days_and_share_counters() {
        let calendar = Calendar::new("America/Lima").unwrap();
        let facts = IdentityFacts {
            account: Some("cust-1".into()),
            ..IdentityFacts::default()
        };
        let hashes = KeyHashes::of(&facts, &KeyHasher::new(b"test"));
        let cx = RiskContext {
            policy: "p",
            facts: &facts,
            hashes: &hashes,
            country: None,
            now: "2026-12-06T15:00:00Z".parse().unwrap(),
            calendar: &calendar,
        };
        let mut buckets = Buckets::default();
        let unpaid = UnpaidCodes {
            fact: KeyKind::Account,
            count: 3,
            days: 7,
        }
        .plan(&cx, &mut buckets);
        let ratio = PaidRatio {
            fact: KeyKind::Account,
            percent: 50,
            min_settled: 4,
            days: 7,
        }
        .plan(&cx, &mut buckets);
        let Some(Pending::AtLeast { at, count: 3 }) = unpaid else {
            panic!("{unpaid:?}");
        };
        assert_eq!(at, (0..7).collect::<Vec<_>>());
        let Some(Pending::ShareBelow { part, rest, .. }) = ratio else {
            panic!("{ratio:?}");
        };
        assert_eq!(part, (7..14).collect::<Vec<_>>(), "paid: seven more days");
        assert_eq!(rest, at, "the expired counters are shared");
        let counters = buckets.into_counters();
        assert_eq!(counters.len(), 14);
        assert!(counters.iter().all(|c| c.add == 0));
        assert!(counters[0].key.ends_with(":expired:2026-12-06"));
        assert!(counters[6].key.ends_with(":expired:2026-11-30"));
        let none = UnpaidCodes {
            fact: KeyKind::Email,
            count: 1,
            days: 7,
        }
        .plan(&cx, &mut Buckets::default());
        assert_eq!(none, None, "no email, no rule");
    }
}
