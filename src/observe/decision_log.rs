//! The decision log: one JSON line per request, written when the request is done.
//!
//! Times are UTC (RFC 3339 with milliseconds). The path is logged without its query string,
//! which is where identifiers tend to travel, and is cut to a bounded length. Identity facts
//! (DNI, email, phone, account, device) appear only as keyed hashes. Lines are
//! written whole under a lock, so concurrent requests never interleave inside a line.
//! [`DecisionLog::reopen`] (on SIGHUP) opens the file again under its configured name, so
//! logrotate can rename it away without `copytruncate`.

use crate::config::LogTarget;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::sync::Mutex;

const MAX_PATH_CHARS: usize = 256;

#[derive(Debug, Serialize)]
pub struct DecisionRecord<'a> {
    pub ts: String,
    pub request_id: &'a str,
    /// Absent for a request head that could not be parsed.
    pub method: Option<&'a str>,
    pub path: Option<String>,
    pub route: &'a str,
    pub client_ip: Option<String>,
    pub peer_ip: Option<String>,
    pub country: Option<&'a str>,
    pub decision: &'a str,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<LoggedFacts>,
    pub status: u16,
    pub upstream_status: Option<u16>,
    pub duration_ms: f64,
}

/// Identity facts as logged: identifiers as keyed hashes, never in clear.
#[derive(Debug, Serialize)]
pub struct LoggedFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Current UTC time as RFC 3339 with milliseconds, e.g. `2026-11-25T19:00:00.123Z`.
pub fn utc_timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format).unwrap_or_default()
}

/// Cut a path for logging: no query, bounded length.
pub fn loggable_path(path: &str) -> String {
    let no_query = path.split('?').next().unwrap_or("");
    no_query.chars().take(MAX_PATH_CHARS).collect()
}

pub struct DecisionLog {
    target: LogTarget,
    out: Mutex<Box<dyn Write + Send>>,
}

fn open_target(target: &LogTarget) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        LogTarget::Stdout => Box::new(io::stdout()),
        LogTarget::File(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
    })
}

impl DecisionLog {
    pub fn open(target: &LogTarget) -> io::Result<Self> {
        Ok(Self {
            target: target.clone(),
            out: Mutex::new(open_target(target)?),
        })
    }

    /// Open the log file again under its configured name (after logrotate renamed it);
    /// on failure the old file stays in use.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = open_target(&self.target)?;
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        out.flush()?;
        *out = fresh;
        Ok(())
    }

    pub fn write(&self, record: &DecisionRecord<'_>) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                log::error!("decision log: cannot encode a record: {e}");
                return;
            }
        };
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = out.write_all(&line).and_then(|_| out.flush()) {
            log::error!("decision log: write failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339() {
        let ts = utc_timestamp();
        assert_eq!(ts.len(), "2026-11-25T19:00:00.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
        assert!(
            time::OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339)
                .is_ok()
        );
    }

    #[test]
    fn paths_lose_their_query_and_length() {
        assert_eq!(loggable_path("/v1/cips?dni=12345678"), "/v1/cips");
        assert_eq!(loggable_path(&"/a".repeat(500)).len(), MAX_PATH_CHARS);
    }
}
