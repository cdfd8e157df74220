//! Accounting for what happened: Prometheus [`metrics`], the [`decision_log`] (one JSON
//! line a request, the audit trail), its files on disk ([`audit_files`]: daily rotation,
//! compression, retention), the path as logged ([`log_path`]),
//! garita's own [`process_log`], and the decisions of the last
//! minutes for `garita status` ([`recent`]).

pub mod audit_files;
pub mod decision_log;
pub mod log_path;
pub mod metrics;
pub mod process_log;
pub mod recent;
