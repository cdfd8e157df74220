//! `GET /admin/codes/{code}`: what the store holds for one payment code: the creation
//! request's id, route, amount and order reference, whether it was held for review, when
//! it was created and lapses, and each event that settled it with when it came. The
//! identity keys stay in the store. `garita simulate` reads it after every step.

use super::{error, json, AdminApp, Reply};
use crate::proxy::served::Served;
use crate::state::store::codes::is_code;
use crate::state::store::CodeEvent;
use serde_json::{json, Map, Value};

fn time(unix: i64) -> Value {
    jiff::Timestamp::from_second(unix).map_or(Value::Null, |t| Value::String(t.to_string()))
}

impl AdminApp {
    pub(super) async fn one_code(&self, served: &Served, code: &str) -> Reply {
        if !is_code(code) {
            return error(400, "expected /admin/codes/{code}: a payment code");
        }
        let ledger = match served.admin(served.runtime.store.code(code)).await {
            Ok(Some(ledger)) => ledger,
            Ok(None) => return error(404, "unknown_code"),
            Err(_) => return error(503, "store_unavailable"),
        };
        let record = &ledger.record;
        let events: Map<String, Value> = CodeEvent::ALL
            .iter()
            .filter_map(|e| {
                ledger
                    .events
                    .get(e)
                    .map(|at| (e.as_str().to_string(), time(*at)))
            })
            .collect();
        let settled = ledger.events.contains_key(&CodeEvent::Paid)
            || ledger.events.contains_key(&CodeEvent::Expired);
        json(
            200,
            &json!({
                "code": record.code,
                "request_id": record.request_id,
                "route": record.route,
                "amount": record.amount,
                "currency": record.currency,
                "order": record.order,
                "review": record.review,
                "created_at": time(record.created_at),
                "expires_at": time(record.expires_at),
                "open": !settled,
                "events": events,
            }),
        )
    }
}
