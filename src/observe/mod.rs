//! Accounting for what happened: Prometheus [`metrics`], the [`decision_log`] (one JSON
//! line a request) and garita's own [`process_log`].

pub mod decision_log;
pub mod metrics;
pub mod process_log;
