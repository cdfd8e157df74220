//! What the gateway serves: a compiled config and the runtime built for it, held together
//! so that a reload can swap both at once.
//!
//! The decision steps that need the config, the runtime and the core together live here,
//! free of Pingora, so that the benchmarks run exactly what the proxy runs: connection
//! rules with the policy's limiter, and identity rules planned by the core, carried out by
//! the store in one call, and concluded by the core. Every store call is awaited with the
//! configured timeout, timed, and counted; a failure is logged at most once a second so
//! that an outage does not flood the log.

use crate::config::Config;
use crate::core::decision::Decision;
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::plan::{Conclude, Step, StoreAnswer, StoreFailure, StorePlan};
use crate::core::policy::PolicyId;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::IdentityFacts;
use crate::core::rules::connection::{self, ConnectionFacts};
use crate::core::rules::identity::{self, Setting};
use crate::observe::metrics::{Metrics, RouteMetrics};
use crate::state::clock::Clock;
use crate::state::runtime::{Runtime, RuntimeError};
use crate::state::store::queue::{ReviewPage, ReviewQuery};
use crate::state::store::review::{Changed, ReviewChange};
use crate::state::store::{Resolution, Resolved, Review, StoreError};
use crate::state::upstreams::Upstream;
use pingora::prelude::HttpPeer;
use prometheus::Histogram;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

/// How long an admin call may wait for the store.
const ADMIN_STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Served {
    pub config: Config,
    pub runtime: Runtime,
    pub(crate) metrics: Arc<Metrics>,
    /// Each route's metric series, resolved at load.
    route_metrics: HashMap<Box<str>, RouteMetrics>,
    /// When a store failure was last logged (Unix seconds).
    last_store_complaint: AtomicU64,
    /// The private CA the upstreams' certificates are checked against, if any, in the
    /// form Pingora takes (built here, once, not per connection).
    pub upstream_ca: Option<Arc<pingora::protocols::tls::CaType>>,
    /// The proposed config decided beside this one (`[shadow]`), if any.
    pub(crate) shadow: Option<Arc<super::shadow::Shadow>>,
    /// The writer of the evidence policies capture (`[evidence]`), if any.
    pub(crate) evidence: Option<Arc<super::evidence::Running>>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("config", &self.config.source)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Served {
    /// Serve `config`, keeping what the runtime of `previous` has that still fits.
    pub fn new(
        config: Config,
        previous: Option<&Served>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, RuntimeError> {
        Self::new_at(config, previous, metrics, None)
    }

    /// [`Served::new`] on a clock of the caller's (the demo's).
    pub fn new_at(
        config: Config,
        previous: Option<&Served>,
        metrics: Arc<Metrics>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Self, RuntimeError> {
        let runtime = Runtime::build_at(&config, previous.map(|p| &p.runtime), clock)?;
        let route_metrics = config
            .routes
            .names()
            .map(|name| (Box::from(name.as_str()), metrics.route(name)))
            .collect();
        let upstream_ca = config
            .upstream
            .tls
            .as_ref()
            .and_then(|tls| tls.ca.as_ref())
            .map(crate::proxy::tls::ca_list);
        let shadow = config.shadow.as_ref().and_then(|settings| {
            super::shadow::Shadow::keep_or_start(
                settings,
                previous.and_then(|p| p.shadow.as_ref()),
                &runtime.hasher,
                &metrics,
            )
        });
        let evidence = config.evidence.as_ref().and_then(|settings| {
            super::evidence::Running::keep_or_start(
                settings,
                previous.and_then(|p| p.evidence.as_ref()),
                &runtime,
                &metrics,
            )
        });
        Ok(Self {
            config,
            runtime,
            metrics,
            route_metrics,
            last_store_complaint: AtomicU64::new(0),
            upstream_ca,
            shadow,
            evidence,
        })
    }

    /// The peer for `upstream` under this config: what requests and health checks connect
    /// to (TLS with the private CA converted at load, the configured timeouts).
    pub fn upstream_peer(&self, upstream: &Upstream) -> HttpPeer {
        let settings = &self.config.upstream;
        let mut peer = match &settings.tls {
            Some(tls) => {
                let mut peer = HttpPeer::new(upstream.addr, true, tls.server_name.clone());
                peer.options.ca = self.upstream_ca.clone();
                peer
            }
            None => HttpPeer::new(upstream.addr, false, String::new()),
        };
        peer.options.connection_timeout = Some(settings.connect_timeout);
        peer.options.total_connection_timeout = Some(settings.connect_timeout);
        peer.options.read_timeout = Some(settings.read_timeout);
        peer.options.write_timeout = Some(settings.read_timeout);
        peer
    }

    /// A route's metric series (every route of the config has them).
    pub fn route_metrics(&self, route: &str) -> Option<&RouteMetrics> {
        self.route_metrics.get(route)
    }

    /// The connection facts of a client, and the connection rules' decision on them (not
    /// yet under the policy's mode); a shared rate limit asks the store.
    pub async fn connection(
        &self,
        policy: PolicyId,
        client: ClientIp,
    ) -> (ConnectionFacts, Decision) {
        let facts = ConnectionFacts {
            client,
            country: self.runtime.country(client.addr),
        };
        let step = connection::decide_or_plan(
            &self.config.policies[policy],
            &facts,
            self.runtime.connection_limiters(policy),
            &self.runtime.hasher,
            || self.runtime.now().as_millisecond(),
        );
        (facts, self.run(step).await)
    }

    /// The keyed hashes of a request's identity facts.
    pub fn hashes(&self, facts: &IdentityFacts) -> KeyHashes {
        KeyHashes::of(facts, &self.runtime.hasher)
    }

    /// The identity rules on top of `decision` (the connection decision under the policy's
    /// mode): plan with the core, carry the plan out in the store, conclude with the core.
    /// `country` is the client address's, for the risk rules.
    pub async fn identity(
        &self,
        policy_id: PolicyId,
        facts: &IdentityFacts,
        hashes: &KeyHashes,
        country: Option<CountryCode>,
        decision: Decision,
    ) -> Decision {
        let policy = &self.config.policies[policy_id];
        let Some(rules) = &policy.identity else {
            return decision;
        };
        let setting = Setting {
            policy: &policy.name,
            mode: policy.mode,
            on_store_error: policy.on_store_error,
            now: self.runtime.now(),
            calendar: &self.config.identity.calendar,
            country,
        };
        let step = identity::plan(rules, setting, facts, hashes, decision, |i| {
            self.runtime.identity_limiter(policy_id, i)
        });
        self.run(step).await
    }

    /// Any rule family's step: decided already, or its plan carried out by the store (in
    /// one call, within the timeout) and concluded by the core.
    pub async fn run<P: Conclude>(&self, step: Step<P>) -> P::Outcome {
        match step {
            Step::Decided(outcome) => outcome,
            Step::Ask(plan) => {
                let answer = self.execute(plan.store_plan()).await;
                plan.conclude(answer)
            }
        }
    }

    /// Have the store carry out one request's plan, within the timeout.
    pub async fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreFailure> {
        let store = &self.runtime.store;
        let seconds = &self.metrics.store.execute_seconds;
        self.ask(seconds, store.execute(plan))
            .await
            .map_err(StoreFailure::from)
    }

    /// Settle a webhook event's claim, within the timeout.
    pub async fn settle(&self, key: &str, delivered_until: Option<i64>, now: i64) {
        let store = &self.runtime.store;
        let seconds = &self.metrics.store.settle_seconds;
        // A failed settlement is counted and logged by `ask`: the claim then lapses on its
        // own, and the provider's retry is let through.
        let _ = self
            .ask(seconds, store.settle(key, delivered_until, now))
            .await;
    }

    /// Add a request forwarded for review to the queue, within the timeout.
    pub async fn record_review(&self, review: &Review) -> Result<(), StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        self.ask(seconds, self.runtime.store.add_review(review))
            .await
    }

    /// The review queue (only unresolved reviews when `pending`).
    pub async fn reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        self.ask(seconds, self.runtime.store.reviews(pending)).await
    }

    /// One review record.
    pub async fn review(&self, id: &str) -> Result<Option<Review>, StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        self.ask(seconds, self.runtime.store.review(id)).await
    }

    /// A page of the review queue, as it stands now.
    pub async fn review_page(&self, query: &ReviewQuery) -> Result<ReviewPage, StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        let now = self.runtime.now().as_second();
        self.ask(seconds, self.runtime.store.review_page(query, now))
            .await
    }

    /// Claim, release, escalate or note a review, now.
    pub async fn change_review(
        &self,
        id: &str,
        change: &ReviewChange,
    ) -> Result<Changed, StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        let now = self.runtime.now().as_second();
        self.ask(seconds, self.runtime.store.change_review(id, change, now))
            .await
    }

    /// Resolve a review; `fraud` blocks its identity keys. With `[review_events]`, the
    /// event the shop is owed goes into the outbox in the same step.
    pub async fn resolve_review(
        &self,
        id: &str,
        resolution: &Resolution,
    ) -> Result<Resolved, StoreError> {
        let seconds = &self.metrics.store.review_seconds;
        let notify = self.config.review_events.is_some();
        let resolved = self
            .ask(
                seconds,
                self.runtime.store.resolve_review(id, resolution, notify),
            )
            .await;
        if let Ok(Resolved::Now(_)) = &resolved {
            self.metrics
                .ledger
                .reviews_resolved
                .with_label_values(&[resolution.outcome.as_str()])
                .inc();
        }
        resolved
    }

    /// A payment code kept or settled, after the client has its answer: timed as a
    /// settlement.
    pub async fn code_call<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.ask(&self.metrics.store.settle_seconds, call).await
    }

    /// An admin API call to the store (block list, key lookup, readiness): timed and
    /// counted like the rest, with a longer wait allowed, as nobody's payment waits on it.
    pub async fn admin<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let timeout = self.config.state.timeout.max(ADMIN_STORE_TIMEOUT);
        self.ask_within(timeout, &self.metrics.store.admin_seconds, call)
            .await
    }

    async fn ask<T>(
        &self,
        seconds: &Histogram,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.ask_within(self.config.state.timeout, seconds, call)
            .await
    }

    async fn ask_within<T>(
        &self,
        timeout: std::time::Duration,
        seconds: &Histogram,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        // The embedded and memory stores answer on the first poll: arm the timer (a
        // runtime handle and a timer entry per call) only for an answer that has to wait.
        let mut call = std::pin::pin!(call);
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        let result = match first {
            Poll::Ready(result) => result,
            Poll::Pending => match tokio::time::timeout(timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Timeout(timeout)),
            },
        };
        seconds.observe(started.elapsed().as_secs_f64());
        let store = &self.metrics.store;
        match &result {
            Ok(_) => store.up.set(1),
            Err(e) => {
                store.up.set(0);
                store.errors.with_label_values(&[e.kind()]).inc();
                self.complain(e);
            }
        }
        result
    }

    /// Log a store failure, at most once a second.
    fn complain(&self, e: &StoreError) {
        let now = self.runtime.now().as_second().max(0) as u64;
        let last = self.last_store_complaint.load(Ordering::Relaxed);
        if now > last
            && self
                .last_store_complaint
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::error!(
                "{} store: {e}; policies apply their on_store_error until it answers again",
                self.runtime.store.backend()
            );
        }
    }
}
