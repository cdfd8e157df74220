//! Accounting for what happened: Prometheus [`metrics`], the [`decision_log`] (one JSON
//! line a request, the audit trail), its files on disk ([`audit_files`]: daily rotation,
//! compression, retention) and garita's own [`process_log`].

pub mod audit_files;
pub mod decision_log;
pub mod metrics;
pub mod process_log;
