//! The last day, hour by hour, for the console's overview: decisions by verdict per hour
//! and the risk rules that fired most, from garita's own counters, with no Prometheus.
//!
//! Housekeeping takes a sample of `garita_requests_total` (by decision) and
//! `garita_risk_rules_fired_total` (by policy, rule and mode) the first time it runs in
//! each hour, and keeps a little over a day of them; an hour's count is the difference
//! between its sample and the next (the current hour's, between its sample and the
//! counters now). The hot path pays nothing: it only increments the counters it already
//! did. What it approximates: the counters live in the process, so the day starts at the
//! gateway's start, and an hour's sample is taken up to a housekeeping tick (10 s) after
//! the hour begins, so a few seconds of traffic may count in the hour before.

use prometheus::core::Collector;
use prometheus::IntCounterVec;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

const HOUR: i64 = 3_600;
/// Samples kept: a day and its edges.
const KEEP: usize = 26;

/// Totals of one counter, by the label values named.
pub type Totals = BTreeMap<String, u64>;

struct Sample {
    /// The start of the UTC hour it was taken in (Unix seconds).
    hour: i64,
    decisions: Totals,
    rules: Totals,
}

#[derive(Default)]
pub struct HourlyTotals {
    samples: Mutex<VecDeque<Sample>>,
}

/// The totals of `counter` keyed by the values of `labels`, joined with `/`.
pub fn totals(counter: &IntCounterVec, labels: &[&str]) -> Totals {
    let mut out = Totals::new();
    for family in counter.collect() {
        for metric in family.get_metric() {
            let key: Vec<&str> = labels
                .iter()
                .map(|name| {
                    metric
                        .get_label()
                        .iter()
                        .find(|l| l.name() == *name)
                        .map_or("", |l| l.value())
                })
                .collect();
            *out.entry(key.join("/")).or_default() += metric.get_counter().get_value() as u64;
        }
    }
    out
}

fn minus(now: &Totals, then: &Totals) -> Totals {
    now.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(then.get(k).copied().unwrap_or(0)),
            )
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// What the overview shows of the last day.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LastDay {
    /// (hour start, decisions by verdict), oldest first, one per hour with a sample.
    pub hours: Vec<(i64, Totals)>,
    /// Rules fired over the span, keyed `policy/rule/mode`.
    pub rules: Totals,
    /// Where the span starts (the oldest sample used), Unix seconds.
    pub since: Option<i64>,
}

impl HourlyTotals {
    /// Take the hour's sample at `now` unless it was taken.
    pub fn sample(&self, now: i64, requests: &IntCounterVec, fired: &IntCounterVec) {
        let hour = now - now.rem_euclid(HOUR);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.back().is_some_and(|s| s.hour >= hour) {
            return;
        }
        samples.push_back(Sample {
            hour,
            decisions: totals(requests, &["decision"]),
            rules: totals(fired, &["policy", "rule", "mode"]),
        });
        while samples.len() > KEEP {
            samples.pop_front();
        }
    }

    /// The last 24 hours (as far as the samples reach) up to `now`.
    pub fn last_day(&self, now: i64, requests: &IntCounterVec, fired: &IntCounterVec) -> LastDay {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let from = now - now.rem_euclid(HOUR) - 23 * HOUR;
        let kept: Vec<&Sample> = samples.iter().filter(|s| s.hour >= from).collect();
        let Some(first) = kept.first() else {
            return LastDay::default();
        };
        let decisions_now = totals(requests, &["decision"]);
        let mut hours = Vec::with_capacity(kept.len());
        for (i, sample) in kept.iter().enumerate() {
            let next = kept.get(i + 1).map_or(&decisions_now, |s| &s.decisions);
            hours.push((sample.hour, minus(next, &sample.decisions)));
        }
        LastDay {
            hours,
            rules: minus(&totals(fired, &["policy", "rule", "mode"]), &first.rules),
            since: Some(first.hour),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hours_count_is_the_difference_between_its_sample_and_the_next() {
        let requests = IntCounterVec::new(
            prometheus::Opts::new("t_requests_total", "t"),
            &["route", "decision"],
        )
        .unwrap();
        let fired = IntCounterVec::new(
            prometheus::Opts::new("t_fired_total", "t"),
            &["policy", "rule", "mode"],
        )
        .unwrap();
        let hourly = HourlyTotals::default();
        let ten = 1_764_064_800; // 2025-11-25T10:00:00Z
        requests.with_label_values(&["a", "allow"]).inc_by(5);
        hourly.sample(ten + 10, &requests, &fired);
        requests.with_label_values(&["a", "allow"]).inc_by(3);
        requests.with_label_values(&["a", "review"]).inc();
        hourly.sample(ten + 600, &requests, &fired); // the same hour: no new sample
        hourly.sample(ten + HOUR + 5, &requests, &fired);
        requests.with_label_values(&["b", "deny"]).inc_by(2);
        fired
            .with_label_values(&["cips", "large_order", "enforce"])
            .inc();
        let day = hourly.last_day(ten + HOUR + 100, &requests, &fired);
        assert_eq!(day.since, Some(ten));
        assert_eq!(day.hours.len(), 2);
        assert_eq!(day.hours[0].0, ten);
        assert_eq!(day.hours[0].1.get("allow"), Some(&3));
        assert_eq!(day.hours[0].1.get("review"), Some(&1));
        assert_eq!(day.hours[1].1.get("deny"), Some(&2));
        assert_eq!(day.hours[1].1.get("allow"), None);
        assert_eq!(day.rules.get("cips/large_order/enforce"), Some(&1));
        // A day later the first hours have left the window.
        let later = hourly.last_day(ten + 25 * HOUR, &requests, &fired);
        assert!(later.hours.is_empty() && later.since.is_none());
    }
}
