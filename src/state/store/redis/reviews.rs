//! The review ledger in Redis: each record a JSON string (`rv:{id}`, expiring with the
//! audit trail), ordered by time in sorted sets: all records (`rv:index`), the open ones
//! (`rv:open`), which the queue walks by default, and those of each identity key
//! (`rv:key:{fact}:{hash}`), which a customer's history walks.
//!
//! A change reads the record, applies [`review::apply`] or [`review::resolve`] (the rules
//! every store shares) and writes it back with a compare-and-set script, so that two
//! people cannot both win; a change that lost the race is tried again on what won. A page
//! walks the index in the query's order, a chunk of records at a time, into the same
//! [`PageBuilder`] the engine fills.

use super::super::outbox::OutboxEvent;
use super::super::queue::{PageBuilder, ReviewPage, ReviewQuery};
use super::super::review::{self, Changed, Resolution, Resolved, Review, ReviewChange};
use super::super::StoreError;
use super::{unavailable, RedisStore};

/// The sorted set that orders every review record by time.
const REVIEW_INDEX: &str = "rv:index";
/// The sorted set of the reviews not resolved.
const OPEN_INDEX: &str = "rv:open";
/// Records read per round trip while walking the queue.
const CHUNK: isize = 200;
/// How often a change that lost a race is tried again.
const ATTEMPTS: usize = 3;

/// The sorted set of the reviews carrying one identity key.
fn key_index(fact: &str, hash: &str) -> String {
    format!("rv:key:{fact}:{hash}")
}

fn bad(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a review record: {e}"))
}

impl RedisStore {
    fn record_key(&self, id: &str) -> String {
        self.key(&format!("rv:{id}"))
    }

    pub(super) async fn record_review(&self, review: &Review) -> Result<(), StoreError> {
        let json = serde_json::to_string(review).map_err(bad)?;
        let ttl = (review.expires_at() - review.at).max(1);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.record_key(&review.id))
            .arg(json)
            .arg("EX")
            .arg(ttl)
            .ignore()
            .cmd("ZADD")
            .arg(self.key(REVIEW_INDEX))
            .arg(review.at)
            .arg(&review.id)
            .ignore();
        if review.resolution.is_none() {
            pipe.cmd("ZADD")
                .arg(self.key(OPEN_INDEX))
                .arg(review.at)
                .arg(&review.id)
                .ignore();
        }
        let key_indexes: Vec<String> = review
            .identity_keys()
            .map(|(fact, hash)| key_index(fact, hash))
            .collect();
        for index in &key_indexes {
            pipe.cmd("ZADD")
                .arg(self.key(index))
                .arg(review.at)
                .arg(&review.id)
                .ignore()
                .cmd("EXPIRE")
                .arg(self.key(index))
                .arg(ttl)
                .ignore();
        }
        // The indexes forget what the records have.
        for index in [REVIEW_INDEX, OPEN_INDEX]
            .into_iter()
            .chain(key_indexes.iter().map(String::as_str))
        {
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(self.key(index))
                .arg("-inf")
                .arg(review.at - review::KEEP_SECONDS)
                .ignore();
        }
        let mut connection = self.connection.clone();
        self.on_driver(async move {
            pipe.query_async::<()>(&mut connection)
                .await
                .map_err(unavailable)
        })
        .await
    }

    /// The record and its JSON as stored (what a compare-and-set compares with).
    pub(super) async fn read_review(
        &self,
        id: &str,
    ) -> Result<Option<(Review, String)>, StoreError> {
        let json: Option<String> = self
            .query(redis::cmd("GET").arg(self.record_key(id)).clone())
            .await?;
        json.map(|json| Ok((serde_json::from_str(&json).map_err(bad)?, json)))
            .transpose()
    }

    /// The records at `ids`, in that order, skipping those that expired.
    async fn read_reviews(&self, ids: &[String]) -> Result<Vec<Review>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.record_key(id)).collect();
        let records: Vec<Option<String>> = self.query(redis::cmd("MGET").arg(keys).clone()).await?;
        records
            .into_iter()
            .flatten()
            .map(|json| serde_json::from_str(&json).map_err(bad))
            .collect()
    }

    /// The ids of `index` from `start` to `stop` (inclusive), newest first when `rev`.
    async fn index_range(
        &self,
        index: &str,
        (start, stop): (isize, isize),
        rev: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut command = redis::cmd("ZRANGE");
        command.arg(self.key(index)).arg(start).arg(stop);
        if rev {
            command.arg("REV");
        }
        self.query(command).await
    }

    pub(super) async fn all_reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError> {
        let index = if pending { OPEN_INDEX } else { REVIEW_INDEX };
        let mut out = Vec::new();
        let mut start = 0;
        // In chunks, so that a long queue is not one huge answer.
        loop {
            let ids = self
                .index_range(index, (start, start + CHUNK - 1), false)
                .await?;
            let last = (ids.len() as isize) < CHUNK;
            out.extend(
                self.read_reviews(&ids)
                    .await?
                    .into_iter()
                    .filter(|r| !pending || r.resolution.is_none()),
            );
            if last {
                return Ok(out);
            }
            start += CHUNK;
        }
    }

    pub(super) async fn walk_reviews(
        &self,
        query: &ReviewQuery,
        now: i64,
    ) -> Result<ReviewPage, StoreError> {
        let index = match &query.key {
            Some((fact, hash)) => key_index(fact, hash),
            None if query.walks_resolved() => REVIEW_INDEX.to_string(),
            None => OPEN_INDEX.to_string(),
        };
        let mut builder = PageBuilder::new(query, now);
        let mut start = 0;
        loop {
            let ids = self
                .index_range(&index, (start, start + CHUNK - 1), query.newest_first)
                .await?;
            let last = (ids.len() as isize) < CHUNK;
            let records = self.read_reviews(&ids).await?;
            let count = records.len();
            for (i, review) in records.iter().enumerate() {
                builder.push(review);
                if builder.done() {
                    return Ok(builder.finish(i + 1 < count || !last));
                }
            }
            if last {
                return Ok(builder.finish(false));
            }
            start += CHUNK;
        }
    }

    pub(super) async fn change_record(
        &self,
        id: &str,
        change: &ReviewChange,
        now: i64,
    ) -> Result<Changed, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some((current, json)) = self.read_review(id).await? else {
                return Ok(Changed::Unknown);
            };
            let changed = review::apply(&current, change, now);
            let Changed::Now(next) = &changed else {
                return Ok(changed);
            };
            let written: i64 = self
                .invoke(
                    &self.change_script,
                    vec![self.record_key(id)],
                    vec![json, serde_json::to_string(next).map_err(bad)?],
                )
                .await?;
            if written == 1 {
                return Ok(changed);
            }
        }
        Err(StoreError::Unavailable(format!(
            "review {id} kept changing under this change"
        )))
    }

    pub(super) async fn resolve_record(
        &self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> Result<Resolved, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some((current, json)) = self.read_review(id).await? else {
                return Ok(Resolved::Unknown);
            };
            let Some((resolved, blocked)) = review::resolve(&current, resolution) else {
                return Ok(Resolved::Already(current));
            };
            let event = notify.then(|| OutboxEvent::resolved(&resolved)).flatten();
            let (event_id, event_json, due) = match &event {
                Some(e) => (
                    e.id.clone(),
                    serde_json::to_string(e).map_err(bad)?,
                    e.next_at.to_string(),
                ),
                None => Default::default(),
            };
            let mut keys = vec![
                self.record_key(id),
                self.key(OPEN_INDEX),
                self.key(super::outbox::DUE),
                self.event_key(&event_id),
            ];
            keys.extend(blocked.iter().map(|b| self.key(&b.key())));
            let note = blocked
                .first()
                .map(|b| b.note.to_json())
                .unwrap_or_default();
            let args = vec![
                json,
                serde_json::to_string(&resolved).map_err(bad)?,
                note,
                id.to_string(),
                event_json,
                event_id,
                due,
            ];
            let written: i64 = self.invoke(&self.resolve_script, keys, args).await?;
            if written == 1 {
                return Ok(Resolved::Now(resolved));
            }
            // Changed between the read and the write (a claim, a note, a resolution):
            // read it again and decide on what is there now.
        }
        Err(StoreError::Unavailable(format!(
            "review {id} kept changing under its resolution"
        )))
    }
}
