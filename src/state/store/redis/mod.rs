//! The shared store: Redis 7 (or Valkey), for several gateway instances behind a load
//! balancer, so that a quota of N lets N through in total and a notification is delivered
//! once whichever instance it reaches.
//!
//! One request's plan is one Lua script, which Redis runs atomically: the block list, shared
//! rates, bindings (a sorted set per key, members scored by expiry), then counters (all or
//! nothing), then the replay claim, with the same rules as the embedded store. Review
//! records are JSON strings (`rv:{id}`) indexed by time in a sorted set (`rv:index`); a
//! resolution is a compare-and-set script that also writes the blocked keys (`blk:...`). Every key carries the deployment's
//! prefix as a hash tag (`{garita}:q:...`), so that all keys of one request, indeed all of
//! garita's keys, live in one slot and the script also runs on Redis Cluster. That keeps
//! every plan atomic at the price of sharding: one shard holds garita's state. Keys expire
//! with their window, set relative to the plan's time, so the gateway's and Redis' clocks
//! need not agree; shared rates run on Redis' clock alone (`TIME`), so that instances whose
//! clocks differ by a moment do not refuse each other's requests early. The connection is
//! made lazily and remade with backoff when lost; a request that finds Redis down gets its
//! policy's `on_store_error`.
//!
//! The scripts are `plan.lua` and `resolve.lua` beside this file; how a plan is encoded
//! for the script and its answer read back is [`codec`]; what `inspect` reads, [`inspect`].

use super::codes::{CodeEvent, CodeLedger, PaymentCode, Settled};
use super::outbox::OutboxEvent;
use super::queue::{ReviewPage, ReviewQuery};
use super::review::{Changed, Resolution, Resolved, Review, ReviewChange};
use super::{Block, BlockNote, Held, Store, StoreAnswer, StoreError, StorePlan};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

mod codec;
mod codes;
mod inspect;
mod outbox;
mod reviews;
use std::time::Duration;

/// One plan: see the module documentation. KEYS are the blocked keys to look up, the
/// shared rates, the bindings' sets, the counters and the claim, in that order; ARGV starts
/// with now and the five counts.
const PLAN_SCRIPT: &str = include_str!("plan.lua");

/// Resolve a review: KEYS[1] is its record, KEYS[2..] the keys to block. Written only if
/// the record is still the one read (ARGV[1]), so two resolutions cannot both win.
const RESOLVE_SCRIPT: &str = include_str!("resolve.lua");

/// Change a review record unless it changed since it was read.
const CHANGE_SCRIPT: &str = include_str!("change.lua");

pub struct RedisStore {
    /// Reconnects by itself; a cheap handle to clone per call. Its driver runs on
    /// `driver`, whichever runtime the calls come from.
    connection: ConnectionManager,
    driver: OwnRuntime,
    script: redis::Script,
    resolve_script: redis::Script,
    change_script: redis::Script,
    take_script: redis::Script,
    settle_script: redis::Script,
    record_code_script: redis::Script,
    record_counted_script: redis::Script,
    settle_code_script: redis::Script,
    /// `{prefix}:`, prepended to every key.
    prefix: String,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Corrupt(e.to_string())
    }
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://`, `rediss://` for TLS, `redis+unix://`),
    /// connecting on first use; `timeout` bounds each connection attempt and answer. With
    /// `tls_ca` (PEM), a `rediss://` server's certificate must chain to it, not to the Web PKI.
    pub fn new(
        url: &str,
        prefix: &str,
        tls_ca: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let bad_url = |e: redis::RedisError| {
            StoreError::Unavailable(format!("the Redis URL: {}", e.kind_name()))
        };
        let client = match tls_ca {
            None => redis::Client::open(url).map_err(bad_url)?,
            Some(ca) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.to_vec()),
                },
            )
            .map_err(bad_url)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2));
        // A runtime of its own drives the connection: Pingora runs each service on its own
        // runtime, and a connection driven by one of them would stall whenever that one
        // is idle or gone.
        let driver = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("garita-redis")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the Redis driver: {e}")))?;
        let connection = {
            let _inside = driver.enter();
            ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?
        };
        Ok(Self {
            connection,
            driver: OwnRuntime(Some(driver)),
            script: redis::Script::new(PLAN_SCRIPT),
            resolve_script: redis::Script::new(RESOLVE_SCRIPT),
            change_script: redis::Script::new(CHANGE_SCRIPT),
            take_script: redis::Script::new(outbox::TAKE_SCRIPT),
            settle_script: redis::Script::new(outbox::SETTLE_SCRIPT),
            record_code_script: redis::Script::new(codes::RECORD_SCRIPT),
            record_counted_script: redis::Script::new(codes::RECORD_COUNTED_SCRIPT),
            settle_code_script: redis::Script::new(codes::SETTLE_SCRIPT),
            prefix: format!("{{{prefix}}}:"),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Run Redis work on the store's own runtime, where the connection (and every
    /// reconnection) lives, whichever runtime the caller is on.
    async fn on_driver<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let Some(driver) = &self.driver.0 else {
            return Err(StoreError::Unavailable(
                "the Redis driver has stopped".into(),
            ));
        };
        driver
            .spawn(work)
            .await
            .map_err(|e| StoreError::Unavailable(format!("the Redis driver: {e}")))?
    }

    /// A Lua script's answer, run on the driver (EVALSHA, loading the script on a miss).
    async fn invoke<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &redis::Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<T, StoreError> {
        let (script, mut connection) = (script.clone(), self.connection.clone());
        self.on_driver(async move {
            let mut call = script.prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            for arg in &args {
                call.arg(arg);
            }
            call.invoke_async(&mut connection)
                .await
                .map_err(unavailable)
        })
        .await
    }

    /// A command's answer, run on the driver.
    async fn query<T: redis::FromRedisValue + Send + 'static>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        self.on_driver(async move {
            command
                .query_async(&mut connection)
                .await
                .map_err(unavailable)
        })
        .await
    }
}

/// A runtime that may be dropped anywhere, async contexts included (a store replaced by a
/// reload is dropped inside one).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for redis::RedisError {
    /// The kind of error, without the URL (which may hold a password).
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn execute(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreError> {
        let (keys, args) = codec::encode(plan, |key| self.key(key));
        let answer: codec::Answer = self.invoke(&self.script, keys, args).await?;
        codec::decode(answer)
    }

    async fn settle(
        &self,
        key: &str,
        delivered_until: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = self.key(key);
        let mut command = match delivered_until {
            Some(_) => redis::cmd("SET"),
            None => redis::cmd("DEL"),
        };
        command.arg(&key);
        if let Some(until) = delivered_until {
            command.arg("1").arg("EX").arg((until - now).max(1));
        }
        self.query::<()>(command).await
    }

    /// Redis expires keys itself.
    async fn purge_expired(&self, _now: i64) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keys in the Redis database (garita's alone when it has a database of its own).
    async fn size(&self) -> Result<u64, StoreError> {
        self.query(redis::cmd("DBSIZE").clone()).await
    }

    async fn add_review(&self, review: &Review) -> Result<(), StoreError> {
        self.record_review(review).await
    }

    async fn reviews(&self, pending: bool) -> Result<Vec<Review>, StoreError> {
        self.all_reviews(pending).await
    }

    async fn review(&self, id: &str) -> Result<Option<Review>, StoreError> {
        Ok(self.read_review(id).await?.map(|(review, _)| review))
    }

    async fn review_page(&self, query: &ReviewQuery, now: i64) -> Result<ReviewPage, StoreError> {
        self.walk_reviews(query, now).await
    }

    async fn change_review(
        &self,
        id: &str,
        change: &ReviewChange,
        now: i64,
    ) -> Result<Changed, StoreError> {
        self.change_record(id, change, now).await
    }

    async fn resolve_review(
        &self,
        id: &str,
        resolution: &Resolution,
        notify: bool,
    ) -> Result<Resolved, StoreError> {
        self.resolve_record(id, resolution, notify).await
    }

    async fn outbox_take(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.take_events(now, lease_until, limit).await
    }

    async fn outbox_settle(&self, event: &OutboxEvent, delivered: bool) -> Result<(), StoreError> {
        self.settle_event(event, delivered).await
    }

    async fn outbox_len(&self) -> Result<u64, StoreError> {
        self.count_events().await
    }

    async fn block(&self, block: &Block) -> Result<bool, StoreError> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.key(&block.key()))
                    .arg(block.note.to_json())
                    .arg("NX")
                    .clone(),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn unblock(&self, fact: &str, hash: &str) -> Result<bool, StoreError> {
        let key = self.key(&crate::core::plan::block_key(fact, hash));
        let removed: i64 = self.query(redis::cmd("DEL").arg(key).clone()).await?;
        Ok(removed > 0)
    }

    async fn blocks(&self) -> Result<Vec<Block>, StoreError> {
        let keys = self.scan("blk:").await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let notes: Vec<Option<String>> = self.query(redis::cmd("MGET").arg(&keys).clone()).await?;
        let mut out: Vec<Block> = keys
            .iter()
            .zip(notes)
            .filter_map(|(full, note)| {
                Block::from_key(&full[self.prefix.len()..], BlockNote::parse(&note?))
            })
            .collect();
        super::sort_blocks(&mut out);
        Ok(out)
    }

    async fn inspect(&self, prefixes: &[String]) -> Result<Vec<Held>, StoreError> {
        self.inspect_keys(prefixes).await
    }

    async fn reset_counters(&self, prefixes: &[String]) -> Result<Vec<String>, StoreError> {
        let mut gone = Vec::new();
        for prefix in prefixes {
            for full in self.scan(prefix).await? {
                let _: i64 = self.query(redis::cmd("DEL").arg(&full).clone()).await?;
                gone.push(full[self.prefix.len()..].to_string());
            }
        }
        gone.sort();
        Ok(gone)
    }

    async fn record_code(&self, code: &PaymentCode) -> Result<bool, StoreError> {
        self.write_code(code).await
    }

    /// One round trip where the plan is tallies alone (a creation's always is).
    async fn record_code_counted(
        &self,
        code: &PaymentCode,
        created: &StorePlan,
    ) -> Result<bool, StoreError> {
        if let Some(answer) = self.write_code_counted(code, created).await {
            return answer;
        }
        if !self.write_code(code).await? {
            return Ok(false);
        }
        self.execute(created).await?;
        Ok(true)
    }

    async fn settle_code(
        &self,
        code: &str,
        event: CodeEvent,
        at: i64,
    ) -> Result<Settled, StoreError> {
        self.settle_code_event(code, event, at).await
    }

    async fn code(&self, code: &str) -> Result<Option<CodeLedger>, StoreError> {
        self.read_code(code).await
    }

    async fn open_codes(&self, now: i64) -> Result<u64, StoreError> {
        self.count_open_codes(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.query(redis::cmd("PING").clone()).await?;
        Ok(())
    }
}
