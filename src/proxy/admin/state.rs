//! The admin API's view of the running state: readiness, one key's records, and reload.
//!
//! - `GET /admin/readyz`: 200 when the store answers and at least one upstream is up;
//!   otherwise 503, naming which. A load balancer keeps a gateway that cannot decide or
//!   forward out of its rotation.
//! - `GET /admin/keys/{fact}/{value}` (`dni`, `email`, `phone`, `account`, `device`, `ip`,
//!   or `event` for a webhook's event id): every record the store holds for it, found by
//!   normalising and hashing the value as the rules do. Counters with their counts,
//!   bindings with how many members (as keyed hashes), replay records, shared rates and
//!   block entries; and the keyed hash the decision log names the value by (`log_hash`;
//!   `log_hashes` when policies hash an email two ways; none for an address, which the
//!   log writes as it is). The value is not echoed back.
//! - `POST /admin/reload`: read the config file again; 200 with the settings that wait for
//!   a restart, or 422 with why the new config was refused (the running one stays).

use super::{error, json, AdminApp, Reply};
use crate::core::request::facts::KeyKind;
use crate::proxy::served::Served;
use crate::state::identity_keys::{hashes_of, key_prefixes};
use crate::state::store::Held;
use serde_json::{json, Value};

fn time(unix: i64) -> Value {
    if unix == i64::MAX {
        return Value::Null;
    }
    jiff::Timestamp::from_second(unix).map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn held_json(held: &Held) -> Value {
    match held {
        Held::Counter {
            key,
            count,
            expires,
        } => json!({ "kind": "counter", "key": key, "count": count, "kept_until": time(*expires) }),
        Held::Binding { key, members } => json!({
            "kind": "binding",
            "key": key,
            "members": members.iter().map(|(m, until)| json!({
                "member": m,
                "until": until.map_or(Value::Null, time),
            })).collect::<Vec<_>>(),
        }),
        Held::Replay {
            key,
            delivered,
            expires,
        } => json!({
            "kind": "webhook_event",
            "key": key,
            "state": if *delivered { "delivered" } else { "in_flight" },
            "kept_until": time(*expires),
        }),
        Held::Rate { key, tat_ms } => json!({
            "kind": "shared_rate",
            "key": key,
            "full_again_at": time(tat_ms / 1000),
        }),
        Held::Blocked { key, note } => json!({
            "kind": "blocked",
            "key": key,
            "since": time(note.since),
            "by": note.by,
            "reason": note.reason,
        }),
    }
}

impl AdminApp {
    pub(super) async fn ready(&self, served: &Served) -> Reply {
        let store = served.admin(served.runtime.store.ping()).await;
        let upstreams = self.serving.upstreams().all();
        let any_up = upstreams.iter().any(|u| u.is_up());
        let ready = store.is_ok() && any_up;
        json(
            if ready { 200 } else { 503 },
            &json!({
                "ready": ready,
                "store": match &store {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e.to_string(),
                },
                "upstreams": upstreams.iter().map(|u| json!({
                    "address": u.addr.to_string(),
                    "up": u.is_up(),
                })).collect::<Vec<_>>(),
            }),
        )
    }

    pub(super) async fn keys(&self, served: &Served, fact: &str, value: &str) -> Reply {
        let prefixes = match key_prefixes(&served.config, fact, value, &served.runtime.hasher) {
            Ok(prefixes) => prefixes,
            Err(_) if fact == "event" => Vec::new(),
            // Neither the value nor the reason (which quotes it) goes back.
            Err(_) => return error(
                400,
                "unknown fact or invalid value: dni, email, phone, account, device, ip or event",
            ),
        };
        // How the decision log names the value (its keyed hash), to find its lines: an
        // event's, or an identity's (an email may have two, folded and not, when policies
        // differ). Addresses are logged as they are.
        let log_hashes: Vec<String> = match KeyKind::parse(fact) {
            None if fact == "event" => {
                vec![String::from_utf8_lossy(&served.runtime.hasher.hash_event(value)).into_owned()]
            }
            Some(kind) if kind != KeyKind::Ip => {
                hashes_of(&served.config, kind, value, &served.runtime.hasher).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let log_hash = log_hashes.first().cloned();
        match served.admin(served.runtime.store.inspect(&prefixes)).await {
            Ok(held) => json(
                200,
                &json!({
                    "fact": fact,
                    "store": served.runtime.store.backend(),
                    "log_hash": log_hash,
                    "log_hashes": log_hashes,
                    "held": held.iter().map(held_json).collect::<Vec<_>>(),
                }),
            ),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    /// `POST /admin/quotas/reset` with `{"fact":"dni","value":"..."}`: the identity's quota
    /// counters and shared rates start again, on every policy (a support action, audited
    /// with the fact and how many counters went; never the value).
    pub(super) async fn reset_quota(
        &self,
        session: &mut pingora::protocols::http::ServerSession,
        served: &Served,
        by: &str,
    ) -> Reply {
        const EXPECTED: &str =
            "expected {\"fact\":\"dni|email|phone|account|device|ip\",\"value\":\"...\"}";
        let body = match super::body_of::<super::FactValue>(session, EXPECTED).await {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let prefixes: Vec<String> = match key_prefixes(
            &served.config,
            &body.fact,
            &body.value,
            &served.runtime.hasher,
        ) {
            Ok(prefixes) if body.fact != "event" => prefixes
                .into_iter()
                .filter(|p| p.starts_with("q:") || p.starts_with("r:"))
                .collect(),
            _ => {
                return error(
                    400,
                    "unknown fact or invalid value: dni, email, phone, account, device or ip",
                )
            }
        };
        match served
            .admin(served.runtime.store.reset_counters(&prefixes))
            .await
        {
            Ok(gone) => {
                self.audit(
                    "quota_reset",
                    by,
                    json!({ "fact": body.fact, "counters": gone.len() }),
                );
                json(200, &json!({ "fact": body.fact, "reset": gone.len() }))
            }
            Err(_) => error(503, "store_unavailable"),
        }
    }

    pub(super) async fn reload(&self, by: &str) -> Reply {
        let serving = self.serving.clone();
        let by_name = by.to_string();
        let outcome =
            tokio::task::spawn_blocking(move || serving.reload("POST /admin/reload", &by_name))
                .await;
        // The reload itself wrote the audit line.
        match outcome {
            Ok(Ok(reloaded)) => json(
                200,
                &json!({ "reloaded": true, "restart_needed": reloaded.restart_needed }),
            ),
            Ok(Err(e)) => json(
                422,
                &json!({ "error": "reload_failed", "why": e.to_string() }),
            ),
            Err(_) => error(500, "reload_panicked"),
        }
    }
}
