//! Housekeeping, a background service: every 10 s, idle rate-limiter keys are dropped,
//! expired store entries purged and the gauges refreshed; every 250 ms the limiters are
//! asked whether a flood of new keys wants an early sweep. At a graceful stop the store
//! writes back what it held back. It works on whatever config is serving at each tick.

use crate::observe::metrics::Metrics;
use crate::proxy::reload::Serving;
use crate::state::store::queue::ReviewQuery;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often idle rate-limiter keys are dropped and gauges refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);
/// How often the limiters are asked whether a flood of new keys wants an early sweep.
const SWEEP_CHECK_EVERY: Duration = Duration::from_millis(250);

/// Drops idle rate-limiter keys and expired store entries, and refreshes the gauges.
pub struct Housekeeping {
    pub serving: Arc<Serving>,
    pub metrics: Arc<Metrics>,
}

impl Housekeeping {
    async fn tick(&self, reported: &mut HashMap<(String, usize), u64>) {
        let served = self.serving.current();
        let runtime = &served.runtime;
        for limiter in runtime.all_limiters() {
            limiter.housekeeping();
        }
        for (policy, limiter) in runtime.ip_limiters() {
            self.metrics
                .rate_limit_keys
                .with_label_values(&[&policy])
                .set(i64::try_from(limiter.key_count()).unwrap_or(i64::MAX));
            // The limiters count since start; the counters get what is new since last time.
            let totals = [
                (&self.metrics.rate_limit_overflow, limiter.overflowed()),
                (&self.metrics.rate_limit_evicted, limiter.evicted()),
            ];
            for (i, (counter, total)) in totals.into_iter().enumerate() {
                let reported = reported.entry((policy.to_string(), i)).or_default();
                counter
                    .with_label_values(&[&policy])
                    .inc_by(total.saturating_sub(*reported));
                *reported = total;
            }
        }
        let store = &runtime.store;
        if let Err(e) = store.purge_expired(runtime.now().as_second()).await {
            log::error!("housekeeping: {e}");
        }
        if let Ok(size) = store.size().await {
            self.metrics
                .store_entries
                .set(i64::try_from(size).unwrap_or(i64::MAX));
        }
        self.refresh_ledger(&served).await;
        self.refresh_heartbeat(&served).await;
        let now = runtime.now().as_second();
        self.metrics.recent.sample(now, &self.metrics.requests);
        self.metrics
            .hourly
            .sample(now, &self.metrics.requests, &self.metrics.risk.fired);
    }

    /// The payment codes' gauges: codes still open, whether the shop is open, and a
    /// start for each webhook route's heartbeat, so that a route that never verified a
    /// notification since garita started reads as silent since then (not as absent).
    async fn refresh_heartbeat(&self, served: &crate::proxy::served::Served) {
        let codes = &self.metrics.codes;
        let now = served.runtime.now();
        if let Ok(open) = served.runtime.store.open_codes(now.as_second()).await {
            codes.open.set(i64::try_from(open).unwrap_or(i64::MAX));
        }
        let inside = served.config.identity.in_business_hours(now);
        codes.business_hours.set(i64::from(inside));
        for route in served.config.routes.routes() {
            let Some(rule) = &served.config.policies[route.policy].webhook else {
                continue;
            };
            let heartbeat = codes
                .last_verified
                .with_label_values(&[route.name.as_str(), rule.profile.name()]);
            if heartbeat.get() == 0 {
                heartbeat.set(now.as_second());
            }
        }
    }

    /// The review queue's and the block list's gauges. On Redis this lists the review
    /// index and scans the blocks every tick: fine for a queue people work through, to be
    /// replaced by kept counts when queues grow to the hundreds of thousands.
    async fn refresh_ledger(&self, served: &crate::proxy::served::Served) {
        let ledger = &self.metrics.ledger;
        // Counted by the queue's own walk (at most COUNT_CAP per policy), never by
        // listing every open review.
        let open = |policy: Option<&str>| ReviewQuery {
            policy: policy.map(String::from),
            limit: 1,
            ..ReviewQuery::default()
        };
        for (_, policy) in served.config.policies.iter() {
            if let Ok(page) = served.review_page(&open(Some(&policy.name))).await {
                ledger
                    .reviews_waiting
                    .with_label_values(&[&policy.name])
                    .set(i64::try_from(page.total).unwrap_or(i64::MAX));
            }
        }
        if let Ok(page) = served.review_page(&open(None)).await {
            let now = served.runtime.now().as_second();
            let oldest = page.reviews.first().map_or(0, |r| now - r.at);
            ledger.review_oldest_waiting_seconds.set(oldest.max(0));
        }
        if let Ok(blocks) = served.runtime.store.blocks().await {
            ledger
                .blocks
                .set(i64::try_from(blocks.len()).unwrap_or(i64::MAX));
        }
    }
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut reported = HashMap::new();
        let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
        let mut early = tokio::time::interval(SWEEP_CHECK_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => self.tick(&mut reported).await,
                _ = early.tick() => {
                    for limiter in self.serving.current().runtime.all_limiters() {
                        limiter.sweep_if_asked();
                    }
                }
                _ = shutdown.changed() => {
                    // A graceful stop loses nothing that was written behind.
                    if let Err(e) = self.serving.current().runtime.store.flush().await {
                        log::error!("at shutdown: {e}");
                    }
                    return;
                }
            }
        }
    }
}
