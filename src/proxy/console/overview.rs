//! What the overview page reads: the last day hour by hour and the rules that fired
//! most (from garita's own counters, [`crate::observe::hourly`]), the reviews waiting,
//! the reviews resolved today with the fraud share, the amount-anomaly alarms, and the
//! health of the upstreams and the store, each as the gateway sees it now.
//!
//! What it approximates: "resolved today" walks the resolved reviews newest first by
//! when their request came, back to a week before local midnight, and counts those
//! decided since local midnight; a review decided today on a request older than a week is
//! left out. Hourly counts start at the gateway's start (see `hourly`).

use super::pages::{Overview, Resolved};
use crate::core::calendar::Period;
use crate::proxy::served::Served;
use crate::state::store::queue::{ReviewQuery, ReviewStatus, COUNT_CAP, MAX_PAGE};
use crate::state::store::review::Outcome;
use prometheus::core::Collector;

/// How far back (before local midnight) requests are walked for today's decisions.
const WALK_BACK: i64 = 7 * 86_400;

/// The values of a gauge vector by its one label, e.g. `garita_upstream_up` by upstream.
fn gauges(vec: &prometheus::IntGaugeVec) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for family in vec.collect() {
        for metric in family.get_metric() {
            let labels: Vec<&str> = metric.get_label().iter().map(|l| l.value()).collect();
            out.push((labels.join("/"), metric.get_gauge().get_value() as i64));
        }
    }
    out.sort();
    out
}

/// The reviews decided since `midnight`, by outcome.
async fn resolved_today(served: &Served, midnight: i64) -> Option<Resolved> {
    let now = served.runtime.now().as_second();
    let mut query = ReviewQuery {
        status: Some(ReviewStatus::Resolved),
        newest_first: true,
        newer_than: Some(now - midnight + WALK_BACK),
        limit: MAX_PAGE,
        ..ReviewQuery::default()
    };
    let mut out = Resolved::default();
    let mut walked = 0;
    loop {
        let page = served.review_page(&query).await.ok()?;
        walked += page.reviews.len();
        for review in &page.reviews {
            match review.resolution.as_ref().filter(|r| r.at >= midnight) {
                Some(r) if r.outcome == Outcome::Fraud => out.fraud += 1,
                Some(_) => out.approved += 1,
                None => {}
            }
        }
        match page.next {
            Some(next) if walked < COUNT_CAP => query.after = Some(next),
            _ => return Some(out),
        }
    }
}

pub(super) async fn gather(served: &Served) -> Overview {
    let now = served.runtime.now();
    let metrics = &served.metrics;
    let day = metrics
        .hourly
        .last_day(now.as_second(), &metrics.requests, &metrics.risk.fired);
    let midnight = {
        let calendar = &served.config.identity.calendar;
        let today = calendar.window(Period::Day, now);
        // A local day is 24 hours in the shop's zones (no daylight saving in Lima).
        today.ends_at.as_second() - 86_400
    };
    let waiting = served
        .review_page(&ReviewQuery {
            limit: 1,
            ..ReviewQuery::default()
        })
        .await
        .ok()
        .map(|page| (page.total, page.capped));
    let store_ok = served.admin(served.runtime.store.ping()).await.is_ok();
    Overview {
        now: now.as_second(),
        day,
        waiting,
        resolved: resolved_today(served, midnight).await,
        anomalies: gauges(&metrics.risk.anomaly)
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, _)| k)
            .collect(),
        upstreams: gauges(&metrics.upstream_up)
            .into_iter()
            .map(|(addr, up)| (addr, up > 0))
            .collect(),
        store: (served.runtime.store.backend(), store_ok),
        outbox: metrics.ledger.outbox_events.get(),
    }
}
