//! Accounting for what happened: Prometheus [`metrics`], the [`decision_log`] (one JSON
//! line a request, the audit trail; the line itself in [`decision_line`]), its files on disk ([`audit_files`]: daily rotation,
//! compression, retention), the path as logged ([`log_path`]),
//! garita's own [`process_log`], the decisions of the last minutes for `garita status`
//! ([`recent`]) and of the last day, hour by hour, for the console's overview
//! ([`hourly`]); the payment codes' own ([`code_metrics`]) and the shadow config's
//! ([`shadow_metrics`]); the encrypted [`evidence`] of the exchanges policies capture.

pub mod audit_files;
pub mod code_metrics;
pub mod decision_line;
pub mod decision_log;
pub mod evidence;
pub mod hourly;
pub mod log_path;
pub mod metrics;
pub mod process_log;
pub mod recent;
pub mod shadow_metrics;
