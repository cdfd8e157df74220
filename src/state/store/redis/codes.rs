//! Payment codes in Redis: each code's record a JSON string (`pc:code:{code}`, expiring
//! when the record may be forgotten), its events a hash beside it (`pc:code:{code}:ev`,
//! event -> when it came, set with HSETNX so that each counts once), and the codes not yet
//! paid or expired in a sorted set scored by the record's end (`pc:open`). A created code's
//! record and its `created` counters go in one script, one round trip.

use super::super::codes::{CodeEvent, CodeLedger, PaymentCode, Settled};
use super::super::{StoreError, StorePlan};
use super::RedisStore;
use std::collections::BTreeMap;

/// The codes neither paid nor expired, scored by when their records end.
const OPEN: &str = "pc:open";

/// KEYS[1] the record, KEYS[2] the open set; ARGV the record's JSON, its end, the code.
pub(super) const RECORD_SCRIPT: &str = r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EXAT', ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
";

/// The same, then (only for a new code) the creation's counters: KEYS[3..] the counters;
/// ARGV after the code, each counter's lifetime in seconds and what it adds. A counter is
/// given its lifetime when this made it, as the plan script does.
pub(super) const RECORD_COUNTED_SCRIPT: &str = r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EXAT', ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
for i = 3, #KEYS do
  local at = 4 + (i - 3) * 2
  local add = tonumber(ARGV[at + 1])
  local count = redis.call('INCRBY', KEYS[i], add)
  if count == add then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[at])) end
end
return 1
";

/// KEYS[1] the record, KEYS[2] its events, KEYS[3] the open set; ARGV the event, when it
/// came, the code. Answers nil for an unknown code, else the record, whether the event
/// is new (1) and the events.
pub(super) const SETTLE_SCRIPT: &str = r"
local record = redis.call('GET', KEYS[1])
if not record then return false end
local first = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
if first == 1 then
  local ends = redis.call('EXPIRETIME', KEYS[1])
  if ends > 0 then redis.call('EXPIREAT', KEYS[2], ends) end
  if ARGV[1] ~= 'refunded' then redis.call('ZREM', KEYS[3], ARGV[3]) end
end
return {record, first, redis.call('HGETALL', KEYS[2])}
";

fn bad(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("a payment code: {e}"))
}

fn ledger(record: &str, events: &[String]) -> Result<CodeLedger, StoreError> {
    let record: PaymentCode = serde_json::from_str(record).map_err(bad)?;
    let mut kept = BTreeMap::new();
    for pair in events.chunks(2) {
        if let [event, at] = pair {
            let event = CodeEvent::parse(event).ok_or_else(|| bad(event))?;
            kept.insert(event, at.parse().map_err(bad)?);
        }
    }
    Ok(CodeLedger {
        record,
        events: kept,
    })
}

impl RedisStore {
    fn code_key(&self, code: &str) -> String {
        self.key(&format!("pc:code:{code}"))
    }

    /// A code and its creation's counters in one script; `None` when the plan is not
    /// counters alone that add and never refuse (the caller then makes two calls).
    pub(super) async fn write_code_counted(
        &self,
        code: &PaymentCode,
        created: &StorePlan,
    ) -> Option<Result<bool, StoreError>> {
        let only_tallies = created.blocks.is_empty()
            && created.rates.is_empty()
            && created.bindings.is_empty()
            && created.claim.is_none()
            && created.counters.iter().all(|c| !c.enforced && c.add > 0);
        if !only_tallies {
            return None;
        }
        let json = match serde_json::to_string(code).map_err(bad) {
            Ok(json) => json,
            Err(e) => return Some(Err(e)),
        };
        let mut keys = vec![self.code_key(&code.code), self.key(OPEN)];
        let mut args = vec![json, code.keep_until.to_string(), code.code.clone()];
        for counter in &created.counters {
            keys.push(self.key(&counter.key));
            args.push((counter.expires_at - created.now).max(1).to_string());
            args.push(counter.add.to_string());
        }
        let added = self
            .invoke::<i64>(&self.record_counted_script, keys, args)
            .await;
        Some(added.map(|a| a == 1))
    }

    pub(super) async fn write_code(&self, code: &PaymentCode) -> Result<bool, StoreError> {
        let json = serde_json::to_string(code).map_err(bad)?;
        let added: i64 = self
            .invoke(
                &self.record_code_script,
                vec![self.code_key(&code.code), self.key(OPEN)],
                vec![json, code.keep_until.to_string(), code.code.clone()],
            )
            .await?;
        Ok(added == 1)
    }

    pub(super) async fn settle_code_event(
        &self,
        code: &str,
        event: CodeEvent,
        at: i64,
    ) -> Result<Settled, StoreError> {
        let record = self.code_key(code);
        let events = format!("{record}:ev");
        let answer: Option<(String, i64, Vec<String>)> = self
            .invoke(
                &self.settle_code_script,
                vec![record, events, self.key(OPEN)],
                vec![event.as_str().into(), at.to_string(), code.into()],
            )
            .await?;
        Ok(match answer {
            None => Settled::Unknown,
            Some((record, 1, events)) => Settled::First(ledger(&record, &events)?),
            Some((record, _, events)) => Settled::Again(ledger(&record, &events)?),
        })
    }

    pub(super) async fn read_code(&self, code: &str) -> Result<Option<CodeLedger>, StoreError> {
        let record = self.code_key(code);
        let json: Option<String> = self.query(redis::cmd("GET").arg(&record).clone()).await?;
        let Some(json) = json else {
            return Ok(None);
        };
        let events: Vec<String> = self
            .query(redis::cmd("HGETALL").arg(format!("{record}:ev")).clone())
            .await?;
        ledger(&json, &events).map(Some)
    }

    pub(super) async fn count_open_codes(&self, now: i64) -> Result<u64, StoreError> {
        let open = self.key(OPEN);
        let _: i64 = self
            .query(
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(&open)
                    .arg("-inf")
                    .arg(now)
                    .clone(),
            )
            .await?;
        self.query(redis::cmd("ZCARD").arg(&open).clone()).await
    }
}
