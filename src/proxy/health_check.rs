//! Active health checks of the upstreams, a background service.
//!
//! Every `upstream.health_check.interval_ms`, each upstream is checked at once (one slow
//! backend does not delay the others' checks): an HTTP GET of `health_check.path` that
//! must answer 2xx within `timeout_ms`, or without a path a TCP connect (and TLS handshake,
//! for TLS upstreams). The checks go through Pingora's own connectors, so they connect
//! exactly as requests do. Results move each upstream's health
//! ([`crate::state::upstreams`]). The interval and the set are read from the running
//! config at each round, so a reload changes them without a restart.

use crate::proxy::reload::Serving;
use crate::proxy::served::Served;
use crate::state::upstreams::Upstream;
use async_trait::async_trait;
use pingora::connectors::http::Connector as HttpConnector;
use pingora::connectors::TransportConnector;
use pingora::http::RequestHeader;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;

pub struct HealthChecks {
    serving: Arc<Serving>,
    http: Arc<HttpConnector>,
    tcp: Arc<TransportConnector>,
}

impl HealthChecks {
    pub fn new(serving: Arc<Serving>) -> Self {
        Self {
            serving,
            http: Arc::new(HttpConnector::new(None)),
            tcp: Arc::new(TransportConnector::new(None)),
        }
    }
}

async fn check(
    upstream: &Upstream,
    served: &Served,
    http: &HttpConnector,
    tcp: &TransportConnector,
) -> Result<(), String> {
    let settings = &served.config.upstream;
    let mut peer = served.upstream_peer(upstream);
    peer.options.connection_timeout = Some(settings.health.timeout);
    peer.options.total_connection_timeout = Some(settings.health.timeout);
    peer.options.read_timeout = Some(settings.health.timeout);
    let Some(path) = &settings.health.path else {
        return tcp
            .get_stream(&peer)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
    };
    let mut req = RequestHeader::build("GET", path.as_bytes(), None).map_err(|e| e.to_string())?;
    let host = settings
        .health
        .host
        .clone()
        .unwrap_or_else(|| upstream.addr.to_string());
    req.insert_header("host", host).map_err(|e| e.to_string())?;
    req.insert_header("user-agent", "garita-health-check")
        .map_err(|e| e.to_string())?;
    let (mut session, _) = http
        .get_http_session(&peer)
        .await
        .map_err(|e| e.to_string())?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(|e| e.to_string())?;
    session
        .finish_request_body()
        .await
        .map_err(|e| e.to_string())?;
    session.set_read_timeout(Some(settings.health.timeout));
    session
        .read_response_header()
        .await
        .map_err(|e| e.to_string())?;
    let status = session.response_header().map_or(0, |r| r.status.as_u16());
    session.shutdown().await;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("GET {path} answered {status}"))
    }
}

#[async_trait]
impl BackgroundService for HealthChecks {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let served = self.serving.current();
            let interval = served.config.upstream.health.interval;
            let mut round = tokio::task::JoinSet::new();
            for upstream in self.serving.upstreams().all().iter() {
                let upstream = upstream.clone();
                let (served, http, tcp) = (served.clone(), self.http.clone(), self.tcp.clone());
                round.spawn(async move {
                    let settings = &served.config.upstream;
                    let limit = settings.health.timeout + settings.health.timeout;
                    let result =
                        tokio::time::timeout(limit, check(&upstream, &served, &http, &tcp))
                            .await
                            .unwrap_or_else(|_| Err("timed out".into()));
                    let detail = result.as_ref().err().map_or("", String::as_str);
                    upstream.checked(result.is_ok(), settings, detail);
                });
            }
            drop(served);
            while round.join_next().await.is_some() {}
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
