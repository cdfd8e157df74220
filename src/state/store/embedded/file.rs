//! The embedded store's file: its tables (one redb database), how it is loaded into the
//! engine at start, and how `garita state inspect` reads it, from a copy while a running
//! garita holds it.
//!
//! Bindings are kept one row per member (`set \x1f member`), so that a member's expiry
//! is written without rewriting its set; a member kept forever is written as `i64::MAX`.

use super::super::codes::CodeLedger;
use super::super::engine::Engine;
use super::super::review::Review;
use super::super::{BlockNote, Held, StoreError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// key -> (count, expires)
pub(super) const COUNTERS: TableDefinition<&str, (u64, i64)> = TableDefinition::new("counters");
/// "set key \x1f member" -> expires (i64::MAX: forever)
pub(super) const BINDINGS: TableDefinition<&str, i64> = TableDefinition::new("bindings");
/// event key -> (delivered 0/1, expires)
pub(super) const REPLAYS: TableDefinition<&str, (u64, i64)> = TableDefinition::new("replays");
/// "hash_key" -> the secret of the keyed hashes
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// review id -> the record, as JSON
pub(super) const REVIEWS: TableDefinition<&str, &[u8]> = TableDefinition::new("reviews");
/// outbox event id -> the event, as JSON
pub(super) const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("outbox");
/// blocked identity key -> when it was blocked
pub(super) const BLOCKS: TableDefinition<&str, i64> = TableDefinition::new("blocks");
/// blocked identity key -> its note (JSON: since, by, reason)
pub(super) const BLOCK_NOTES: TableDefinition<&str, &str> = TableDefinition::new("block_notes");

/// payment code -> its record and events, as JSON
pub(super) const CODES: TableDefinition<&str, &[u8]> = TableDefinition::new("codes");

pub(super) const MEMBER_SEPARATOR: char = '\u{1f}';

/// A binding set's key and its members with their expiries, as written back.
pub(super) type BindingSet = (String, Vec<(String, Option<i64>)>);
pub(super) const FOREVER: i64 = i64::MAX;

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// What the file at `path` holds under any of `prefixes`, and the hash key kept there.
///
/// A running garita holds the file's lock, so then a copy is read instead (taken while
/// garita may be writing: redb opens it at its last complete commit). Either way the
/// newest counters may not be written back yet.
pub fn inspect_file(
    path: &Path,
    prefixes: &[String],
) -> Result<(Vec<Held>, Option<Vec<u8>>), StoreError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        StoreError::Unavailable(format!("cannot read {}: {e}", path.display()))
    };
    match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => read_held(&db, prefixes),
        // Held by a running garita, or left by a crash (a read-only open cannot repair):
        // a copy is read, repaired if it must be, and the file itself is left alone.
        Err(redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::RepairAborted) => {
            let dir = tempfile::tempdir().map_err(|e| unreadable(&e))?;
            let copy = dir.path().join("copy.redb");
            std::fs::copy(path, &copy).map_err(|e| unreadable(&e))?;
            let db = Database::open(&copy).map_err(|e| unreadable(&e))?;
            read_held(&db, prefixes)
        }
        Err(e) => Err(unreadable(&e)),
    }
}

fn read_held(
    db: &impl ReadableDatabase,
    prefixes: &[String],
) -> Result<(Vec<Held>, Option<Vec<u8>>), StoreError> {
    let read = db.begin_read().map_err(corrupt)?;
    let mut held = Vec::new();
    let in_range = |prefix: &String| {
        let end = format!("{prefix}\u{10ffff}");
        (prefix.clone(), end)
    };
    for prefix in prefixes {
        let (start, end) = in_range(prefix);
        if let Ok(table) = read.open_table(COUNTERS) {
            for entry in table.range(start.as_str()..end.as_str()).map_err(corrupt)? {
                let (key, value) = entry.map_err(corrupt)?;
                let (count, expires) = value.value();
                held.push(Held::Counter {
                    key: key.value().to_string(),
                    count,
                    expires,
                });
            }
        }
        if let Ok(table) = read.open_table(BINDINGS) {
            let mut sets: Vec<BindingSet> = Vec::new();
            for entry in table.range(start.as_str()..end.as_str()).map_err(corrupt)? {
                let (key, value) = entry.map_err(corrupt)?;
                let Some((set, member)) = key.value().split_once(MEMBER_SEPARATOR) else {
                    continue;
                };
                let expires = value.value();
                let member = (member.to_string(), (expires != FOREVER).then_some(expires));
                match sets.last_mut() {
                    Some((last, members)) if last == set => members.push(member),
                    _ => sets.push((set.to_string(), vec![member])),
                }
            }
            held.extend(
                sets.into_iter()
                    .map(|(key, members)| Held::Binding { key, members }),
            );
        }
        if let Ok(table) = read.open_table(REPLAYS) {
            for entry in table.range(start.as_str()..end.as_str()).map_err(corrupt)? {
                let (key, value) = entry.map_err(corrupt)?;
                let (delivered, expires) = value.value();
                held.push(Held::Replay {
                    key: key.value().to_string(),
                    delivered: delivered == 1,
                    expires,
                });
            }
        }
        if let Ok(table) = read.open_table(BLOCKS) {
            let notes = read.open_table(BLOCK_NOTES).ok();
            for entry in table.range(start.as_str()..end.as_str()).map_err(corrupt)? {
                let (key, since) = entry.map_err(corrupt)?;
                let note = notes
                    .as_ref()
                    .and_then(|n| n.get(key.value()).ok().flatten())
                    .map_or_else(
                        || BlockNote {
                            since: since.value(),
                            ..BlockNote::default()
                        },
                        |json| BlockNote::parse(json.value()),
                    );
                held.push(Held::Blocked {
                    key: key.value().to_string(),
                    note,
                });
            }
        }
    }
    let hash_key = read
        .open_table(META)
        .ok()
        .and_then(|t| t.get("hash_key").ok().flatten().map(|v| v.value().to_vec()));
    Ok((held, hash_key))
}

/// Read what has not expired into fresh maps; find or make the hash key.
pub(super) fn load(db: &Database, now: i64) -> Result<(Engine, Vec<u8>), StoreError> {
    let write = db.begin_write().map_err(corrupt)?;
    {
        // Create the tables on first use so that reading them never fails.
        write.open_table(COUNTERS).map_err(corrupt)?;
        write.open_table(BINDINGS).map_err(corrupt)?;
        write.open_table(REPLAYS).map_err(corrupt)?;
        write.open_table(REVIEWS).map_err(corrupt)?;
        write.open_table(OUTBOX).map_err(corrupt)?;
        write.open_table(BLOCKS).map_err(corrupt)?;
        write.open_table(BLOCK_NOTES).map_err(corrupt)?;
        write.open_table(CODES).map_err(corrupt)?;
        let mut meta = write.open_table(META).map_err(corrupt)?;
        if meta.get("hash_key").map_err(corrupt)?.is_none() {
            let fresh: [u8; 32] = rand::random();
            meta.insert("hash_key", fresh.as_slice()).map_err(corrupt)?;
        }
    }
    write.commit().map_err(corrupt)?;

    let read = db.begin_read().map_err(corrupt)?;
    let mut maps = Engine::default();
    for entry in read
        .open_table(COUNTERS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (key, value) = entry.map_err(corrupt)?;
        let (count, expires) = value.value();
        if expires > now {
            maps.restore_counter(key.value(), count, expires);
        }
    }
    for entry in read
        .open_table(BINDINGS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (key, value) = entry.map_err(corrupt)?;
        let expires = value.value();
        if let Some((set, member)) = key.value().split_once(MEMBER_SEPARATOR) {
            if expires > now {
                maps.restore_member(set, member, (expires != FOREVER).then_some(expires));
            }
        }
    }
    for entry in read
        .open_table(REPLAYS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (key, value) = entry.map_err(corrupt)?;
        let (delivered, expires) = value.value();
        if expires > now {
            maps.restore_replay(key.value(), delivered == 1, expires);
        }
    }
    for entry in read
        .open_table(REVIEWS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (_, json) = entry.map_err(corrupt)?;
        let review: Review = serde_json::from_slice(json.value()).map_err(corrupt)?;
        if review.expires_at() > now {
            maps.add_review(&review);
        }
    }
    for entry in read
        .open_table(OUTBOX)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (_, json) = entry.map_err(corrupt)?;
        maps.restore_event(serde_json::from_slice(json.value()).map_err(corrupt)?);
    }
    for entry in read
        .open_table(CODES)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (_, json) = entry.map_err(corrupt)?;
        let ledger: CodeLedger = serde_json::from_slice(json.value()).map_err(corrupt)?;
        if ledger.record.keep_until > now {
            maps.restore_code(ledger);
        }
    }
    let notes = read.open_table(BLOCK_NOTES).map_err(corrupt)?;
    for entry in read
        .open_table(BLOCKS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (key, since) = entry.map_err(corrupt)?;
        let note = match notes.get(key.value()).map_err(corrupt)? {
            Some(json) => BlockNote::parse(json.value()),
            None => BlockNote {
                since: since.value(),
                ..BlockNote::default()
            },
        };
        maps.restore_block(key.value(), note);
    }
    let hash_key = read
        .open_table(META)
        .map_err(corrupt)?
        .get("hash_key")
        .map_err(corrupt)?
        .map(|v| v.value().to_vec())
        .ok_or_else(|| corrupt("the hash key went missing"))?;
    Ok((maps, hash_key))
}

/// The key range holding the members of one binding set.
pub(super) fn member_range(set: &str) -> (String, String) {
    (
        format!("{set}{MEMBER_SEPARATOR}"),
        format!(
            "{set}{}",
            char::from_u32(MEMBER_SEPARATOR as u32 + 1).unwrap_or('\u{20}')
        ),
    )
}
