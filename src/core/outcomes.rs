//! Outcomes as labels, and what they teach the risk rules.
//!
//! What later became of a request labels it: a review resolved as fraud, or a payment
//! code it created that was refunded (a provider's chargeback-like event maps onto
//! `refunded` in `settles`), makes it bad; a review approved, or a code paid and not
//! refunded within `good_after` seconds of its payment, makes it good. Bad wins over
//! good. A request with no outcome yet, or a code paid too recently to tell, is left
//! unlabelled and counts for nothing.
//!
//! Per risk rule, over the labelled requests it fired on: its precision (bad among the
//! labelled it fired on), the share of all bad requests it caught, and a suggested weight
//! proportional to its precision: `review × precision / review_at`, so that a rule whose
//! firing alone means bad with probability `review_at` reaches the review threshold by
//! itself, and one half as precise needs another rule beside it. What it approximates:
//! rules are taken one at a time (two rules that always fire together are each credited
//! in full), and labels come only from what reviewers and notifications said, so a fraud
//! that nobody reviewed and that paid looks good.

use std::collections::{BTreeMap, HashMap};

/// What an outcome says of the request it labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Bad,
    Good,
}

/// One outcome, as the audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A review resolved as fraud.
    Fraud,
    /// A review approved.
    Approved,
    /// The request's code paid, at this Unix time.
    Paid(i64),
    /// The request's code refunded.
    Refunded,
}

#[derive(Debug, Default, Clone, Copy)]
struct Evidence {
    bad: bool,
    approved: bool,
    paid_at: Option<i64>,
}

/// The outcomes known per request id.
#[derive(Debug, Default)]
pub struct Labels {
    by_request: HashMap<String, Evidence>,
    /// How many outcomes of each kind were read: fraud, approved, paid, refunded.
    pub read: [u64; 4],
}

impl Labels {
    pub fn add(&mut self, request: &str, outcome: Outcome) {
        let evidence = self.by_request.entry(request.to_string()).or_default();
        let slot = match outcome {
            Outcome::Fraud => {
                evidence.bad = true;
                0
            }
            Outcome::Approved => {
                evidence.approved = true;
                1
            }
            Outcome::Paid(at) => {
                evidence.paid_at = Some(evidence.paid_at.map_or(at, |t| t.min(at)));
                2
            }
            Outcome::Refunded => {
                evidence.bad = true;
                3
            }
        };
        self.read[slot] += 1;
    }

    /// The request's label, the trail read up to `horizon` (Unix seconds): a payment
    /// counts as good once `good_after` seconds passed without a refund.
    pub fn label(&self, request: &str, horizon: i64, good_after: i64) -> Option<Label> {
        let evidence = self.by_request.get(request)?;
        if evidence.bad {
            return Some(Label::Bad);
        }
        let kept = evidence
            .paid_at
            .is_some_and(|at| at.saturating_add(good_after) <= horizon);
        (evidence.approved || kept).then_some(Label::Good)
    }
}

/// How one rule fared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RuleTally {
    pub fired: u64,
    pub bad: u64,
    pub good: u64,
}

impl RuleTally {
    pub fn labelled(&self) -> u64 {
        self.bad + self.good
    }
}

/// The requests of one policy.
#[derive(Debug, Default, Clone)]
pub struct PolicyTally {
    pub requests: u64,
    pub bad: u64,
    pub good: u64,
    pub rules: BTreeMap<String, RuleTally>,
}

impl PolicyTally {
    /// One decided request, the rules that fired on it (shadow ones too) and its label.
    pub fn add<'a>(&mut self, fired: impl IntoIterator<Item = &'a str>, label: Option<Label>) {
        self.requests += 1;
        match label {
            Some(Label::Bad) => self.bad += 1,
            Some(Label::Good) => self.good += 1,
            None => {}
        }
        for rule in fired {
            let tally = self.rules.entry(rule.to_string()).or_default();
            tally.fired += 1;
            match label {
                Some(Label::Bad) => tally.bad += 1,
                Some(Label::Good) => tally.good += 1,
                None => {}
            }
        }
    }
}

/// A weight a rule's labels suggest, and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// `None`: too few labels to say; keep the weight.
    pub weight: Option<u32>,
    pub how: String,
}

/// How suggestions are computed.
#[derive(Debug, Clone, Copy)]
pub struct Teaching {
    /// The precision at which one rule alone should reach the review threshold.
    pub review_at: f64,
    /// Fewer labelled firings than this suggest nothing.
    pub min_labelled: u64,
}

impl Default for Teaching {
    fn default() -> Self {
        Self {
            review_at: 0.5,
            min_labelled: 20,
        }
    }
}

/// `part/whole = 75.0%`, or `-` when nothing to divide.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!(
        "{part}/{whole} = {:.1}%",
        part as f64 * 100.0 / whole as f64
    )
}

impl Teaching {
    pub fn suggest(&self, tally: &RuleTally, review: u32) -> Suggestion {
        let labelled = tally.labelled();
        if labelled < self.min_labelled.max(1) {
            return Suggestion {
                weight: None,
                how: format!(
                    "too few labelled ({labelled} < {}): keep",
                    self.min_labelled.max(1)
                ),
            };
        }
        let precision = tally.bad as f64 / labelled as f64;
        let weight = (f64::from(review) * precision / self.review_at).round() as u32;
        Suggestion {
            weight: Some(weight),
            how: format!(
                "{review} x {:.1}% / {:.0}%",
                precision * 100.0,
                self.review_at * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_wins_and_a_payment_is_good_only_once_it_stayed_paid() {
        let mut labels = Labels::default();
        labels.add("a", Outcome::Approved);
        labels.add("a", Outcome::Refunded);
        labels.add("b", Outcome::Paid(1_000));
        labels.add("c", Outcome::Fraud);
        assert_eq!(labels.label("a", 0, 0), Some(Label::Bad));
        assert_eq!(labels.label("b", 1_000 + 99, 100), None, "too soon");
        assert_eq!(labels.label("b", 1_000 + 100, 100), Some(Label::Good));
        assert_eq!(labels.label("c", 0, 0), Some(Label::Bad));
        assert_eq!(labels.label("d", i64::MAX, 0), None);
        assert_eq!(labels.read, [1, 1, 1, 1]);
    }

    #[test]
    fn a_rules_weight_follows_its_precision() {
        let mut policy = PolicyTally::default();
        for _ in 0..3 {
            policy.add(["large_order"], Some(Label::Bad));
        }
        policy.add(["large_order", "hours"], Some(Label::Good));
        policy.add(["hours"], None);
        policy.add([], Some(Label::Bad));
        assert_eq!((policy.requests, policy.bad, policy.good), (6, 4, 1));
        let large = policy.rules["large_order"];
        assert_eq!((large.fired, large.bad, large.good), (4, 3, 1));
        assert_eq!(share(large.bad, large.labelled()), "3/4 = 75.0%");
        assert_eq!(share(large.bad, policy.bad), "3/4 = 75.0%");
        let teaching = Teaching {
            review_at: 0.5,
            min_labelled: 4,
        };
        let s = teaching.suggest(&large, 50);
        assert_eq!(s.weight, Some(75));
        assert_eq!(s.how, "50 x 75.0% / 50%");
        let hours = policy.rules["hours"];
        assert_eq!(teaching.suggest(&hours, 50).weight, None);
        assert_eq!(share(0, 0), "-");
    }
}
