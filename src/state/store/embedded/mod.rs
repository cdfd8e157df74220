//! The embedded store, the default: the in-memory maps, kept on local disk in a redb
//! database so that a restart forgets nothing.
//!
//! Requests are decided on the maps in memory, under one lock, exactly as the memory store
//! decides them; a writer thread of its own (disk writes and fsync never run on a Pingora
//! worker) keeps the file in step:
//! - replay claims and settlements, review records and block-list additions are committed
//!   durably (fsync) before the call that made them returns, so a notification answered as
//!   delivered is remembered through a crash; concurrent ones share a commit;
//! - quota counters and bindings are written behind, at least every `flush_interval`
//!   (one second by default) and at a graceful stop, so `kill -9` loses at most that
//!   interval of increments;
//! - what expires is deleted from the file too, and redb reuses the freed pages; the file
//!   is compacted when it is opened, so it gives space back across restarts;
//! - shared burst rates (`scope = "shared"`) are kept in memory only: they refill within
//!   seconds, and one node has nobody to share them with.
//!
//! The file also keeps the secret of the keyed identifier hashes when the config names
//! none, generated on first use: without it, every key in the store would become
//! unreachable at the next start.
//!
//! The file's tables, its loading and its inspection are in [`file`]; the writer thread
//! that keeps it in step is the [`journal`].

mod file;
mod journal;

pub use file::inspect_file;

use super::codes::{CodeEvent, CodeLedger, PaymentCode, Settled};
use super::engine::Engine;
use super::outbox::OutboxEvent;
use super::queue::{ReviewPage, ReviewQuery};
use super::review::{Changed, Resolution, Resolved, Review, ReviewChange};
use super::{Block, Held, Store, StoreAnswer, StoreError, StorePlan};
use file::{corrupt, load};
use journal::{write_loop, Dirty, Durable, Job};
use redb::Database;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The engine and what of it is not on disk yet, under one lock.
struct Inner {
    maps: Engine,
    dirty: Dirty,
}

pub struct EmbeddedStore {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
    /// `None` once dropping: the writer then writes what is dirty and lets go of the file.
    jobs: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    hash_key: Vec<u8>,
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

impl EmbeddedStore {
    /// Open (or create) the database at `path`, load what has not expired by `now`, and
    /// start the writer.
    ///
    /// A file not closed cleanly (a crash, `kill -9`) is repaired by redb as it opens, which
    /// takes time on a large file: that is logged with how long it took. Everything
    /// committed before the crash is there; counters written behind may lack their last
    /// interval.
    pub fn open(path: &Path, now: i64, flush_interval: Duration) -> Result<Self, StoreError> {
        let repaired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Instant::now();
        let noted = repaired.clone();
        let mut db = Database::builder()
            .set_repair_callback(move |_| noted.store(true, std::sync::atomic::Ordering::Relaxed))
            .create(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        if repaired.load(std::sync::atomic::Ordering::Relaxed) {
            log::warn!(
                "state file {} was not closed cleanly (a crash or kill -9): repaired in {} ms",
                path.display(),
                started.elapsed().as_millis()
            );
        }
        // Give back the space of what expired while we were away.
        let _ = db.compact();
        let (maps, hash_key) = load(&db, now)?;
        let inner = Arc::new(Mutex::new(Inner {
            maps,
            dirty: Dirty::default(),
        }));
        let (jobs, queue) = mpsc::channel();
        let writer_inner = inner.clone();
        let writer = std::thread::Builder::new()
            .name("garita-store".into())
            .spawn(move || write_loop(db, writer_inner, queue, flush_interval))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            inner,
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(writer)),
            hash_key,
        })
    }

    /// Wait until no other process holds the file at `path` (an old garita finishing its
    /// requests during a graceful upgrade), for at most `patience`.
    pub fn wait_until_free(path: &Path, patience: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + patience;
        loop {
            match Database::create(path) {
                Ok(db) => {
                    drop(db);
                    return Ok(());
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot open {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop the writer after it has written back what is dirty, and close the file
    /// cleanly, so that the next start needs no repair. Calls after this fail.
    fn stop_writer(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }

    /// The secret of the keyed identifier hashes kept in the file.
    pub fn hash_key(&self) -> &[u8] {
        &self.hash_key
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        super::lock(&self.inner)
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let stopped = || StoreError::Unavailable("the writer has stopped".into());
        super::lock(&self.jobs)?
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
    }

    /// Have the writer commit `replays` durably and wait for it.
    async fn write_replays(
        &self,
        replays: Vec<(String, Option<(bool, i64)>)>,
    ) -> Result<(), StoreError> {
        self.write(Durable {
            replays,
            ..Durable::default()
        })
        .await
    }

    /// Have the writer commit `writes` durably and wait for it.
    async fn write_code(&self, ledger: Option<CodeLedger>) -> Result<(), StoreError> {
        let Some(ledger) = ledger else {
            return Ok(());
        };
        let json = serde_json::to_vec(&ledger).map_err(corrupt)?;
        self.write(Durable {
            codes: vec![(ledger.record.code.clone(), json)],
            ..Durable::default()
        })
        .await
    }

    async fn write(&self, writes: Durable) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(Job::Durable { writes, ack })?;
        done.await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
            .map_err(StoreError::Unavailable)
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreError> {
        let (answer, claimed) = {
            let mut inner = self.lock()?;
            let answer = inner.maps.execute(plan);
            let Inner { maps, dirty } = &mut *inner;
            for (op, _) in plan.bindings.iter().zip(&answer.bindings) {
                dirty.bindings.insert(op.key.clone());
            }
            if matches!(answer.counters, Some(super::Acquired::Granted(_))) {
                for counter in plan.counters.iter().filter(|c| c.add > 0) {
                    dirty.counters.insert(counter.key.clone());
                }
            }
            let claimed = match (&plan.claim, answer.claim) {
                (Some(op), Some(super::Claim::New)) => maps
                    .replay(&op.key)
                    .map(|record| (op.key.clone(), Some(record))),
                _ => None,
            };
            (answer, claimed)
        };
        if let Some(record) = claimed {
            self.write_replays(vec![record]).await?;
        }
        Ok(answer)
    }

    async fn settle(
        &self,
        key: &str,
        delivered_until: Option<i64>,
        _now: i64,
    ) -> Result<(), StoreError> {
        self.lock()?.maps.settle(key, delivered_until);
        let record = delivered_until.map(|until| (true, until));
        self.write_replays(vec![(key.to_string(), record)]).await
    }

    async fn purge_expired(&self, now: i64) -> Result<(), StoreError> {
        let forgotten = self.lock()?.maps.purge_expired_keys(now);
        if forgotten.is_empty() {
            return Ok(());
        }
        self.send(Job::Forget {
            counters: forgotten.counters,
            bindings: forgotten.bindings,
            replays: forgotten.replays,
            reviews: forgotten.reviews,
            codes: forgotten.codes,
        })
    }

    async fn size(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.maps.len())
    }

    fn close(&self) {
        self.stop_writer();
    }

    async fn flush(&self) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(Job::Flush { ack })?;
        done.await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
            .map_err(StoreError::Unavailable)
    }

    async fn add_review(&self, review: &Review) -> Result<(), StoreError> {
        let json = serde_json::to_vec(review).map_err(corrupt)?;
        self.lock()?.maps.add_review(review);
        self.write(Durable {
            reviews: vec![(review.id.clone(), json)],
            ..Durable::default()
        })
        .await
    }

    async fn reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError> {
        Ok(self.lock()?.maps.reviews(pending))
    }

    async fn review(&self, id: &str) -> Result<Option<Review>, StoreError> {
        Ok(self.lock()?.maps.review(id))
    }

    async fn review_page(&self, query: &ReviewQuery, now: i64) -> Result<ReviewPage, StoreError> {
        Ok(self.lock()?.maps.review_page(query, now))
    }

    async fn change_review(
        &self,
        id: &str,
        change: &ReviewChange,
        now: i64,
    ) -> Result<Changed, StoreError> {
        let changed = self.lock()?.maps.change_review(id, change, now);
        if let Changed::Now(review) = &changed {
            let json = serde_json::to_vec(review).map_err(corrupt)?;
            self.write(Durable {
                reviews: vec![(review.id.clone(), json)],
                ..Durable::default()
            })
            .await?;
        }
        Ok(changed)
    }

    async fn resolve_review(
        &self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> Result<Resolved, StoreError> {
        let done = self.lock()?.maps.resolve_review(id, resolution, notify);
        let Resolved::Now(review) = &done.resolved else {
            return Ok(done.resolved);
        };
        let json = serde_json::to_vec(review).map_err(corrupt)?;
        let event = match &done.event {
            Some(event) => vec![(
                event.id.clone(),
                Some(serde_json::to_vec(event).map_err(corrupt)?),
            )],
            None => Vec::new(),
        };
        self.write(Durable {
            reviews: vec![(review.id.clone(), json)],
            outbox: event,
            blocks: done
                .blocked
                .into_iter()
                .map(|b| (b.key(), b.note))
                .collect(),
            ..Durable::default()
        })
        .await?;
        Ok(done.resolved)
    }

    /// The lease is kept in memory only: after a restart every event is due again (at
    /// least once, as the outbox promises).
    async fn outbox_take(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        Ok(self.lock()?.maps.outbox_take(now, lease_until, limit))
    }

    async fn outbox_settle(&self, event: &OutboxEvent, delivered: bool) -> Result<(), StoreError> {
        let held = self.lock()?.maps.outbox_settle(event, delivered);
        let json = match (delivered, held) {
            (true, _) => None,
            (false, true) => Some(serde_json::to_vec(event).map_err(corrupt)?),
            (false, false) => return Ok(()),
        };
        self.write(Durable {
            outbox: vec![(event.id.clone(), json)],
            ..Durable::default()
        })
        .await
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.maps.outbox_len() as u64)
    }

    async fn block(&self, block: &Block) -> Result<bool, StoreError> {
        if !self.lock()?.maps.block(block) {
            return Ok(false);
        }
        self.write(Durable {
            blocks: vec![(block.key(), block.note.clone())],
            ..Durable::default()
        })
        .await?;
        Ok(true)
    }

    async fn unblock(&self, fact: &str, hash: &str) -> Result<bool, StoreError> {
        let key = crate::core::plan::block_key(fact, hash);
        if !self.lock()?.maps.unblock(&key) {
            return Ok(false);
        }
        self.write(Durable {
            unblocks: vec![key],
            ..Durable::default()
        })
        .await?;
        Ok(true)
    }

    async fn blocks(&self) -> Result<Vec<Block>, StoreError> {
        Ok(self.lock()?.maps.blocks())
    }

    async fn inspect(&self, prefixes: &[String]) -> Result<Vec<Held>, StoreError> {
        Ok(self.lock()?.maps.inspect(prefixes))
    }

    async fn reset_counters(&self, prefixes: &[String]) -> Result<Vec<String>, StoreError> {
        let gone = {
            let mut inner = self.lock()?;
            let gone = inner.maps.reset_counters(prefixes);
            for key in &gone {
                inner.dirty.counters.remove(key);
            }
            gone
        };
        // Shared rates are never written to the file; forgetting the rest is enough.
        self.send(Job::Forget {
            counters: gone.clone(),
            bindings: Vec::new(),
            replays: Vec::new(),
            reviews: Vec::new(),
            codes: Vec::new(),
        })?;
        self.flush().await?;
        Ok(gone)
    }

    /// Answers while the writer runs: a store whose writer stopped cannot keep anything.
    async fn record_code(&self, code: &PaymentCode) -> Result<bool, StoreError> {
        let ledger = {
            let mut inner = self.lock()?;
            if !inner.maps.record_code(code) {
                return Ok(false);
            }
            inner.maps.code(&code.code)
        };
        self.write_code(ledger).await?;
        Ok(true)
    }

    async fn settle_code(
        &self,
        code: &str,
        event: CodeEvent,
        at: i64,
    ) -> Result<Settled, StoreError> {
        let settled = self.lock()?.maps.settle_code(code, event, at);
        if let Settled::First(ledger) = &settled {
            self.write_code(Some(ledger.clone())).await?;
        }
        Ok(settled)
    }

    async fn code(&self, code: &str) -> Result<Option<CodeLedger>, StoreError> {
        Ok(self.lock()?.maps.code(code))
    }

    async fn open_codes(&self, _now: i64) -> Result<u64, StoreError> {
        Ok(self.lock()?.maps.open_codes())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.flush().await
    }
}

#[cfg(test)]
mod tests;
