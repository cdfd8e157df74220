//! The decision log: one JSON line per request, written when the request is done.
//!
//! Times are UTC (RFC 3339 with milliseconds). The path is logged without its query string,
//! which is where identifiers tend to travel, with identifiers in its segments masked, and
//! cut to a bounded length ([`super::log_path`]). Identity facts
//! (DNI, email, phone, account, device) appear only as keyed hashes. A line is encoded on
//! the request's thread into a buffer of that thread's and appended, under a lock held only
//! for the copy, to the pending batch; a writer thread of the log's own swaps the batch out
//! every [`TICK`] and writes it. So no request waits on a disk, and none wakes a thread
//! either (a wake-up per line cost more than encoding it). Lines reach the file at most about
//! 100 ms after their request, at [`DecisionLog::flush`] (a graceful stop) and when the
//! process ends, and are never interleaved. Should the writer fall behind by more than
//! [`MAX_PENDING`] bytes, further lines are dropped and counted rather than slowing requests
//! down (`garita_decision_log_dropped_total`); `kill -9` loses at most the last batch.
//! [`DecisionLog::reopen`] (on SIGHUP) opens the file again under its configured name, so
//! logrotate can rename it away without `copytruncate`.
//!
//! A file log is the audit trail and, unless `rotate = "never"`, rotates itself: the writer
//! checks the clock at every tick and at UTC midnight files the day away
//! ([`super::audit_files`]), compressed and kept `retention_days`. A file left from an
//! earlier day by a stopped gateway is filed away when the log opens. Times come from the
//! gateway's clock, so that a test clock moves the trail as it moves the quotas.

use super::audit_files::{utc_day, Trail};
use crate::config::{LogRotation, LogTarget};
use jiff::civil::Date;
use prometheus::IntCounter;
use serde::Serialize;
use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How often the writer takes the pending batch and writes it out.
const TICK: Duration = Duration::from_millis(50);
/// Bytes of lines waiting for the writer before further lines are dropped.
const MAX_PENDING: usize = 32 << 20;

#[derive(Debug, Serialize)]
pub struct DecisionRecord<'a> {
    pub ts: LogTime,
    pub request_id: &'a str,
    /// Which hash key the line's hashes were made with ([`KeyHasher::key_id`]).
    ///
    /// [`KeyHasher::key_id`]: crate::core::identity::key_list::KeyHasher::key_id
    pub key_id: &'a str,
    /// Absent for a request head that could not be parsed.
    pub method: Option<&'a str>,
    pub path: Option<&'a str>,
    pub route: &'a str,
    pub client_ip: Option<IpAddr>,
    pub peer_ip: Option<IpAddr>,
    pub country: Option<&'a str>,
    pub decision: &'static str,
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<LoggedFacts<'a>>,
    /// The risk score, when the policy has risk rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    /// The risk rules that fired, with their weights.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<LoggedRule<'a>>,
    pub status: u16,
    pub upstream_status: Option<u16>,
    /// Webhook routes: the keyed hash of the notification's event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    /// The upstream the request was sent to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<std::net::SocketAddr>,
    /// Why an allowed request got no answer from the upstream: `upstream_unavailable`
    /// (none up, or it could not be reached) or `upstream_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_error: Option<&'static str>,
    /// Request headers dropped for a `_` in their names (`x_forwarded_for, x_request_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_headers: Option<&'a str>,
    pub duration_ms: f64,
}

/// A risk rule that fired, as logged.
#[derive(Debug, Serialize)]
pub struct LoggedRule<'a> {
    pub rule: &'a str,
    pub weight: u32,
    /// Only on shadow rules: fired, but added nothing to the score.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

/// Identity facts as logged: identifiers as keyed hashes, never in clear.
#[derive(Debug, Serialize)]
pub struct LoggedFacts<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_country: Option<&'a str>,
    /// Facts that were sent but could not be used (`invalid_email`...), for a replay.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<&'static str>,
}

/// A moment as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T19:00:00.123Z`, kept as
/// text: formatting the date costs more than the rest of a log line, so each thread keeps
/// the text of its last second and only writes the milliseconds.
#[derive(Clone, Copy)]
pub struct LogTime([u8; 24]);

thread_local! {
    /// The last second this thread formatted, and its text up to the milliseconds.
    static LAST_SECOND: std::cell::Cell<(i64, [u8; 20])> = const { std::cell::Cell::new((i64::MIN, [0; 20])) };
}

impl LogTime {
    pub fn now() -> Self {
        Self::at(time::OffsetDateTime::now_utc())
    }

    /// A moment the gateway's clock gave.
    pub fn of(moment: jiff::Timestamp) -> Self {
        time::OffsetDateTime::from_unix_timestamp_nanos(moment.as_nanosecond())
            .map_or_else(|_| Self::now(), Self::at)
    }

    pub fn at(moment: time::OffsetDateTime) -> Self {
        let second = moment.unix_timestamp();
        let (cached, mut prefix) = LAST_SECOND.get();
        if cached != second {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].");
            let text = moment.format(&format).unwrap_or_default();
            if text.len() != prefix.len() {
                // Years beyond 9999 or before 0: not worth a fast path.
                prefix = [b'?'; 20];
            } else {
                prefix.copy_from_slice(text.as_bytes());
                LAST_SECOND.set((second, prefix));
            }
        }
        let mut out = [0u8; 24];
        out[..20].copy_from_slice(&prefix);
        let millis = moment.millisecond();
        out[20] = b'0' + (millis / 100) as u8;
        out[21] = b'0' + (millis / 10 % 10) as u8;
        out[22] = b'0' + (millis % 10) as u8;
        out[23] = b'Z';
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for LogTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LogTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

pub use super::log_path::loggable_path;

/// What the writer is asked besides writing: rare, so a channel it waits on between ticks.
enum Control {
    /// Open the file again under its name; the result goes back.
    Reopen(mpsc::Sender<io::Result<()>>),
    /// Write out everything pending so far, then answer.
    Flush(mpsc::Sender<()>),
}

/// The gateway's clock: the lines' times, and what day the trail is on.
pub type Now = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

pub struct DecisionLog {
    /// Encoded lines waiting for the writer.
    pending: Arc<Mutex<Vec<u8>>>,
    control: Sender<Control>,
    dropped: IntCounter,
    now: Now,
}

fn open_target(target: &LogTarget) -> io::Result<Box<dyn Write + Send>> {
    Ok(match target {
        LogTarget::Stdout => Box::new(io::stdout()),
        LogTarget::File(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
    })
}

thread_local! {
    /// Where this thread encodes a line before appending it to the batch.
    static ENCODED: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

impl DecisionLog {
    /// Open the log and start its writer; lines it has to drop are counted in `dropped`,
    /// and failed writes (a full disk, a file gone read-only) in `write_errors`. A file log
    /// with a `rotation` rotates at UTC midnight by `now`.
    pub fn open(
        target: &LogTarget,
        rotation: Option<LogRotation>,
        now: Now,
        dropped: IntCounter,
        write_errors: IntCounter,
    ) -> io::Result<Self> {
        let rotating = match (target, rotation) {
            (LogTarget::File(path), Some(settings)) if Trail::new(path).rotatable() => {
                let trail = Trail::new(path);
                let today = utc_day(now().as_second());
                // A day a stopped gateway left in the active file is filed away first.
                if let Some(day) = trail.active_day().filter(|d| *d < today) {
                    trail.rotate(day)?;
                }
                tidy_in_background(trail.clone(), settings, today);
                Some(Rotating {
                    trail,
                    settings,
                    day: today,
                    now: now.clone(),
                })
            }
            _ => None,
        };
        let out = open_target(target)?;
        let pending = Arc::new(Mutex::new(Vec::with_capacity(256 * 1024)));
        let (control, requests) = mpsc::channel();
        let writer = Writer {
            target: target.clone(),
            out,
            pending: pending.clone(),
            batch: Vec::with_capacity(256 * 1024),
            complained: false,
            dropped: dropped.clone(),
            write_errors,
            rotating,
        };
        std::thread::Builder::new()
            .name("garita-log".into())
            .spawn(move || writer.run(requests))?;
        Ok(Self {
            pending,
            control,
            dropped,
            now,
        })
    }

    /// Now, by the gateway's clock, as a line's `ts`.
    pub fn time(&self) -> LogTime {
        LogTime::of(self.now())
    }

    /// The gateway's clock, as the log reads it.
    pub fn now(&self) -> jiff::Timestamp {
        (self.now)()
    }

    /// Open the log file again under its configured name (after logrotate renamed it),
    /// once every line pending before is written; on failure the old file stays in use.
    pub fn reopen(&self) -> io::Result<()> {
        let stopped = || io::Error::other("the decision log writer has stopped");
        let (answer, result) = mpsc::channel();
        self.control
            .send(Control::Reopen(answer))
            .map_err(|_| stopped())?;
        result.recv().map_err(|_| stopped())?
    }

    /// Write out every line pending so far (a graceful stop); blocks until it is done.
    pub fn flush(&self) {
        let (answer, done) = mpsc::channel();
        if self.control.send(Control::Flush(answer)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Encode one record (a decision, or an admin change for the audit trail) and add it
    /// to the batch; never waits on the writer.
    pub fn write<T: Serialize>(&self, record: &T) {
        self.append(|line| {
            serde_json::to_writer(line, record)
                .map_err(|e| log::error!("decision log: cannot encode a record: {e}"))
        });
    }

    /// Add a request's decision line (encoded by hand: [`DecisionRecord::encode`]).
    pub fn write_decision(&self, record: &DecisionRecord<'_>) {
        self.append(|line| {
            record.encode(line);
            Ok(())
        });
    }

    fn append(&self, encode: impl FnOnce(&mut Vec<u8>) -> Result<(), ()>) {
        ENCODED.with_borrow_mut(|line| {
            line.clear();
            if encode(line).is_err() {
                return;
            }
            line.push(b'\n');
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.len() + line.len() > MAX_PENDING {
                drop(pending);
                self.dropped.inc();
            } else {
                pending.extend_from_slice(line);
            }
        });
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The writer thread's side: takes the pending batch each tick and writes it out.
struct Writer {
    target: LogTarget,
    out: Box<dyn Write + Send>,
    pending: Arc<Mutex<Vec<u8>>>,
    /// The batch being written; swapped with the pending one, so both keep their capacity.
    batch: Vec<u8>,
    /// A failed write was logged; say it again only after one succeeded.
    complained: bool,
    dropped: IntCounter,
    write_errors: IntCounter,
    rotating: Option<Rotating>,
}

/// A file log's daily rotation: its trail, settings, and the UTC day its active file holds.
struct Rotating {
    trail: Trail,
    settings: LogRotation,
    day: Date,
    now: Now,
}

/// Compress the days rotated out and delete those past the retention, on a thread of its
/// own: a big day's gzip must not hold up the log.
fn tidy_in_background(trail: Trail, settings: LogRotation, today: Date) {
    let spawned = std::thread::Builder::new()
        .name("garita-log-tidy".into())
        .spawn(move || {
            if let Err(e) = trail.tidy(today, settings.retention_days, settings.compress) {
                log::error!("decision log: tidying the rotated days: {e}");
            }
        });
    if let Err(e) = spawned {
        log::error!("decision log: cannot start tidying: {e}");
    }
}

impl Writer {
    fn run(mut self, requests: Receiver<Control>) {
        loop {
            match requests.recv_timeout(TICK) {
                Err(RecvTimeoutError::Timeout) => {
                    self.write_pending();
                    self.rotate_if_due();
                }
                Ok(Control::Flush(answer)) => {
                    self.write_pending();
                    let _ = answer.send(());
                }
                Ok(Control::Reopen(answer)) => {
                    self.write_pending();
                    let result = open_target(&self.target).map(|fresh| self.out = fresh);
                    let _ = answer.send(result);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.write_pending();
                    return;
                }
            }
        }
    }

    /// At the first tick of a new UTC day: file the active file away under its day and
    /// open a fresh one. A day with no lines is not filed.
    fn rotate_if_due(&mut self) {
        let Some(r) = &mut self.rotating else {
            return;
        };
        let today = utc_day((r.now)().as_second());
        if today <= r.day {
            return;
        }
        let closed = std::mem::replace(&mut r.day, today);
        let empty = std::fs::metadata(r.trail.active()).map_or(true, |m| m.len() == 0);
        if empty {
            return;
        }
        let rotated = r
            .trail
            .rotate(closed)
            .and_then(|_| open_target(&self.target));
        match rotated {
            Ok(fresh) => {
                self.out = fresh;
                tidy_in_background(r.trail.clone(), r.settings, today);
            }
            Err(e) => log::error!("decision log: rotating {closed}: {e}"),
        }
    }

    fn write_pending(&mut self) {
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *pending, &mut self.batch);
        }
        if self.batch.is_empty() {
            return;
        }
        let result = self
            .out
            .write_all(&self.batch)
            .and_then(|()| self.out.flush());
        if result.is_err() {
            // What part of the batch reached the file is unknown; count it all as lost.
            self.write_errors.inc();
            let lines = self.batch.iter().filter(|&&b| b == b'\n').count();
            self.dropped.inc_by(lines as u64);
        }
        self.batch.clear();
        match result {
            Ok(()) => self.complained = false,
            Err(e) if !self.complained => {
                log::error!("decision log: write failed: {e}");
                self.complained = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339_with_milliseconds() {
        let ts = LogTime::now();
        let ts = ts.as_str();
        assert_eq!(ts.len(), "2026-11-25T19:00:00.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
        assert!(
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok()
        );
        // The cached second is right as seconds and milliseconds change under it.
        let base = time::macros::datetime!(2026-11-25 23:59:59.007 UTC);
        for (offset_ms, text) in [
            (0, "2026-11-25T23:59:59.007Z"),
            (90, "2026-11-25T23:59:59.097Z"),
            (993, "2026-11-26T00:00:00.000Z"),
            (1_992, "2026-11-26T00:00:00.999Z"),
            (-8, "2026-11-25T23:59:58.999Z"),
        ] {
            let moment = base + time::Duration::milliseconds(offset_ms);
            assert_eq!(LogTime::at(moment).as_str(), text);
        }
    }
}
