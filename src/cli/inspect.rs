//! `garita state inspect --config FILE FACT VALUE`: what the store holds for one identity,
//! address or webhook event.
//!
//! The value is normalised and hashed exactly as the rules do (per policy, since Gmail
//! folding is a policy's choice), so the keys found are the ones requests use. Nothing is
//! printed in clear, not even the value asked about; bindings show how many members a
//! set has, and members only as keyed hashes. Webhook secrets and admin tokens are not
//! read: the command needs only the store and the hash key. The embedded store's file is read without
//! disturbing a running garita (its last second of counts may not be written back yet);
//! the memory store lives inside the running process and cannot be inspected from outside.

use crate::config::{Config, StoreBackend};
use crate::core::identity::key_list::KeyHasher;
use crate::state::identity_keys::key_prefixes;
use crate::state::store::{inspect_file, Held, RedisStore};
use std::fmt::Write;
use std::path::Path;

fn time(unix: i64) -> String {
    if unix == i64::MAX {
        return "never".into();
    }
    jiff::Timestamp::from_second(unix).map_or_else(|_| unix.to_string(), |t| t.to_string())
}

/// Describe what was found, one line each.
fn describe(held: &[Held]) -> String {
    let mut out = String::new();
    if held.is_empty() {
        out.push_str("  nothing held\n");
    }
    for item in held {
        let _ = match item {
            Held::Counter {
                key,
                count,
                expires,
            } => writeln!(
                out,
                "  counter {key}: {count} (kept until {})",
                time(*expires)
            ),
            Held::Binding { key, members } => {
                let lapses = members
                    .iter()
                    .map(|(_, e)| e.map_or_else(|| "never".to_string(), time))
                    .collect::<Vec<_>>()
                    .join(", ");
                writeln!(
                    out,
                    "  binding {key}: {} member(s), lapsing {lapses}",
                    members.len()
                )
            }
            Held::Replay {
                key,
                delivered,
                expires,
            } => writeln!(
                out,
                "  webhook event {key}: {} (kept until {})",
                if *delivered {
                    "delivered"
                } else {
                    "claimed, in flight"
                },
                time(*expires)
            ),
            Held::Rate { key, tat_ms } => writeln!(
                out,
                "  shared rate {key}: bucket full again at {}",
                time(tat_ms / 1000)
            ),
            Held::Blocked { key, note } => writeln!(
                out,
                "  blocked {key}: since {}{}{}",
                time(note.since),
                if note.by.is_empty() {
                    String::new()
                } else {
                    format!(", by {}", note.by)
                },
                note.reason
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" ({r})"))
            ),
        };
    }
    out
}

/// Run the command; the report, or an error to print.
pub fn run(config_path: &Path, fact: &str, value: &str) -> Result<String, String> {
    let config = Config::load_offline(config_path).map_err(|e| e.to_string())?;
    let mut report = format!(
        "state: {}\n{fact} (the value as given, normalised and hashed; not shown)\n",
        config.state.backend.describe()
    );
    let from_config = config.identity.hash_key.as_ref().map(|k| KeyHasher::new(k));
    let held = match &config.state.backend {
        StoreBackend::Memory => {
            return Err(
                "the memory store lives inside the running garita and ends with it; there is nothing to inspect"
                    .into(),
            )
        }
        StoreBackend::Embedded { path } if !path.exists() => {
            return Err(format!(
                "{} does not exist yet: nothing has been stored (garita run creates it)",
                path.display()
            ))
        }
        StoreBackend::Embedded { path } => {
            // First the hash key kept in the file (unless the config gives one), then the
            // keys it hashes to.
            let (_, stored) = inspect_file(path, &[]).map_err(|e| e.to_string())?;
            let hasher = from_config
                .or_else(|| stored.map(|k| KeyHasher::new(&k)))
                .ok_or("the state file holds no hash key yet: nothing was ever stored")?;
            let wanted = key_prefixes(&config, fact, value, &hasher)?;
            inspect_file(path, &wanted).map_err(|e| e.to_string())?.0
        }
        StoreBackend::Redis {
            url, prefix, tls_ca, ..
        } => {
            let hasher = from_config.ok_or("identity.hash_key_env is required with Redis")?;
            let wanted = key_prefixes(&config, fact, value, &hasher)?;
            let store = RedisStore::new(url, prefix, tls_ca.as_ref().map(|ca| ca.pem.as_slice()), config.state.timeout)
                .map_err(|e| e.to_string())?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(store.inspect_keys(&wanted))
                .map_err(|e| e.to_string())?
        }
    };
    report.push_str(&describe(&held));
    Ok(report)
}
