//! The decision log: one JSON line per request, written when the request is done.
//!
//! Times are UTC (RFC 3339 with milliseconds). The path is logged without its query string,
//! which is where identifiers tend to travel, and is cut to a bounded length. Identity facts
//! (DNI, email, phone, account, device) appear only as keyed hashes. Lines are
//! encoded on the request's thread and handed to a writer thread of the log's own, so no
//! request waits on a disk: the writer appends them in batches and flushes at least every
//! 100 ms, at [`DecisionLog::flush`] (a graceful stop) and when the process ends. Lines are
//! never interleaved. Should the writer fall behind by more than a queue's worth of lines,
//! further lines are dropped and counted rather than slowing requests down
//! (`garita_decision_log_dropped_total`); `kill -9` loses at most the last 100 ms.
//! [`DecisionLog::reopen`] (on SIGHUP) opens the file again under its configured name, so
//! logrotate can rename it away without `copytruncate`.

use crate::config::LogTarget;
use prometheus::IntCounter;
use serde::Serialize;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// How long a line may wait in the writer before it is written out.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Lines queued for the writer before further ones are dropped.
const QUEUE: usize = 64 * 1024;

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

enum Message {
    Line(Vec<u8>),
    /// Open the file again under its name; the result goes back.
    Reopen(mpsc::Sender<io::Result<()>>),
    /// Write out everything queued so far, then answer.
    Flush(mpsc::Sender<()>),
}

pub struct DecisionLog {
    queue: SyncSender<Message>,
    dropped: IntCounter,
}

fn open_target(target: &LogTarget) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        LogTarget::Stdout => Box::new(io::stdout()),
        LogTarget::File(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
    })
}

impl DecisionLog {
    /// Open the log and start its writer; lines it has to drop are counted in `dropped`.
    pub fn open(target: &LogTarget, dropped: IntCounter) -> io::Result<Self> {
        let out = io::BufWriter::with_capacity(256 * 1024, open_target(target)?);
        let (queue, lines) = mpsc::sync_channel(QUEUE);
        let target = target.clone();
        std::thread::Builder::new()
            .name("garita-log".into())
            .spawn(move || write_loop(target, out, lines))?;
        Ok(Self { queue, dropped })
    }

    /// Open the log file again under its configured name (after logrotate renamed it),
    /// once every line queued before is written; on failure the old file stays in use.
    pub fn reopen(&self) -> io::Result<()> {
        let (answer, result) = mpsc::channel();
        self.queue
            .send(Message::Reopen(answer))
            .map_err(|_| io::Error::other("the decision log writer has stopped"))?;
        result
            .recv()
            .map_err(|_| io::Error::other("the decision log writer has stopped"))?
    }

    /// Write out every line queued so far (a graceful stop); blocks until it is done.
    pub fn flush(&self) {
        let (answer, done) = mpsc::channel();
        if self.queue.send(Message::Flush(answer)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Queue one record; never waits.
    pub fn write(&self, record: &DecisionRecord<'_>) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                log::error!("decision log: cannot encode a record: {e}");
                return;
            }
        };
        line.push(b'\n');
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped.inc(),
        }
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The writer: batches lines, writes them out at least every [`FLUSH_EVERY`].
fn write_loop(
    target: LogTarget,
    mut out: io::BufWriter<Box<dyn Write + Send>>,
    lines: Receiver<Message>,
) {
    let mut due: Option<Instant> = None;
    let mut complained = false;
    let report = |result: io::Result<()>, complained: &mut bool| match result {
        Ok(()) => *complained = false,
        Err(e) if !*complained => {
            log::error!("decision log: write failed: {e}");
            *complained = true;
        }
        Err(_) => {}
    };
    loop {
        let wait = due.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        match lines.recv_timeout(wait) {
            Ok(Message::Line(line)) => {
                report(out.write_all(&line), &mut complained);
                due.get_or_insert_with(|| Instant::now() + FLUSH_EVERY);
            }
            Ok(Message::Flush(answer)) => {
                report(out.flush(), &mut complained);
                due = None;
                let _ = answer.send(());
            }
            Ok(Message::Reopen(answer)) => {
                report(out.flush(), &mut complained);
                due = None;
                let result = open_target(&target).map(|fresh| {
                    out = io::BufWriter::with_capacity(256 * 1024, fresh);
                });
                let _ = answer.send(result);
            }
            Err(RecvTimeoutError::Timeout) => {
                report(out.flush(), &mut complained);
                due = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                report(out.flush(), &mut complained);
                return;
            }
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
