//! The payment codes' metrics: codes the backend created and garita kept (or why not),
//! notifications that settled them, when each webhook route last verified a notification
//! (the heartbeat), the codes still open, and whether the shop is open (for the alert
//! rules that only page while it sells).
//!
//! Labels are bounded: routes and profiles come from the config, outcomes and events from
//! fixed lists; a code never becomes a label.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub struct CodeMetrics {
    /// Creation answers by route and outcome (`kept`, `known`, or why no code was read:
    /// `not_created`, `compressed`, `oversized`, `not_json`, `missing`, `store_error`).
    pub created: IntCounterVec,
    /// Verified, delivered notifications by event and outcome (`counted`, `repeat`,
    /// `unknown_code`, `store_error`), and `not_a_code` under event `none`.
    pub settlements: IntCounterVec,
    /// Unix time of the last verified notification, by route and profile.
    pub last_verified: IntGaugeVec,
    /// Codes held that are neither paid nor expired.
    pub open: IntGauge,
    /// 1 inside `identity.business_hours` (or when none are set), else 0.
    pub business_hours: IntGauge,
}

impl CodeMetrics {
    pub fn new(registry: &Registry) -> Self {
        let created = IntCounterVec::new(
            Opts::new(
                "garita_payment_codes_total",
                "Answers to payment-code creation requests, by route and outcome (kept; known: kept before; or why no code was kept: not_created, compressed, oversized, not_json, missing, store_error).",
            ),
            &["route", "outcome"],
        )
        .expect("valid metric");
        let settlements = IntCounterVec::new(
            Opts::new(
                "garita_code_settlements_total",
                "Verified notifications delivered to the backend that settle a payment code, by event (paid, expired, refunded; none when the notification names no code) and outcome (counted, repeat, unknown_code, not_a_code, store_error).",
            ),
            &["event", "outcome"],
        )
        .expect("valid metric");
        let last_verified = IntGaugeVec::new(
            Opts::new(
                "garita_webhook_last_verified_timestamp_seconds",
                "Unix time of the last notification whose signature verified, by route and profile.",
            ),
            &["route", "profile"],
        )
        .expect("valid metric");
        let open = IntGauge::new(
            "garita_payment_codes_open",
            "Payment codes held that are neither paid nor expired yet.",
        )
        .expect("valid metric");
        let business_hours = IntGauge::new(
            "garita_shop_open",
            "1 inside the shop's business hours (identity.business_hours, in its time zone; every hour when unset), else 0.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(created.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(settlements.clone()),
            Box::new(last_verified.clone()),
            Box::new(open.clone()),
            Box::new(business_hours.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Self {
            created,
            settlements,
            last_verified,
            open,
            business_hours,
        }
    }
}
