//! Prometheus metrics, and the small HTTP listener that serves them.
//!
//! Every name starts with `garita_`, counters end in `_total` and durations are in seconds,
//! so `promtool check metrics` accepts a scrape. Labels are bounded: route and policy names
//! come from the config, decisions and reasons from fixed code lists, status classes are
//! `1xx`..`5xx`; no client-controlled value ever becomes a label.

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub decision_seconds: HistogramVec,
    pub upstream_responses: IntCounterVec,
    pub upstream_up: IntGaugeVec,
    pub rate_limit_keys: IntGaugeVec,
    pub rate_limit_overflow: IntCounterVec,
    pub rate_limit_evicted: IntCounterVec,
    pub store_entries: IntGauge,
    /// The review queue and the block list, as the store holds them.
    pub ledger: LedgerMetrics,
    /// Samples of `requests` for the last minutes' counts.
    pub recent: super::recent::RecentDecisions,
    /// The last day hour by hour, for the console's overview.
    pub hourly: super::hourly::HourlyTotals,
    pub webhooks: IntCounterVec,
    pub store: StoreMetrics,
    pub decision_log_dropped: IntCounter,
    pub decision_log_write_errors: IntCounter,
    /// Request headers dropped for a `_` in their names.
    pub headers_dropped: IntCounter,
    pub connections: ConnectionMetrics,
    pub risk: RiskMetrics,
    pub config: ConfigMetrics,
    pub codes: super::code_metrics::CodeMetrics,
    pub shadow: super::shadow_metrics::ShadowMetrics,
    pub evidence: super::evidence::EvidenceMetrics,
}

/// What the store's ledger holds: reviews waiting for a person, and runtime blocks.
pub struct LedgerMetrics {
    pub reviews_waiting: IntGaugeVec,
    pub review_oldest_waiting_seconds: IntGauge,
    pub blocks: IntGauge,
    /// Events owed to the shop, waiting in the outbox.
    pub outbox_events: IntGauge,
    /// Deliveries of outbox events, by result (`delivered`, `failed`).
    pub outbox_deliveries: IntCounterVec,
    /// Reviews resolved, by outcome (`approved`, `fraud`).
    pub reviews_resolved: IntCounterVec,
}

/// Config reloads: how many took, how many failed, and whether the last one took.
pub struct ConfigMetrics {
    pub reloads: IntCounter,
    pub reload_failures: IntCounter,
    pub last_reload_successful: IntGauge,
}

/// The risk rules: which fired (by policy, rule and mode), and which shop-wide amount
/// anomalies hold right now.
pub struct RiskMetrics {
    pub fired: IntCounterVec,
    pub anomaly: IntGaugeVec,
}

/// Client connections: how many are open, which were turned away and why, and which were
/// closed for sending a request head too slowly.
pub struct ConnectionMetrics {
    pub open: IntGauge,
    pub refused: IntCounterVec,
    pub header_timeouts: IntCounter,
}

/// How the store answers: latency by operation (resolved once), failures by kind, and
/// whether it answered last time.
pub struct StoreMetrics {
    pub execute_seconds: Histogram,
    pub settle_seconds: Histogram,
    /// The review queue's calls: recording, listing, resolving.
    pub review_seconds: Histogram,
    /// The admin API's calls: block list, key lookups, readiness.
    pub admin_seconds: Histogram,
    pub errors: IntCounterVec,
    pub up: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "garita_requests_total",
                "Requests decided, by route, decision (allow, review, deny, shadow_deny, shadow_review, duplicate), deciding reason and the fact kind it was keyed on.",
            ),
            &["route", "decision", "reason", "fact"],
        )
        .expect("valid metric");
        let decision_seconds = HistogramVec::new(
            HistogramOpts::new(
                "garita_decision_duration_seconds",
                "Time from the request head to the decision, by route.",
            )
            .buckets(vec![
                0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
                0.01, 0.05,
            ]),
            &["route"],
        )
        .expect("valid metric");
        let upstream_responses = IntCounterVec::new(
            Opts::new(
                "garita_upstream_responses_total",
                "Responses from the backend, by route and status class.",
            ),
            &["route", "class"],
        )
        .expect("valid metric");
        let upstream_up = IntGaugeVec::new(
            Opts::new(
                "garita_upstream_up",
                "1 while an upstream is in the rotation, 0 while its health checks or failed requests keep it out, by upstream address.",
            ),
            &["upstream"],
        )
        .expect("valid metric");
        let rate_limit_keys = IntGaugeVec::new(
            Opts::new(
                "garita_rate_limit_keys",
                "Client addresses (or IPv6 prefixes) currently tracked by each policy's rate limiter.",
            ),
            &["policy"],
        )
        .expect("valid metric");
        let rate_limit_overflow = IntCounterVec::new(
            Opts::new(
                "garita_rate_limit_overflow_total",
                "Requests from new addresses counted in the shared overflow bucket because the limiter was full.",
            ),
            &["policy"],
        )
        .expect("valid metric");
        let rate_limit_evicted = IntCounterVec::new(
            Opts::new(
                "garita_rate_limit_evicted_total",
                "Idle addresses dropped from a full rate limiter to make room for new ones (a flood of new addresses shows here first).",
            ),
            &["policy"],
        )
        .expect("valid metric");
        let reviews_waiting = IntGaugeVec::new(
            Opts::new(
                "garita_reviews_waiting",
                "Reviews not yet resolved, by policy (refreshed every 10 s; counted up to 10,000).",
            ),
            &["policy"],
        )
        .expect("valid metric");
        let review_oldest_waiting_seconds = IntGauge::new(
            "garita_review_oldest_waiting_seconds",
            "Age of the oldest review not yet resolved, in seconds; 0 when none waits.",
        )
        .expect("valid metric");
        let blocks = IntGauge::new(
            "garita_blocks",
            "Identity keys on the store's runtime block list (admin blocks and fraud resolutions).",
        )
        .expect("valid metric");
        let outbox_events = IntGauge::new(
            "garita_outbox_events",
            "Events owed to the shop's backend (review resolutions) not yet delivered.",
        )
        .expect("valid metric");
        let outbox_deliveries = IntCounterVec::new(
            Opts::new(
                "garita_outbox_deliveries_total",
                "Deliveries of outbox events to the shop, by result (delivered, failed).",
            ),
            &["result"],
        )
        .expect("valid metric");
        let reviews_resolved = IntCounterVec::new(
            Opts::new(
                "garita_reviews_resolved_total",
                "Reviews resolved by a person, by outcome (approved, fraud).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let store_entries = IntGauge::new(
            "garita_store_entries",
            "Quota counters and binding sets held by the identity store.",
        )
        .expect("valid metric");
        let webhooks = IntCounterVec::new(
            Opts::new(
                "garita_webhooks_total",
                "Webhook notifications by profile and outcome (verified, duplicate, in_flight, or why verification failed).",
            ),
            &["profile", "outcome"],
        )
        .expect("valid metric");
        let store_seconds = HistogramVec::new(
            HistogramOpts::new(
                "garita_store_duration_seconds",
                "Time the identity store took to answer, by operation (execute: one request's plan; settle: a delivered or failed webhook; review: the review queue; admin: the admin API's block list, key lookups and readiness checks).",
            )
            .buckets(vec![
                0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            ]),
            &["op"],
        )
        .expect("valid metric");
        let store_errors = IntCounterVec::new(
            Opts::new(
                "garita_store_errors_total",
                "Store calls that failed, by kind (timeout, unavailable, corrupt).",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let store_up = IntGauge::new(
            "garita_store_up",
            "1 if the identity store answered the last call, 0 if it failed.",
        )
        .expect("valid metric");
        store_up.set(1);
        let decision_log_dropped = IntCounter::new(
            "garita_decision_log_dropped_total",
            "Decision-log lines dropped: the log's writer fell a queue's worth behind, or a write failed.",
        )
        .expect("valid metric");
        let connections_open = IntGauge::new(
            "garita_connections_open",
            "Client connections open on the proxy listeners.",
        )
        .expect("valid metric");
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "garita_connections_refused_total",
                "Client connections closed on accept, by the cap they were over (max_connections, max_connections_per_address).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let header_timeouts = IntCounter::new(
            "garita_header_timeouts_total",
            "Client connections closed because a request head did not arrive within the listener's header_timeout_seconds (server, admin or metrics).",
        )
        .expect("valid metric");
        let headers_dropped = IntCounter::new(
            "garita_request_headers_dropped_total",
            "Request headers dropped because their names contain '_' (server.underscores_in_headers = \"drop\"): backends that map '_' to '-' would read them as other headers.",
        )
        .expect("valid metric");
        let decision_log_write_errors = IntCounter::new(
            "garita_decision_log_write_errors_total",
            "Writes of a batch of decision-log lines that failed (disk full, file not writable); its lines are counted as dropped.",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "garita_build_info",
                "Always 1; the version of the running garita.",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let risk_fired = IntCounterVec::new(
            Opts::new(
                "garita_risk_rules_fired_total",
                "Risk rules that fired, by policy, rule and mode (enforce, or shadow: logged, not scored).",
            ),
            &["policy", "rule", "mode"],
        )
        .expect("valid metric");
        let amount_anomaly = IntGaugeVec::new(
            Opts::new(
                "garita_amount_anomaly",
                "1 while the shop's takings today are above the amount_anomaly rule's share of their trailing mean, by policy, rule and currency; 0 once they are not.",
            ),
            &["policy", "rule", "currency"],
        )
        .expect("valid metric");
        let reloads = IntCounter::new(
            "garita_config_reloads_total",
            "Configuration reloads that took (by SIGHUP, POST /admin/reload or a watched file).",
        )
        .expect("valid metric");
        let reload_failures = IntCounter::new(
            "garita_config_reload_failures_total",
            "Configuration reloads refused because the new configuration did not compile or could not be served; the running one stayed.",
        )
        .expect("valid metric");
        let last_reload_successful = IntGauge::new(
            "garita_config_last_reload_successful",
            "1 if the last configuration reload took (or none was tried), 0 if it failed and an older configuration is serving.",
        )
        .expect("valid metric");
        last_reload_successful.set(1);
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reloads.clone()),
            Box::new(reload_failures.clone()),
            Box::new(last_reload_successful.clone()),
            Box::new(risk_fired.clone()),
            Box::new(amount_anomaly.clone()),
            Box::new(decision_seconds.clone()),
            Box::new(upstream_responses.clone()),
            Box::new(upstream_up.clone()),
            Box::new(rate_limit_keys.clone()),
            Box::new(rate_limit_overflow.clone()),
            Box::new(rate_limit_evicted.clone()),
            Box::new(store_entries.clone()),
            Box::new(reviews_waiting.clone()),
            Box::new(review_oldest_waiting_seconds.clone()),
            Box::new(blocks.clone()),
            Box::new(outbox_events.clone()),
            Box::new(outbox_deliveries.clone()),
            Box::new(reviews_resolved.clone()),
            Box::new(webhooks.clone()),
            Box::new(store_seconds.clone()),
            Box::new(store_errors.clone()),
            Box::new(store_up.clone()),
            Box::new(decision_log_dropped.clone()),
            Box::new(decision_log_write_errors.clone()),
            Box::new(headers_dropped.clone()),
            Box::new(connections_open.clone()),
            Box::new(connections_refused.clone()),
            Box::new(header_timeouts.clone()),
            Box::new(build_info),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        let codes = super::code_metrics::CodeMetrics::new(&registry);
        let shadow = super::shadow_metrics::ShadowMetrics::new(&registry);
        let evidence = super::evidence::EvidenceMetrics::new(&registry);
        // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds...
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric names");
        Self {
            registry,
            requests,
            decision_seconds,
            upstream_responses,
            upstream_up,
            rate_limit_keys,
            rate_limit_overflow,
            rate_limit_evicted,
            store_entries,
            ledger: LedgerMetrics {
                reviews_waiting,
                review_oldest_waiting_seconds,
                blocks,
                outbox_events,
                outbox_deliveries,
                reviews_resolved,
            },
            recent: Default::default(),
            hourly: Default::default(),
            webhooks,
            codes,
            shadow,
            evidence,
            store: StoreMetrics {
                execute_seconds: store_seconds.with_label_values(&["execute"]),
                settle_seconds: store_seconds.with_label_values(&["settle"]),
                review_seconds: store_seconds.with_label_values(&["review"]),
                admin_seconds: store_seconds.with_label_values(&["admin"]),
                errors: store_errors,
                up: store_up,
            },
            decision_log_dropped,
            decision_log_write_errors,
            headers_dropped,
            connections: ConnectionMetrics {
                open: connections_open,
                refused: connections_refused,
                header_timeouts,
            },
            risk: RiskMetrics {
                fired: risk_fired,
                anomaly: amount_anomaly,
            },
            config: ConfigMetrics {
                reloads,
                reload_failures,
                last_reload_successful,
            },
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding to memory");
        out
    }
}

/// One route's most frequent series, resolved once when a config is loaded: a label
/// lookup takes a lock and hashes every label, which the hot path should not pay.
pub struct RouteMetrics {
    pub decision_seconds: Histogram,
    /// `garita_requests_total{decision="allow",reason="none",fact=""}`.
    pub allowed: IntCounter,
    /// The backend's answers by status class, `1xx` to `5xx`, then `error`.
    upstream: [IntCounter; 6],
}

impl RouteMetrics {
    /// The backend answered `status`, or (`None`) never did.
    pub fn upstream(&self, status: Option<u16>) -> &IntCounter {
        &self.upstream[class_index(status)]
    }
}

impl Metrics {
    /// The series of `route`, resolved now.
    pub fn route(&self, route: &str) -> RouteMetrics {
        let class = |c: &str| self.upstream_responses.with_label_values(&[route, c]);
        RouteMetrics {
            decision_seconds: self.decision_seconds.with_label_values(&[route]),
            allowed: self
                .requests
                .with_label_values(&[route, "allow", "none", ""]),
            upstream: UPSTREAM_CLASSES.map(class),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `class` label of `garita_upstream_responses_total`: a status class, or `error` when
/// the backend never answered.
const UPSTREAM_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

fn class_index(status: Option<u16>) -> usize {
    match status {
        Some(100..=199) => 0,
        Some(200..=299) => 1,
        Some(300..=399) => 2,
        Some(400..=499) => 3,
        Some(_) => 4,
        None => 5,
    }
}

/// "2xx" for 204 and so on; "error" for no answer.
pub fn upstream_class(status: Option<u16>) -> &'static str {
    UPSTREAM_CLASSES[class_index(status)]
}

/// Serves `GET /metrics` and `GET /healthz` on the metrics listener.
pub struct MetricsApp {
    metrics: Arc<Metrics>,
}

impl MetricsApp {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

#[async_trait]
impl ServeHttp for MetricsApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path();
        let (status, content_type, body) = match path {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics.render(),
            ),
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            _ => (404, "text/plain", b"not found\n".to_vec()),
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body)
            .expect("valid response")
    }
}
