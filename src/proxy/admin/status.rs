//! `GET /admin/status`: what `garita status` shows an operator in one screen.
//!
//! The listeners the config names, the config file's digest and the last reload, the
//! store (backend, whether it answers, how many entries), each upstream and whether it is
//! in the rotation, how many reviews wait and blocks are held, and the decisions of about
//! the last five minutes by verdict (from garita's own counters, see
//! [`crate::observe::recent`]).

use super::{json, AdminApp, Reply};
use crate::proxy::served::Served;
use serde_json::json;

/// The window of the recent decisions, in seconds.
const RECENT_SECONDS: i64 = 300;

impl AdminApp {
    pub(super) async fn status(&self, served: &Served) -> Reply {
        let config = &served.config;
        let store = &served.runtime.store;
        let now = served.runtime.now().as_second();
        let store_up = served.admin(store.ping()).await.is_ok();
        let entries = served.admin(store.size()).await.ok();
        let waiting = served.reviews(true).await.ok();
        let oldest = waiting
            .as_ref()
            .and_then(|w| w.iter().map(|r| r.at).min())
            .map(|at| now - at);
        let blocks = served.admin(store.blocks()).await.ok().map(|b| b.len());
        let upstreams: Vec<_> = self
            .serving
            .upstreams()
            .all()
            .iter()
            .map(|u| json!({ "address": u.addr.to_string(), "up": u.is_up() }))
            .collect();
        let metrics = self.serving.metrics();
        let (recent, span) = metrics.recent.last(RECENT_SECONDS, &metrics.requests, now);
        json(
            200,
            &json!({
                "version": env!("CARGO_PKG_VERSION"),
                "config": {
                    "file": config.source.display().to_string(),
                    "digest": config.digest,
                    "last_reload": self.serving.last_reload(),
                },
                "listeners": self.serving.listening(),
                "store": {
                    "backend": store.backend(),
                    "up": store_up,
                    "entries": entries,
                },
                "upstreams": upstreams,
                "reviews_waiting": waiting.as_ref().map(Vec::len),
                "oldest_review_waiting_seconds": oldest,
                "blocks": blocks,
                "recent_decisions": { "seconds": span, "by_decision": recent },
            }),
        )
    }
}
