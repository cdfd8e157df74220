//! What Redis holds under a prefix, for `GET /admin/keys` and `garita state inspect`: SCAN,
//! never KEYS, so that a production Redis is not stopped for a diagnostic, and each key
//! read by its type (a sorted set is a binding; the rest by its key's family).

use super::super::{BlockNote, Held, StoreError};
use super::RedisStore;

impl RedisStore {
    /// What Redis holds under any of `prefixes` (without the deployment's prefix).
    /// Every key under `prefix` (without the deployment's prefix), sorted. SCAN, not KEYS:
    /// a production Redis is not to be stopped for a diagnostic.
    pub(super) async fn scan(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}{}*", escape_glob(&self.prefix), escape_glob(prefix));
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .query(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .clone(),
                )
                .await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// What is held under any of `prefixes`.
    pub async fn inspect_keys(&self, prefixes: &[String]) -> Result<Vec<Held>, StoreError> {
        let mut held = Vec::new();
        for prefix in prefixes {
            let keys = self.scan(prefix).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            for full in keys {
                let key = full[self.prefix.len()..].to_string();
                let ttl: i64 = self.query(redis::cmd("TTL").arg(&full).clone()).await?;
                let kind: String = self.query(redis::cmd("TYPE").arg(&full).clone()).await?;
                let expires = if ttl >= 0 { now + ttl } else { i64::MAX };
                if kind == "zset" {
                    let members: Vec<(String, String)> = self
                        .query(
                            redis::cmd("ZRANGE")
                                .arg(&full)
                                .arg(0)
                                .arg(-1)
                                .arg("WITHSCORES")
                                .clone(),
                        )
                        .await?;
                    let members = members
                        .into_iter()
                        .map(|(m, score)| {
                            (
                                m,
                                score
                                    .parse::<f64>()
                                    .ok()
                                    .filter(|s| s.is_finite())
                                    .map(|s| s as i64),
                            )
                        })
                        .collect();
                    held.push(Held::Binding { key, members });
                    continue;
                }
                let value: Option<String> =
                    self.query(redis::cmd("GET").arg(&full).clone()).await?;
                let value = value.unwrap_or_default();
                if key.starts_with("blk:") {
                    held.push(Held::Blocked {
                        key,
                        note: BlockNote::parse(&value),
                    });
                } else if key.starts_with("w:") {
                    held.push(Held::Replay {
                        key,
                        delivered: value == "1",
                        expires,
                    });
                } else if key.starts_with("r:") {
                    held.push(Held::Rate {
                        key,
                        tat_ms: value.parse().unwrap_or(0),
                    });
                } else {
                    held.push(Held::Counter {
                        key,
                        count: value.parse().unwrap_or(0),
                        expires,
                    });
                }
            }
        }
        Ok(held)
    }
}

/// A key text for a Redis glob pattern: its special characters escaped.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
