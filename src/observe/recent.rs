//! Decisions of the last few minutes, for `garita status`: the totals of
//! `garita_requests_total` by decision, sampled by housekeeping every 10 s and kept for a
//! little over five minutes, so that a recent count costs the hot path nothing (it is the
//! difference of two samples). What it approximates: the window is whole samples, so
//! "the last 5 minutes" is 5 minutes give or take one housekeeping tick, and less right
//! after a start.

use prometheus::core::Collector;
use prometheus::IntCounterVec;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// How long samples are kept, in seconds.
const KEEP_SECONDS: i64 = 330;

#[derive(Default)]
pub struct RecentDecisions {
    /// (Unix seconds, totals by decision label), oldest first.
    samples: Mutex<VecDeque<(i64, BTreeMap<String, u64>)>>,
}

/// The totals of `requests` (`garita_requests_total`) by its `decision` label.
fn totals(requests: &IntCounterVec) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for family in requests.collect() {
        for metric in family.get_metric() {
            let decision = metric
                .get_label()
                .iter()
                .find(|l| l.name() == "decision")
                .map(|l| l.value().to_string())
                .unwrap_or_default();
            *out.entry(decision).or_default() += metric.get_counter().get_value() as u64;
        }
    }
    out
}

impl RecentDecisions {
    /// Take a sample at `now` (Unix seconds).
    pub fn sample(&self, now: i64, requests: &IntCounterVec) {
        let sample = totals(requests);
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.push_back((now, sample));
        while samples
            .front()
            .is_some_and(|(at, _)| now - at > KEEP_SECONDS)
        {
            samples.pop_front();
        }
    }

    /// Decisions by label over about the last `seconds` (at most what the samples span),
    /// and the span they cover in seconds.
    pub fn last(
        &self,
        seconds: i64,
        requests: &IntCounterVec,
        now: i64,
    ) -> (BTreeMap<String, u64>, i64) {
        let current = totals(requests);
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let since = samples.iter().find(|(at, _)| now - at <= seconds);
        let Some((at, before)) = since else {
            return (current, 0);
        };
        let diff = current
            .iter()
            .map(|(label, total)| {
                let then = before.get(label).copied().unwrap_or(0);
                (label.clone(), total.saturating_sub(then))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        (diff, now - at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recent_count_is_the_difference_of_two_samples() {
        let requests = IntCounterVec::new(
            prometheus::Opts::new("t_requests_total", "t"),
            &["route", "decision"],
        )
        .unwrap();
        let recent = RecentDecisions::default();
        requests.with_label_values(&["a", "allow"]).inc_by(10);
        recent.sample(1_000, &requests);
        requests.with_label_values(&["a", "allow"]).inc_by(3);
        requests.with_label_values(&["b", "deny"]).inc_by(2);
        recent.sample(1_100, &requests);
        let (counts, span) = recent.last(300, &requests, 1_200);
        assert_eq!(span, 200);
        assert_eq!(counts.get("allow"), Some(&3));
        assert_eq!(counts.get("deny"), Some(&2));
        // Samples older than the window are dropped as new ones come.
        recent.sample(1_400, &requests);
        assert_eq!(recent.samples.lock().unwrap().len(), 2);
    }
}
