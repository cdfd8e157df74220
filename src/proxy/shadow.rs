//! The shadow config: every request decided a second time under a proposed config
//! (`[shadow] config = "proposed.toml"`), with no effect on any answer.
//!
//! Once a request's decision-log line is written, what the line keeps of the request goes,
//! typed (a [`Case`]: no line to encode or parse again), to a thread of the shadow's own
//! through a bounded queue; the thread decides it again with the replay engine
//! ([`crate::state::replay`]) on a memory store and limiters of its own, so that
//! the shadow's quotas and sums count what it saw and never touch the live store. It
//! logs a `"event":"shadow"` line beside the live one (same `request_id`, the live
//! decision and score, the shadow's decision, score and reasons) and counts the pair in
//! `garita_shadow_decisions_total{live,shadow}`. A full queue costs the shadow's decision
//! (`garita_shadow_skipped_total{reason="busy"}`), never the request's time; and the
//! shadow's thread may use `max_cpu_percent` of a CPU (10 by default): once its decisions
//! took that much of a second, it rests until the second is over and the requests of
//! that rest are skipped (`reason="budget"`) before anything is made for them, so that
//! on a saturated machine it costs the workers a bounded share.
//!
//! What it approximates: the shadow sees what a replay sees (the facts as the live config
//! read them, no webhook bodies, no runtime blocks); its counters live in this process,
//! start empty, and start again when the proposal's text changes (a reload that leaves
//! the proposal alone keeps them).

use super::ctx::{RequestCtx, RequestId};
use crate::config::ShadowSettings;
use crate::core::decision::Reason;
use crate::observe::decision_log::{DecisionLog, DecisionRecord, LogTime};
use crate::observe::metrics::Metrics;
use crate::state::replay::{self, Case, LoggedIdentity, Replay, Replayed};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A live request to decide again, its live decision, and where to log the shadow's.
struct Job {
    case: Case,
    ts: LogTime,
    request_id: RequestId,
    live: &'static str,
    live_score: Option<u32>,
    log: Arc<DecisionLog>,
}

/// The running shadow: its queue, and what it was started from.
pub struct Shadow {
    /// The proposal's digest and the hash key's id: what a reload compares.
    digest: String,
    key_id: String,
    queue: SyncSender<Job>,
    /// Set while the shadow has used its share of the current second.
    resting: Arc<AtomicBool>,
}

impl std::fmt::Debug for Shadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadow")
            .field("digest", &self.digest)
            .finish()
    }
}

#[derive(Serialize)]
struct Side {
    decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u32>,
}

#[derive(Serialize)]
struct ShadowSide<'a> {
    decision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<u32>,
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct ShadowLine<'a> {
    ts: LogTime,
    event: &'static str,
    request_id: &'a str,
    route: &'a str,
    live: Side,
    shadow: ShadowSide<'a>,
}

impl Shadow {
    /// The shadow `settings` name, kept from `previous` when the proposal and the hash key
    /// are the same (its counters outlive the reload), else started afresh.
    pub fn keep_or_start(
        settings: &ShadowSettings,
        previous: Option<&Arc<Shadow>>,
        hasher: &crate::core::identity::key_list::KeyHasher,
        metrics: &Arc<Metrics>,
    ) -> Option<Arc<Shadow>> {
        if let Some(same) =
            previous.filter(|s| s.digest == settings.digest && s.key_id == hasher.key_id())
        {
            return Some(same.clone());
        }
        match Self::start(settings, hasher, metrics) {
            Ok(shadow) => Some(Arc::new(shadow)),
            Err(e) => {
                log::error!("the shadow config {}: {e}", settings.path.display());
                None
            }
        }
    }

    fn start(
        settings: &ShadowSettings,
        hasher: &crate::core::identity::key_list::KeyHasher,
        metrics: &Arc<Metrics>,
    ) -> Result<Self, String> {
        let config = settings.load().map_err(|e| e.to_string())?;
        let replay = Replay::with_hasher(config, hasher.clone())?;
        let (queue, jobs) = sync_channel(settings.queue);
        let metrics = metrics.clone();
        let resting = Arc::new(AtomicBool::new(false));
        let budget = Budget {
            per_second: Duration::from_millis(10 * u64::from(settings.max_cpu_percent)),
            resting: resting.clone(),
        };
        std::thread::Builder::new()
            .name("garita-shadow".into())
            .spawn(move || decide_all(&replay, &jobs, &metrics, &budget))
            .map_err(|e| format!("cannot start its thread: {e}"))?;
        Ok(Self {
            digest: settings.digest.clone(),
            key_id: hasher.key_id().to_string(),
            queue,
            resting,
        })
    }

    /// Hand a request's live decision (`record`, at `at`) to the shadow, never waiting:
    /// a resting shadow skips it before anything is made for it, a full queue after.
    pub(super) fn offer(
        &self,
        record: &DecisionRecord<'_>,
        ctx: &RequestCtx,
        at: jiff::Timestamp,
        log: &Arc<DecisionLog>,
        metrics: &Metrics,
    ) {
        let skipped = |reason| metrics.shadow.skipped.with_label_values(&[reason]).inc();
        if self.resting.load(Ordering::Relaxed) {
            return skipped("budget");
        }
        let Some(case) = case_of(record, ctx, at) else {
            return skipped("not_replayable");
        };
        let job = Job {
            case,
            ts: record.ts,
            request_id: ctx.request_id,
            live: record.decision,
            live_score: record.score,
            log: log.clone(),
        };
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => skipped("busy"),
            // The thread is gone (it never panics on a request; nothing to do but skip).
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// What the request's log line keeps, as a replay of it would read it; none for what a
/// replay keeps as logged (a runtime block, a refusal before routing, no client address).
fn case_of(record: &DecisionRecord<'_>, ctx: &RequestCtx, at: jiff::Timestamp) -> Option<Case> {
    let reasons = ctx.decision.as_ref().map_or(&[][..], |d| d.reasons());
    let runtime_block = reasons
        .iter()
        .any(|r| matches!(r, Reason::RuntimeBlocked(_)));
    let before_routing = reasons
        .first()
        .is_some_and(|r| replay::refused_before_routing(r.code()));
    if runtime_block || before_routing {
        return None;
    }
    let method = http::Method::from_bytes(record.method?.as_bytes()).ok()?;
    Some(Case {
        at,
        method,
        path: record.path?.to_owned(),
        route: ctx.route.clone(),
        client: ctx.client?,
        country: ctx.country,
        identity: ctx.facts.as_ref().map(|(facts, hashes)| LoggedIdentity {
            amount: facts.amount,
            billing_country: facts.billing_country,
            problems: facts.problems.clone(),
            // The live hashes are the log's (the same key), the address's among them.
            hashes: hashes.clone(),
        }),
    })
}

/// How often the shadow's thread takes what the workers queued.
const TICK: Duration = Duration::from_millis(50);

/// The shadow thread's share of a CPU: how long its decisions may take each second, and
/// the flag the workers read.
struct Budget {
    per_second: Duration,
    resting: Arc<AtomicBool>,
}

/// The shadow's thread: decide each line again, log and count; ends when the shadow is
/// dropped (its queue's sender with it).
fn decide_all(replay: &Replay, jobs: &Receiver<Job>, metrics: &Metrics, budget: &Budget) {
    let (mut second, mut used) = (Instant::now(), Duration::ZERO);
    loop {
        // Drained every tick, never waited on: a worker's send then wakes no thread (a
        // wake-up per request cost more than the shadow's own work on a busy core).
        std::thread::sleep(TICK);
        let job = match jobs.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Empty) => continue,
            Err(TryRecvError::Disconnected) => return,
        };
        for job in std::iter::once(job).chain(jobs.try_iter()) {
            decide_within(
                replay,
                &job,
                metrics,
                budget,
                (&mut second, &mut used),
                jobs,
            );
        }
    }
}

/// Decide `job`, and rest out the second when the budget is spent.
fn decide_within(
    replay: &Replay,
    job: &Job,
    metrics: &Metrics,
    budget: &Budget,
    (second, used): (&mut Instant, &mut Duration),
    jobs: &Receiver<Job>,
) {
    let began = Instant::now();
    if began.duration_since(*second) >= Duration::from_secs(1) {
        (*second, *used) = (began, Duration::ZERO);
    }
    decide_one(replay, job, metrics);
    *used += began.elapsed();
    if *used >= budget.per_second {
        // Rest out the second (the workers skip meanwhile), then drop what was
        // queued before the rest began: it is stale, and skipped with the rest.
        budget.resting.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(1).saturating_sub(second.elapsed()));
        let stale = jobs.try_iter().count() as u64;
        metrics
            .shadow
            .skipped
            .with_label_values(&["budget"])
            .inc_by(stale);
        (*second, *used) = (Instant::now(), Duration::ZERO);
        budget.resting.store(false, Ordering::Relaxed);
    }
}

/// Decide one live request again, log the shadow's line and count the pair.
fn decide_one(replay: &Replay, job: &Job, metrics: &Metrics) {
    let (route, decision) = match replay.decide(&job.case) {
        Replayed::Decided(route, decision) => (route, decision),
        Replayed::Kept(_) => {
            metrics
                .shadow
                .skipped
                .with_label_values(&["not_replayable"])
                .inc();
            return;
        }
        Replayed::Skipped => return,
    };
    let shadow = decision.label();
    metrics
        .shadow
        .decisions
        .with_label_values(&[job.live, shadow])
        .inc();
    job.log.write(&ShadowLine {
        ts: job.ts,
        event: "shadow",
        request_id: job.request_id.as_str(),
        route: &route,
        live: Side {
            decision: job.live,
            score: job.live_score,
        },
        shadow: ShadowSide {
            decision: shadow,
            score: decision.risk().map(|r| r.score),
            reasons: decision.reasons().iter().map(|r| r.detail()).collect(),
        },
    });
}
