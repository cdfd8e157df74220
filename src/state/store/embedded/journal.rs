//! The embedded store's journal: the writer thread that keeps the file in step with the
//! engine, so that no disk write or fsync runs on a Pingora worker.
//!
//! Records that must outlive a crash (replay claims and settlements, reviews, blocks) are
//! sent as a [`Job::Durable`] and acknowledged once committed; concurrent ones share a
//! commit. Counters and bindings are only marked dirty and written behind, at least every
//! flush interval and at a graceful stop. What expired is deleted from the file as well.

use super::super::BlockNote;
use super::file::{
    member_range, BindingSet, BINDINGS, BLOCKS, BLOCK_NOTES, CODES, COUNTERS, FOREVER,
    MEMBER_SEPARATOR, OUTBOX, REPLAYS, REVIEWS,
};
use super::Inner;
use redb::{Database, Durability};
use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What the writer is asked to do besides writing back what is dirty.
pub(super) enum Job {
    /// Records to write durably before `ack`.
    Durable {
        writes: Durable,
        ack: oneshot::Sender<Result<(), String>>,
    },
    /// Write back everything dirty now, before `ack` (a graceful stop).
    Flush {
        ack: oneshot::Sender<Result<(), String>>,
    },
    /// Delete what expired from the file.
    Forget {
        counters: Vec<String>,
        bindings: Vec<String>,
        replays: Vec<String>,
        reviews: Vec<String>,
        codes: Vec<String>,
    },
}

/// What must be on disk before a call returns.
#[derive(Default)]
pub(super) struct Durable {
    /// Replay records to write (`Some`) or drop (`None`).
    pub(super) replays: Vec<(String, Option<(bool, i64)>)>,
    /// Review records, by id, as JSON.
    pub(super) reviews: Vec<(String, Vec<u8>)>,
    /// Outbox events to write (`Some`, as JSON) or drop (`None`).
    pub(super) outbox: Vec<(String, Option<Vec<u8>>)>,
    /// Keys newly blocked, with their notes.
    pub(super) blocks: Vec<(String, BlockNote)>,
    /// Keys taken off the block list.
    pub(super) unblocks: Vec<String>,
    /// Payment codes' ledgers, as JSON.
    pub(super) codes: Vec<(String, Vec<u8>)>,
}

/// What changed in memory and is not on disk yet.
#[derive(Default)]
pub(super) struct Dirty {
    pub(super) counters: HashSet<String>,
    pub(super) bindings: HashSet<String>,
}

/// The writer: one commit per batch of jobs, and at least one every `flush_interval` while
/// anything is dirty. Ends, after a last write, when the store is dropped.
pub(super) fn write_loop(
    db: Database,
    inner: Arc<Mutex<Inner>>,
    queue: Receiver<Job>,
    flush_interval: Duration,
) {
    let mut next_flush = Instant::now() + flush_interval;
    loop {
        let wait = next_flush.saturating_duration_since(Instant::now());
        let mut jobs = Vec::new();
        let stopping = match queue.recv_timeout(wait) {
            Ok(job) => {
                jobs.push(job);
                jobs.extend(queue.try_iter());
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let flush_due = stopping
            || Instant::now() >= next_flush
            || jobs.iter().any(|j| matches!(j, Job::Flush { .. }));
        let result = commit(&db, &inner, &jobs, flush_due);
        if let Err(e) = &result {
            log::error!("identity store: writing {}: {e}", "the database file");
        }
        if flush_due {
            next_flush = Instant::now() + flush_interval;
        }
        for job in jobs {
            match job {
                Job::Durable { ack, .. } | Job::Flush { ack } => {
                    let _ = ack.send(result.clone());
                }
                Job::Forget { .. } => {}
            }
        }
        if stopping {
            return;
        }
    }
}

/// Write one batch: the jobs, and (when `flush_due`) what is dirty in memory.
pub(super) fn commit(
    db: &Database,
    inner: &Mutex<Inner>,
    jobs: &[Job],
    flush_due: bool,
) -> Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    // Take the dirty values under the lock, write them without it.
    let (counters, bindings) = if flush_due {
        let mut inner = inner
            .lock()
            .map_err(|_| "a lock was poisoned".to_string())?;
        let dirty = std::mem::take(&mut inner.dirty);
        let counters: Vec<(String, Option<(u64, i64)>)> = dirty
            .counters
            .into_iter()
            .map(|k| {
                let value = inner.maps.counter(&k);
                (k, value)
            })
            .collect();
        let bindings: Vec<BindingSet> = dirty
            .bindings
            .into_iter()
            .map(|k| {
                let members = inner.maps.members(&k);
                (k, members)
            })
            .collect();
        (counters, bindings)
    } else {
        (Vec::new(), Vec::new())
    };
    if counters.is_empty()
        && bindings.is_empty()
        && jobs.iter().all(|j| matches!(j, Job::Flush { .. }))
    {
        return Ok(());
    }
    let mut write = db.begin_write().map_err(|e| text(&e))?;
    write
        .set_durability(Durability::Immediate)
        .map_err(|e| text(&e))?;
    {
        let mut counter_table = write.open_table(COUNTERS).map_err(|e| text(&e))?;
        let mut binding_table = write.open_table(BINDINGS).map_err(|e| text(&e))?;
        // What expired goes first, so that a key made again since is written back after.
        for job in jobs {
            if let Job::Forget {
                counters, bindings, ..
            } = job
            {
                for key in counters {
                    counter_table.remove(key.as_str()).map_err(|e| text(&e))?;
                }
                for set in bindings {
                    let (start, end) = member_range(set);
                    binding_table
                        .retain_in(start.as_str()..end.as_str(), |_, _| false)
                        .map_err(|e| text(&e))?;
                }
            }
        }
        for (key, value) in &counters {
            match value {
                Some(v) => counter_table.insert(key.as_str(), *v).map(drop),
                None => counter_table.remove(key.as_str()).map(drop),
            }
            .map_err(|e| text(&e))?;
        }
        for (set, members) in &bindings {
            let (start, end) = member_range(set);
            binding_table
                .retain_in(start.as_str()..end.as_str(), |_, _| false)
                .map_err(|e| text(&e))?;
            for (member, expires) in members {
                let key = format!("{set}{MEMBER_SEPARATOR}{member}");
                binding_table
                    .insert(key.as_str(), expires.unwrap_or(FOREVER))
                    .map_err(|e| text(&e))?;
            }
        }
        let mut replay_table = write.open_table(REPLAYS).map_err(|e| text(&e))?;
        let mut review_table = write.open_table(REVIEWS).map_err(|e| text(&e))?;
        let mut outbox_table = write.open_table(OUTBOX).map_err(|e| text(&e))?;
        let mut block_table = write.open_table(BLOCKS).map_err(|e| text(&e))?;
        let mut note_table = write.open_table(BLOCK_NOTES).map_err(|e| text(&e))?;
        let mut code_table = write.open_table(CODES).map_err(|e| text(&e))?;
        for job in jobs {
            match job {
                Job::Durable { writes, .. } => {
                    for (key, record) in &writes.replays {
                        match record {
                            Some((delivered, expires)) => replay_table
                                .insert(key.as_str(), (u64::from(*delivered), *expires))
                                .map(drop),
                            None => replay_table.remove(key.as_str()).map(drop),
                        }
                        .map_err(|e| text(&e))?;
                    }
                    for (id, json) in &writes.reviews {
                        review_table
                            .insert(id.as_str(), json.as_slice())
                            .map_err(|e| text(&e))?;
                    }
                    for (id, json) in &writes.outbox {
                        match json {
                            Some(json) => {
                                outbox_table.insert(id.as_str(), json.as_slice()).map(drop)
                            }
                            None => outbox_table.remove(id.as_str()).map(drop),
                        }
                        .map_err(|e| text(&e))?;
                    }
                    for (key, note) in &writes.blocks {
                        block_table
                            .insert(key.as_str(), note.since)
                            .map_err(|e| text(&e))?;
                        note_table
                            .insert(key.as_str(), note.to_json().as_str())
                            .map_err(|e| text(&e))?;
                    }
                    for key in &writes.unblocks {
                        block_table.remove(key.as_str()).map_err(|e| text(&e))?;
                        note_table.remove(key.as_str()).map_err(|e| text(&e))?;
                    }
                    for (code, json) in &writes.codes {
                        code_table
                            .insert(code.as_str(), json.as_slice())
                            .map_err(|e| text(&e))?;
                    }
                }
                Job::Forget {
                    replays,
                    reviews,
                    codes,
                    ..
                } => {
                    for code in codes {
                        code_table.remove(code.as_str()).map_err(|e| text(&e))?;
                    }
                    for key in replays {
                        replay_table.remove(key.as_str()).map_err(|e| text(&e))?;
                    }
                    for id in reviews {
                        review_table.remove(id.as_str()).map_err(|e| text(&e))?;
                    }
                }
                Job::Flush { .. } => {}
            }
        }
    }
    write.commit().map_err(|e| text(&e))
}
