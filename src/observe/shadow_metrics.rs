//! The shadow policy's metrics: how the proposed config decided beside the live one, and
//! the requests it did not decide (its queue full, or nothing it could decide again).
//!
//! Labels are bounded: decisions come from the fixed list of decision labels, reasons
//! from a fixed list.

use prometheus::{IntCounterVec, Opts, Registry};

pub struct ShadowMetrics {
    /// Requests decided by both, by the live decision and the shadow's.
    pub decisions: IntCounterVec,
    /// Requests the shadow did not decide, by reason (`busy`, `budget`, `not_replayable`).
    pub skipped: IntCounterVec,
}

impl ShadowMetrics {
    pub fn new(registry: &Registry) -> Self {
        let decisions = IntCounterVec::new(
            Opts::new(
                "garita_shadow_decisions_total",
                "Requests decided again under the shadow config ([shadow]), by the live decision and the shadow's; where they differ, the proposal would change an answer.",
            ),
            &["live", "shadow"],
        )
        .expect("valid metric");
        let skipped = IntCounterVec::new(
            Opts::new(
                "garita_shadow_skipped_total",
                "Requests the shadow config did not decide, by reason (busy: its queue was full; budget: it had used its max_cpu_percent of the second; not_replayable: no facts to decide on).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(decisions.clone()))
            .expect("unique metric names");
        registry
            .register(Box::new(skipped.clone()))
            .expect("unique metric names");
        Self { decisions, skipped }
    }
}
