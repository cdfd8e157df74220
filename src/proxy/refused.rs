//! Requests Pingora refuses before any of garita's phases run, accounted for all the same.
//!
//! Pingora's HTTP/1 parser answers some request heads with a plain 400 and closes the
//! connection without calling a single proxy hook: several different `Content-Length`
//! values, a last transfer coding other than chunked, obsolete line folding, whitespace
//! before a colon, an absolute-form target whose authority differs from `Host`, bytes that
//! are not HTTP at all. An attack made only of such garbage would leave no trace. The one
//! trace Pingora leaves is a debug record ("Fail to proxy: ... InvalidHTTPHeader ...")
//! logged on the connection's own task. [`spot`] recognises that record in the process
//! logger and marks a task-local slot that [`AccountedApp`] sets around every connection;
//! when the connection is over, the app counts the request and writes its decision-log line
//! (`malformed_request`, with the peer address: no forwarding header of an unreadable head
//! can be believed).
//!
//! What it approximates: it depends on the wording of one Pingora log record, so an
//! integration test pins it and fails if an upgrade changes it. Heads that never finish
//! arriving (a client that goes away or times out mid-head) are not refusals and are not
//! counted here. HTTP/2 streams are parsed by the h2 crate, which resets bad streams itself.

use super::account;
use super::connection::{self, Admission, Deadlined};
use crate::observe::decision_log::DecisionLog;
use crate::observe::metrics::Metrics;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::cell::Cell;
use std::sync::Arc;

tokio::task_local! {
    /// Set by [`spot`] when Pingora refused a request head on this connection.
    static REFUSED: Cell<bool>;
}

/// The logger's target for records from Pingora's proxy crate root, where the refusal is
/// logged.
const PINGORA_PROXY: &str = "pingora_proxy";

/// Called by the process logger for every record it sees; notes a refused request head on
/// the current connection. Cheap for every other record: one string compare on the target.
pub fn spot(record: &log::Record<'_>) {
    if record.target() != PINGORA_PROXY || record.level() != log::Level::Debug {
        return;
    }
    // Records without arguments ("Successfully get a new request") are never refusals.
    if record.args().as_str().is_some() {
        return;
    }
    let text = record.args().to_string();
    if text.starts_with("Fail to proxy: ") && text.contains("InvalidHTTPHeader") {
        let _ = REFUSED.try_with(|refused| refused.set(true));
    }
}

/// Pingora's HTTP app, wrapped so that each connection is admitted and its request heads
/// held to a deadline ([`connection`]) and, on the proxy listeners, so that the requests
/// Pingora refuses are logged and counted. The admin and metrics listeners are guarded the
/// same way, with limits of their own, and log no decision lines.
pub struct AccountedApp<A> {
    inner: Arc<A>,
    metrics: Arc<Metrics>,
    /// Where refused requests are accounted; `None` on the admin and metrics listeners.
    log: Option<Arc<DecisionLog>>,
    admission: Arc<Admission>,
    header_timeout: std::time::Duration,
    /// The listener's name in refusal counts (`proxy`, `admin`, `metrics`).
    listener: &'static str,
}

impl<A> AccountedApp<A> {
    /// `listener` names the listener in the refusal counts (`proxy`, `admin`, `metrics`):
    /// the proxy's are counted as `max_connections`, the others' as `admin_max_connections`.
    pub fn new(
        inner: A,
        metrics: Arc<Metrics>,
        log: Option<Arc<DecisionLog>>,
        admission: Arc<Admission>,
        header_timeout: std::time::Duration,
        listener: &'static str,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            metrics,
            log,
            admission,
            header_timeout,
            listener,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for AccountedApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let accepted = tokio::time::Instant::now();
        let digest = stream.get_socket_digest();
        let peer = digest
            .as_ref()
            .and_then(|d| d.peer_addr())
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let connections = &self.metrics.connections;
        // Over a cap, the stream is dropped unread: the client sees the connection close.
        let _admitted = match self.admission.admit(peer) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                let label = match self.listener {
                    "proxy" => std::borrow::Cow::Borrowed(refusal.as_str()),
                    other => format!("{other}_{}", refusal.as_str()).into(),
                };
                connections.refused.with_label_values(&[&*label]).inc();
                return None;
            }
        };
        let stream: Stream = Box::new(Deadlined::new(
            stream,
            self.header_timeout,
            connections.header_timeouts.clone(),
        ));
        // A refusal ends the connection, so there is at most one per call.
        let (reused, refused) = REFUSED
            .scope(
                Cell::new(false),
                connection::tracked(accepted, async {
                    let reused = self.inner.process_new(stream, shutdown).await;
                    (reused, REFUSED.with(Cell::get))
                }),
            )
            .await;
        if let (true, Some(log)) = (refused, &self.log) {
            account::account_refused(&self.metrics, log, peer);
        }
        reused
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}
