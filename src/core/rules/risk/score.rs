//! The score: the policy's risk rules judged and totalled, and the total turned into a
//! verdict.
//!
//! Each [`RiskRule`] has a weight and a mode of its own. A rule that fires adds its weight
//! to the request's score; a policy's [`Thresholds`] turn the score into a review or a
//! denial (`risk_score`). A rule in `shadow` mode is judged all the same, and logged with
//! what it would have added, but adds nothing: what the score would have been with it is
//! kept as the decision's shadow verdict. Block lists, quotas and bindings are not scored:
//! they still deny on their own, before any risk rule is asked.
//!
//! How each check plans and is judged is the contract in [`super`]; this file dispatches
//! to the checks, judges every planned one on the store's answer ([`RiskPlan::conclude`])
//! and totals their weights.
//!
//! What it approximates: risk counters count every request that passed the hard rules,
//! including one the score then denies (the store is asked once, before the score is
//! known).

use super::{amounts, codes, country, newness, time};
use super::{Buckets, Pending, RiskCheck, RiskContext};
use crate::core::decision::{Decision, Fired, Mode, Reason, Risk, Verdict};
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
    UnpaidCodes(codes::UnpaidCodes),
    PaidRatio(codes::PaidRatio),
    Refunds(codes::Refunds),
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

impl Check {
    fn as_check(&self) -> &dyn RiskCheck {
        match self {
            Check::LargeOrder(rule) => rule,
            Check::Sum(rule) => rule,
            Check::Structuring(rule) => rule,
            Check::Anomaly(rule) => rule,
            Check::FirstOrder(rule) => rule,
            Check::NewDevice(rule) => rule,
            Check::FirstLargeOrder(rule) => rule,
            Check::Hours(rule) => rule,
            Check::CountryMismatch(rule) => rule,
            Check::UnpaidCodes(rule) => rule,
            Check::PaidRatio(rule) => rule,
            Check::Refunds(rule) => rule,
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
            .filter_map(|(i, rule)| rule.check.as_check().plan(cx, buckets).map(|p| (i, p)))
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
                seen: pending.seen(counts),
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
            seen: None,
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
