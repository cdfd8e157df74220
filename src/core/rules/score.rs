//! Risk rules and the score: soft signals that add up, where hard rules refuse alone.
//!
//! Each [`RiskRule`] has a weight and a mode of its own. A rule that fires adds its weight
//! to the request's score; a policy's [`Thresholds`] turn the score into a review or a
//! denial (`risk_score`). A rule in `shadow` mode is judged all the same, and logged with
//! what it would have added, but adds nothing: what the score would have been with it is
//! kept as the decision's shadow verdict. Block lists, quotas and bindings are not scored:
//! they still deny on their own, before any risk rule is asked.
//!
//! Rules that need the store (sums, counts, first sightings) do not call it. At planning
//! each rule names the counters it wants in a shared [`Buckets`] (one counter per key,
//! however many rules read it) and leaves a [`Pending`] judgement; the counters go into the
//! request's store plan after its quotas, and [`RiskPlan::conclude`] judges every rule on
//! the store's answer. The families live one to a file: [`super::amounts`],
//! [`super::newness`], [`super::time`], [`super::country`].
//!
//! What it approximates: risk counters count every request that passed the hard rules,
//! including one the score then denies (the store is asked once, before the score is
//! known).

use super::{amounts, country, newness, time};
use crate::core::calendar::Calendar;
use crate::core::decision::{Decision, Fired, Mode, Reason, Risk, Verdict};
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::plan::Counter;
use crate::core::request::facts::IdentityFacts;
use jiff::Timestamp;
use std::sync::Arc;

/// One risk rule: what it checks, what it weighs, whether it acts.
#[derive(Debug)]
pub struct RiskRule {
    /// Unique in its policy: the name in logs, headers and metrics.
    pub name: Arc<str>,
    pub weight: u32,
    pub mode: Mode,
    pub check: Check,
}

/// What a risk rule checks, by family.
#[derive(Debug)]
pub enum Check {
    LargeOrder(amounts::LargeOrder),
    Sum(amounts::Sum),
    Structuring(amounts::Structuring),
    Anomaly(amounts::Anomaly),
    FirstOrder(newness::FirstOrder),
    NewDevice(newness::NewDevice),
    FirstLargeOrder(newness::FirstLargeOrder),
    Hours(time::Hours),
    CountryMismatch(country::CountryMismatch),
}

/// The scores at which a request goes to review, and is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub review: u32,
    pub deny: Option<u32>,
}

impl Thresholds {
    pub fn verdict(&self, score: u32) -> Verdict {
        match self.deny {
            Some(deny) if score >= deny => Verdict::Deny,
            _ if score >= self.review => Verdict::Review,
            _ => Verdict::Allow,
        }
    }
}

/// A policy's risk rules and thresholds.
#[derive(Debug)]
pub struct RiskRules {
    pub rules: Vec<RiskRule>,
    pub thresholds: Thresholds,
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
    /// The counter was first added to by this request.
    First { at: usize },
    /// `at` was first added to by this request while `known` had been before.
    FirstWithKnown { at: usize, known: usize },
}

impl Pending {
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
            Pending::First { at } => count(at) == 1,
            Pending::FirstWithKnown { at, known } => count(at) == 1 && count(known) > 1,
        }
    }
}

impl Check {
    fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> Option<Pending> {
        match self {
            Check::LargeOrder(rule) => rule.plan(cx),
            Check::Sum(rule) => rule.plan(cx, buckets),
            Check::Structuring(rule) => rule.plan(cx, buckets),
            Check::Anomaly(rule) => rule.plan(cx, buckets),
            Check::FirstOrder(rule) => rule.plan(cx, buckets),
            Check::NewDevice(rule) => rule.plan(cx, buckets),
            Check::FirstLargeOrder(rule) => rule.plan(cx, buckets),
            Check::Hours(rule) => Some(rule.plan(cx)),
            Check::CountryMismatch(rule) => rule.plan(cx),
        }
    }
}

/// The risk rules' judgements waiting for the store.
#[derive(Debug, Default)]
pub struct RiskPlan {
    /// Per rule that applies to this request: its index and its judgement.
    pending: Vec<(usize, Pending)>,
}

impl RiskRules {
    /// Whether a rule needs the client address's country.
    pub fn compares_countries(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.check, Check::CountryMismatch(_)))
    }

    /// Plan every rule on this request; the counters go into `buckets`. A rule that does
    /// not apply (no amount, no such fact, no threshold in this currency) is left out.
    pub fn plan(&self, cx: &RiskContext<'_>, buckets: &mut Buckets) -> RiskPlan {
        let pending = self
            .rules
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| rule.check.plan(cx, buckets).map(|p| (i, p)))
            .collect();
        RiskPlan { pending }
    }
}

impl RiskPlan {
    /// Judge every rule on the counters' values after this request (in `buckets` order)
    /// and apply the score to `decision`.
    pub fn conclude(self, rules: &RiskRules, counts: &[u64], decision: Decision) -> Decision {
        let mut risk = Risk::default();
        let mut shadow_score = 0u32;
        for (i, pending) in &self.pending {
            let rule = &rules.rules[*i];
            let fired = pending.fired(counts);
            if let Check::Anomaly(anomaly) = &rule.check {
                if anomaly.is_shop_wide() {
                    risk.shop_anomalies.push((*i, fired));
                }
            }
            if !fired {
                continue;
            }
            let shadow = rule.mode == Mode::Shadow;
            risk.fired.push(Fired {
                rule: rule.name.clone(),
                weight: rule.weight,
                shadow,
            });
            shadow_score = shadow_score.saturating_add(rule.weight);
            if !shadow {
                risk.score = risk.score.saturating_add(rule.weight);
            }
        }
        apply(decision, risk, shadow_score, &rules.thresholds)
    }
}

/// Turn the score into the verdict, keeping what the shadow rules would have made of it.
fn apply(
    mut decision: Decision,
    risk: Risk,
    shadow_score: u32,
    thresholds: &Thresholds,
) -> Decision {
    let verdict = thresholds.verdict(risk.score);
    let would = thresholds.verdict(shadow_score);
    let mut decision = match verdict {
        Verdict::Deny => Decision::deny(Reason::RiskScore),
        Verdict::Review => {
            decision.review(Reason::RiskScore);
            decision
        }
        Verdict::Allow => decision,
    };
    if would > verdict && would > decision.verdict() {
        decision.keep_sterner_shadow(Some(would));
    }
    decision.set_risk(risk);
    decision
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

    #[test]
    fn thresholds_review_then_deny_and_shadow_rules_only_record() {
        let t = Thresholds {
            review: 50,
            deny: Some(100),
        };
        assert_eq!(t.verdict(49), Verdict::Allow);
        assert_eq!(t.verdict(50), Verdict::Review);
        assert_eq!(t.verdict(100), Verdict::Deny);
        let fired = |weight, shadow| Fired {
            rule: Arc::from("r"),
            weight,
            shadow,
        };
        let risk = |score, fired| Risk {
            score,
            fired,
            ..Risk::default()
        };
        let d = apply(Decision::allow(), risk(60, vec![fired(60, false)]), 60, &t);
        assert_eq!(d.verdict(), Verdict::Review);
        assert_eq!(d.reasons(), [Reason::RiskScore]);
        assert_eq!(d.risk().map(|r| r.score), Some(60));
        let d = apply(Decision::allow(), risk(60, vec![]), 110, &t);
        assert_eq!(
            (d.verdict(), d.shadow()),
            (Verdict::Review, Some(Verdict::Deny))
        );
        let d = apply(Decision::allow(), risk(0, vec![fired(70, true)]), 70, &t);
        assert_eq!(
            (d.verdict(), d.shadow()),
            (Verdict::Allow, Some(Verdict::Review))
        );
        let d = apply(Decision::allow(), risk(120, vec![]), 120, &t);
        assert_eq!(d.denied_for(), Some(Reason::RiskScore));
        assert_eq!(
            d.risk().map(|r| r.score),
            Some(120),
            "a denial keeps its rules"
        );
    }
}
