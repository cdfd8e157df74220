//! The outbox in Redis: each event a JSON string (`ob:{id}`, kept until delivered) and a
//! sorted set of their ids by when each is due (`ob:due`). Taking leases the due ones by
//! moving their score to the lease's end in one script; settling forgets a delivered one
//! or writes back a failed one with its next time, unless it was settled meanwhile.

use super::super::outbox::OutboxEvent;
use super::super::StoreError;
use super::RedisStore;

/// The sorted set of event ids by when each is due.
pub(super) const DUE: &str = "ob:due";

pub(super) const TAKE_SCRIPT: &str = include_str!("outbox_take.lua");
pub(super) const SETTLE_SCRIPT: &str = include_str!("outbox_settle.lua");

fn bad(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("an outbox event: {e}"))
}

impl RedisStore {
    pub(super) fn event_key(&self, id: &str) -> String {
        self.key(&format!("ob:{id}"))
    }

    pub(super) async fn take_events(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let ids: Vec<String> = self
            .invoke(
                &self.take_script,
                vec![self.key(DUE)],
                vec![now.to_string(), lease_until.to_string(), limit.to_string()],
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.event_key(id)).collect();
        let records: Vec<Option<String>> = self.query(redis::cmd("MGET").arg(keys).clone()).await?;
        records
            .into_iter()
            .flatten()
            .map(|json| serde_json::from_str(&json).map_err(bad))
            .collect()
    }

    pub(super) async fn settle_event(
        &self,
        event: &OutboxEvent,
        delivered: bool,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(event).map_err(bad)?;
        let _: i64 = self
            .invoke(
                &self.settle_script,
                vec![self.key(DUE), self.event_key(&event.id)],
                vec![
                    event.id.clone(),
                    if delivered { "1" } else { "0" }.to_string(),
                    json,
                    event.next_at.to_string(),
                ],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn count_events(&self) -> Result<u64, StoreError> {
        self.query(redis::cmd("ZCARD").arg(self.key(DUE)).clone())
            .await
    }
}
