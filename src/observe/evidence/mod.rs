//! Evidence for disputes: the exchanges of policies that capture them
//! (`[policies.NAME.evidence]`), kept a year, encrypted so that the gateway writes them
//! and cannot read them.
//!
//! A request's [`Exchange`] (the request as received, the decision's log line, the
//! backend's answer, timings) is made on the worker when the request is done, from what
//! the phases kept, and handed to the writer's thread through a bounded queue; the thread
//! encodes it, encrypts it with age to every recipient, and appends it to the day's file
//! ([`day_file`]). A full queue drops the record and a failing disk loses it, each counted
//! (`garita_evidence_dropped_total`, `garita_evidence_write_errors_total`); neither ever
//! delays or fails a request. What it approximates: headers are kept as text (a value
//! that is not UTF-8 is kept with replacement characters), and a body past the policy's
//! bound is kept cut, with its full length.

pub mod day_file;
mod writer;

use crate::config::EvidenceSettings;
use crate::core::identity::key_list::KeyHasher;
use crate::observe::decision_log::{LogTime, Now};
use http::{HeaderName, HeaderValue};
use prometheus::{IntCounter, Opts, Registry};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

/// One request or answer as kept.
#[derive(Debug, Default)]
pub struct Message {
    /// `METHOD target HTTP/1.1` for a request, the status for an answer.
    pub method: Option<String>,
    pub target: Option<String>,
    pub version: Option<&'static str>,
    pub status: Option<u16>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
    /// The body's whole length (more than `body` holds when it was cut).
    pub body_bytes: usize,
}

/// What a record can be found by, in clear until the writer hashes it.
#[derive(Debug, Default)]
pub struct Finders {
    pub request_id: String,
    pub order: Option<String>,
    pub code: Option<String>,
    /// The DNI's and the email's keyed hashes, as the decision log has them.
    pub dni: Option<String>,
    pub email: Option<String>,
}

/// One exchange, as the worker hands it over.
#[derive(Debug)]
pub struct Exchange {
    pub at: jiff::Timestamp,
    pub ts: LogTime,
    pub route: String,
    pub policy: String,
    pub finders: Finders,
    pub request: Option<Message>,
    /// The request's decision-log line, as logged.
    pub decision: Vec<u8>,
    pub response: Option<Message>,
    /// Milliseconds from the request's start to the answer's head, and to its end.
    pub answered_ms: Option<f64>,
    pub done_ms: f64,
}

/// The evidence metrics.
#[derive(Clone)]
pub struct EvidenceMetrics {
    pub written: IntCounter,
    pub dropped: IntCounter,
    pub write_errors: IntCounter,
}

impl EvidenceMetrics {
    pub fn new(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            let c = IntCounter::with_opts(Opts::new(name, help)).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric names");
            c
        };
        Self {
            written: counter(
                "garita_evidence_records_total",
                "Evidence records encrypted and written to the day's file.",
            ),
            dropped: counter(
                "garita_evidence_dropped_total",
                "Evidence records dropped because the writer's queue was full (the request was served).",
            ),
            write_errors: counter(
                "garita_evidence_write_errors_total",
                "Evidence records (or manifests) lost to a failing write (a full or failing disk; the requests were served).",
            ),
        }
    }
}

/// What the writer seals with, which a reload may change while it runs (a custodian
/// added or a key rotated): read once a batch.
pub(crate) struct Sealing {
    pub recipients: Vec<age::x25519::Recipient>,
    pub retention_days: u32,
    pub hasher: KeyHasher,
}

/// The running writer: its queue, and what it seals with.
pub struct Evidence {
    queue: SyncSender<Exchange>,
    metrics: EvidenceMetrics,
    sealing: Arc<Mutex<Sealing>>,
}

impl Evidence {
    /// Start the writer's thread for `settings`, indexing with `hasher`.
    pub fn start(
        settings: &EvidenceSettings,
        hasher: KeyHasher,
        now: Now,
        metrics: EvidenceMetrics,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&settings.dir)?;
        let (queue, records) = sync_channel(settings.queue);
        let sealing = Arc::new(Mutex::new(Sealing {
            recipients: settings.recipients.clone(),
            retention_days: settings.retention_days,
            hasher,
        }));
        let writer = writer::Writer::new(&settings.dir, sealing.clone(), now, metrics.clone());
        std::thread::Builder::new()
            .name("garita-evidence".into())
            .spawn(move || writer.run(&records))?;
        Ok(Self {
            queue,
            metrics,
            sealing,
        })
    }

    /// Seal from the next batch on with what `settings` and `hasher` say (the directory
    /// and the queue stay as started: one writer a directory, so that one chain runs
    /// through each day).
    pub fn update(&self, settings: &EvidenceSettings, hasher: KeyHasher) {
        let mut sealing = self.sealing.lock().unwrap_or_else(PoisonError::into_inner);
        *sealing = Sealing {
            recipients: settings.recipients.clone(),
            retention_days: settings.retention_days,
            hasher,
        };
    }

    /// Hand an exchange to the writer, never waiting: a full queue drops it, counted.
    pub fn offer(&self, exchange: Exchange) {
        match self.queue.try_send(exchange) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.dropped.inc(),
            Err(TrySendError::Disconnected(_)) => self.metrics.write_errors.inc(),
        }
    }
}
