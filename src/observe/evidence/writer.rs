//! The evidence writer's thread: encode, encrypt, append, chain; the manifest after each
//! batch; old days removed. It takes what the workers queued every [`TICK`] rather than
//! being woken for each record, so that a request never pays for a thread's wake-up, and
//! seals what it took as one age file (a line of the day file, at most [`MAX_BATCH`]
//! records): the key agreement with each recipient, which costs more than a request,
//! is paid once a batch.

use super::day_file::{self, BatchLine, Manifest, RecordIndex, CHAIN_START};
use super::{EvidenceMetrics, Exchange, Message, Sealing};
use crate::core::identity::key_list::KeyHasher;
use crate::observe::audit_files::utc_day;
use crate::observe::decision_log::{LogTime, Now};
use base64::Engine as _;
use jiff::civil::Date;
use serde::Serialize;
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How often the writer takes what was queued.
const TICK: Duration = Duration::from_millis(100);
/// The most records sealed together (a line of the day file).
const MAX_BATCH: usize = 256;

/// The day file being appended to.
struct OpenDay {
    day: Date,
    file: File,
    seq: u64,
    chain: String,
}

pub(super) struct Writer {
    dir: PathBuf,
    /// What a reload may change, shared with the handle.
    shared: Arc<Mutex<Sealing>>,
    /// This batch's copy of it.
    recipients: Vec<age::x25519::Recipient>,
    retention_days: u32,
    hasher: KeyHasher,
    now: Now,
    metrics: EvidenceMetrics,
    open: Option<OpenDay>,
    tidied: Option<Date>,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    headers: Vec<(&'a str, Cow<'a, str>)>,
    body_base64: String,
    body_bytes: usize,
    body_cut: bool,
}

impl<'a> From<&'a Message> for MessageOut<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            method: m.method.as_deref(),
            target: m.target.as_deref(),
            version: m.version,
            status: m.status,
            headers: m
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v.as_bytes())))
                .collect(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&m.body),
            body_bytes: m.body_bytes,
            body_cut: m.body_bytes > m.body.len(),
        }
    }
}

/// The record as encrypted: what a dispute pack shows.
#[derive(Serialize)]
struct Record<'a> {
    request_id: &'a str,
    route: &'a str,
    policy: &'a str,
    received_at: LogTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<MessageOut<'a>>,
    decision: &'a serde_json::value::RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<MessageOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answered_ms: Option<f64>,
    done_ms: f64,
}

impl Writer {
    pub(super) fn new(
        dir: &std::path::Path,
        shared: Arc<Mutex<Sealing>>,
        now: Now,
        metrics: EvidenceMetrics,
    ) -> Self {
        let (recipients, retention_days, hasher) = {
            let s = shared.lock().unwrap_or_else(PoisonError::into_inner);
            (s.recipients.clone(), s.retention_days, s.hasher.clone())
        };
        Self {
            dir: dir.to_path_buf(),
            shared,
            recipients,
            retention_days,
            hasher,
            now,
            metrics,
            open: None,
            tidied: None,
        }
    }

    /// Write what comes until the queue's senders are gone.
    pub(super) fn run(mut self, records: &Receiver<Exchange>) {
        loop {
            self.tidy();
            std::thread::sleep(TICK);
            let mut batch = Vec::new();
            loop {
                match records.try_recv() {
                    Ok(exchange) => batch.push(exchange),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.write_all(&batch);
                        return;
                    }
                }
            }
            self.write_all(&batch);
        }
    }

    /// Write `batch` as lines of at most [`MAX_BATCH`] records of one day each, then the
    /// manifest.
    fn write_all(&mut self, batch: &[Exchange]) {
        if batch.is_empty() {
            return;
        }
        self.refresh();
        let mut rest = batch;
        let mut written = 0;
        while let Some(first) = rest.first() {
            let day = utc_day(first.at.as_second());
            let same_day = rest
                .iter()
                .take(MAX_BATCH)
                .take_while(|e| utc_day(e.at.as_second()) == day)
                .count();
            let (line, after) = rest.split_at(same_day);
            match self.write_line(day, line) {
                Ok(()) => written += line.len() as u64,
                Err(e) => {
                    self.metrics.write_errors.inc_by(line.len() as u64);
                    log::warn!("{} evidence records lost: {e}", line.len());
                }
            }
            rest = after;
        }
        if let Err(e) = self.write_manifest() {
            self.metrics.write_errors.inc();
            log::warn!("evidence manifest not written: {e}");
        }
        // Counted once the manifest says so too.
        self.metrics.written.inc_by(written);
    }

    /// Take what a reload changed (recipients, retention, the hash key).
    fn refresh(&mut self) {
        let s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        self.recipients.clone_from(&s.recipients);
        self.retention_days = s.retention_days;
        self.hasher = s.hasher.clone();
    }

    /// Seal `exchanges` (all of `day`) together and append them as one line.
    fn write_line(&mut self, day: Date, exchanges: &[Exchange]) -> io::Result<()> {
        let mut plain = vec![b'['];
        for (i, exchange) in exchanges.iter().enumerate() {
            if i > 0 {
                plain.push(b',');
            }
            plain.extend(self.encode(exchange)?);
        }
        plain.push(b']');
        let sealed = self.seal(&plain)?;
        let indexes: Vec<(String, String, Vec<String>)> = exchanges
            .iter()
            .map(|e| (e.ts.as_str().to_string(), e.route.clone(), self.keys(e)))
            .collect();
        let hasher = self.hasher.clone();
        let open = self.open_day(day)?;
        let mut line = BatchLine {
            records: indexes
                .into_iter()
                .zip(open.seq + 1..)
                .map(|((ts, route, keys), seq)| RecordIndex {
                    seq,
                    ts,
                    route,
                    keys,
                })
                .collect(),
            chain: String::new(),
            sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        line.chain = day_file::link(&hasher, &open.chain, &line);
        let mut text = serde_json::to_vec(&line).map_err(io::Error::other)?;
        text.push(b'\n');
        open.file.write_all(&text)?;
        open.seq += exchanges.len() as u64;
        open.chain = line.chain;
        Ok(())
    }

    fn encode(&self, exchange: &Exchange) -> io::Result<Vec<u8>> {
        let decision = std::str::from_utf8(&exchange.decision)
            .ok()
            .and_then(|t| serde_json::from_str::<&serde_json::value::RawValue>(t).ok());
        let null = serde_json::value::RawValue::NULL;
        let record = Record {
            request_id: &exchange.finders.request_id,
            route: &exchange.route,
            policy: &exchange.policy,
            received_at: exchange.ts,
            request: exchange.request.as_ref().map(MessageOut::from),
            decision: decision.unwrap_or(null),
            response: exchange.response.as_ref().map(MessageOut::from),
            answered_ms: exchange.answered_ms,
            done_ms: exchange.done_ms,
        };
        serde_json::to_vec(&record).map_err(io::Error::other)
    }

    /// An age file of `plain`, to every recipient.
    fn seal(&self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let encryptor = age::Encryptor::with_recipients(
            self.recipients.iter().map(|r| r as &dyn age::Recipient),
        )
        .map_err(io::Error::other)?;
        let mut sealed = Vec::with_capacity(plain.len() + 512);
        let mut writer = encryptor.wrap_output(&mut sealed)?;
        writer.write_all(plain)?;
        writer.finish()?;
        Ok(sealed)
    }

    /// The keyed hashes an export finds the record by.
    fn keys(&self, exchange: &Exchange) -> Vec<String> {
        let f = &exchange.finders;
        let labelled = |label: &str, value: &str| {
            String::from_utf8_lossy(&self.hasher.hex_digest_labelled(label, value)).into_owned()
        };
        let mut keys = vec![labelled("request_id", &f.request_id)];
        keys.extend(f.order.as_deref().map(|o| labelled("order", o)));
        keys.extend(f.code.as_deref().map(|c| labelled("code", c)));
        keys.extend(f.dni.iter().chain(&f.email).cloned());
        keys
    }

    /// The open file of `day`, opened (and its chain followed from its last line) if
    /// needed.
    fn open_day(&mut self, day: Date) -> io::Result<&mut OpenDay> {
        if self.open.as_ref().is_none_or(|o| o.day != day) {
            if self.open.is_some() {
                // The day before is done: its manifest says so.
                let _ = self.write_manifest();
            }
            let path = day_file::day_path(&self.dir, day);
            let (seq, chain) = last_link(&path);
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.open = Some(OpenDay {
                day,
                file,
                seq,
                chain,
            });
        }
        Ok(self.open.as_mut().expect("opened above"))
    }

    /// Write the open day's manifest (a new file renamed over the old).
    fn write_manifest(&mut self) -> io::Result<()> {
        let Some(open) = &self.open else {
            return Ok(());
        };
        let manifest = Manifest {
            day: open.day.to_string(),
            records: open.seq,
            chain: open.chain.clone(),
            key_id: self.hasher.key_id().to_string(),
        };
        let path = day_file::manifest_path(&self.dir, open.day);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        serde_json::to_writer_pretty(&mut tmp, &manifest).map_err(io::Error::other)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Remove the days past `retention_days`, once a day.
    fn tidy(&mut self) {
        self.refresh();
        let today = utc_day((self.now)().as_second());
        if self.tidied == Some(today) {
            return;
        }
        self.tidied = Some(today);
        let Ok(oldest) = today.checked_sub(jiff::Span::new().days(i64::from(self.retention_days)))
        else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let old = name
                .to_str()
                .and_then(day_file::day_of)
                .is_some_and(|day| day < oldest);
            if old {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    log::warn!("evidence file {} not removed: {e}", entry.path().display());
                }
            }
        }
    }
}

/// The sequence number and chain link of a day file's last record (0 and the start for
/// a new file, or one that is not a regular file).
fn last_link(path: &std::path::Path) -> (u64, String) {
    let start = (0, CHAIN_START.to_string());
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return start;
    }
    let Ok(file) = File::open(path) else {
        return start;
    };
    io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<BatchLine>(&l).ok())
        .last()
        .and_then(|l| Some((l.records.last()?.seq, l.chain)))
        .unwrap_or(start)
}
