//! The outbox's sender, a background service: every second it takes the events due from
//! the store (leased, so that another instance sharing the store does not send them too)
//! and posts each to `[review_events]`'s URL, signed the Standard Webhooks way
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A 2xx delivers the event; any
//! other answer, or none within the timeout, keeps it for a retry after a backoff (5 s,
//! doubling, up to an hour). The events go through Pingora's own connector, so they
//! connect as requests to the backend do.

use crate::observe::metrics::Metrics;
use crate::proxy::reload::Serving;
use crate::state::store::outbox::OutboxEvent;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::connectors::http::Connector as HttpConnector;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;
use std::time::Duration;

/// Events sent per round.
const BATCH: usize = 20;
/// How often the outbox is looked at.
const ROUND: Duration = Duration::from_secs(1);

pub struct OutboxSender {
    pub serving: Arc<Serving>,
    pub metrics: Arc<Metrics>,
    http: Arc<HttpConnector>,
}

impl OutboxSender {
    pub fn new(serving: Arc<Serving>, metrics: Arc<Metrics>) -> Self {
        Self {
            serving,
            metrics,
            http: Arc::new(HttpConnector::new(None)),
        }
    }
}

/// Post one event; the status the shop answered.
async fn post(
    http: &HttpConnector,
    to: &crate::config::ReviewEvents,
    event: &OutboxEvent,
    now: i64,
) -> Result<u16, String> {
    let text = |e: pingora::BError| e.to_string();
    let mut peer = HttpPeer::new(to.addr, to.tls, to.host.clone());
    peer.options.connection_timeout = Some(to.timeout);
    peer.options.total_connection_timeout = Some(to.timeout);
    peer.options.read_timeout = Some(to.timeout);
    peer.options.write_timeout = Some(to.timeout);
    let mut req = RequestHeader::build("POST", to.path.as_bytes(), None).map_err(text)?;
    req.insert_header("host", &to.host).map_err(text)?;
    req.insert_header("user-agent", "garita-review-events")
        .map_err(text)?;
    req.insert_header("content-type", "application/json")
        .map_err(text)?;
    req.insert_header("content-length", event.body.len().to_string())
        .map_err(text)?;
    let signed = crate::core::webhook::sign(
        &crate::core::webhook::Profile::StandardWebhooks,
        &to.key,
        event.body.as_bytes(),
        now,
        &event.id,
    );
    for (name, value) in signed {
        req.insert_header(name.to_ascii_lowercase(), value)
            .map_err(text)?;
    }
    let (mut session, _) = http.get_http_session(&peer).await.map_err(text)?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(text)?;
    session
        .write_request_body(Bytes::from(event.body.clone()), true)
        .await
        .map_err(text)?;
    session.finish_request_body().await.map_err(text)?;
    session.set_read_timeout(Some(to.timeout));
    session.read_response_header().await.map_err(text)?;
    let status = session.response_header().map_or(0, |r| r.status.as_u16());
    session.shutdown().await;
    Ok(status)
}

impl OutboxSender {
    /// One round: send what is due, settle each.
    async fn round(&self) {
        let served = self.serving.current();
        let store = &served.runtime.store;
        if let Ok(held) = served.admin(store.outbox_len()).await {
            self.metrics.ledger.outbox_events.set(held as i64);
        }
        let Some(to) = served.config.review_events.clone() else {
            return;
        };
        let now = served.runtime.now().as_second();
        let lease = now + 2 * to.timeout.as_secs().max(1) as i64 + 5;
        let Ok(due) = served.admin(store.outbox_take(now, lease, BATCH)).await else {
            return;
        };
        for event in due {
            let result =
                tokio::time::timeout(to.timeout + to.timeout, post(&self.http, &to, &event, now))
                    .await
                    .unwrap_or_else(|_| Err("timed out".into()));
            let delivered = matches!(result, Ok(status) if (200..300).contains(&status));
            let settled = if delivered {
                event.clone()
            } else {
                let why = match &result {
                    Ok(status) => format!("answered {status}"),
                    Err(e) => e.clone(),
                };
                log::warn!(
                    "review event {} to {}: {why}; tried again later",
                    event.id,
                    to.url
                );
                event.failed(served.runtime.now().as_second(), &why)
            };
            let label = if delivered { "delivered" } else { "failed" };
            self.metrics
                .ledger
                .outbox_deliveries
                .with_label_values(&[label])
                .inc();
            let _ = served.admin(store.outbox_settle(&settled, delivered)).await;
        }
    }
}

#[async_trait]
impl BackgroundService for OutboxSender {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            self.round().await;
            tokio::select! {
                _ = tokio::time::sleep(ROUND) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
