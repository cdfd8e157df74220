//! Assembling the running gateway from a [`Config`]: the Pingora server with the proxy
//! service, the metrics listener and the housekeeping task.
//!
//! Both `garita run` and `garita demo` start the gateway through [`build_server`], so the
//! demo exercises exactly what production runs.

use crate::config::Config;
use crate::decision_log::DecisionLog;
use crate::metrics::{Metrics, MetricsApp};
use crate::proxy::GaritaProxy;
use async_trait::async_trait;
use pingora::apps::http_app::HttpServer;
use pingora::lb::health_check::TcpHealthCheck;
use pingora::lb::LoadBalancer;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use std::sync::Arc;
use std::time::Duration;

/// How often idle rate-limiter keys are dropped and gauges refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot open the decision log: {0}")]
    DecisionLog(std::io::Error),
    #[error("cannot set up the upstreams: {0}")]
    Upstreams(std::io::Error),
}

/// A Pingora server ready to `run`, serving `config`.
pub fn build_server(config: Config) -> Result<Server, GatewayError> {
    let conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.grace_period_seconds.max(1)),
        // A failed connection is retried once, on the next upstream; a request body it
        // buffered is replayed, never truncated.
        max_retries: 2,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::new());
    let log = Arc::new(DecisionLog::open(&config.decision_log).map_err(GatewayError::DecisionLog)?);
    let mut balancer = LoadBalancer::try_from_iter(config.upstreams.iter().copied())
        .map_err(GatewayError::Upstreams)?;
    // A TCP connect every interval: an upstream that stops answering leaves the rotation
    // until it answers again.
    balancer.set_health_check(TcpHealthCheck::new());
    balancer.health_check_frequency = Some(config.health_check_interval);
    let health_checks = background_service("upstream health checks", balancer);
    let upstreams = health_checks.task();
    server.add_service(health_checks);

    let proxy = GaritaProxy::new(config.clone(), upstreams, metrics.clone(), log);
    let mut proxy_service =
        pingora::proxy::http_proxy_service_with_name(&server.configuration, proxy, "garita proxy");
    for addr in &config.listen {
        proxy_service.add_tcp(&addr.to_string());
    }
    server.add_service(proxy_service);

    if let Some(addr) = config.metrics_listen {
        let mut metrics_service = Service::new(
            "garita metrics".to_string(),
            HttpServer::new_app(MetricsApp::new(metrics.clone())),
        );
        metrics_service.add_tcp(&addr.to_string());
        server.add_service(metrics_service);
    }

    server.add_service(background_service(
        "garita housekeeping",
        Housekeeping { config, metrics },
    ));
    Ok(server)
}

/// Drops idle rate-limiter keys and expired store entries, and refreshes the gauges.
struct Housekeeping {
    config: Arc<Config>,
    metrics: Arc<Metrics>,
}

impl Housekeeping {
    fn tick(&self, reported_overflow: &mut Vec<u64>) {
        let policies = self.config.gate.policies();
        reported_overflow.resize(policies.len(), 0);
        for (policy, reported) in policies.iter().zip(reported_overflow.iter_mut()) {
            let Some(limiter) = &policy.rate_limit else {
                continue;
            };
            limiter.housekeeping();
            self.metrics
                .rate_limit_keys
                .with_label_values(&[&policy.name])
                .set(i64::try_from(limiter.key_count()).unwrap_or(i64::MAX));
            let overflowed = limiter.overflowed();
            self.metrics
                .rate_limit_overflow
                .with_label_values(&[&policy.name])
                .inc_by(overflowed.saturating_sub(*reported));
            *reported = overflowed;
        }
        for rules in policies.iter().filter_map(|p| p.identity.as_ref()) {
            for burst in rules.limits.iter().filter_map(|l| l.burst.as_ref()) {
                burst.housekeeping();
            }
        }
        let env = self.config.gate.identity_env();
        env.store.purge_expired(env.clock.now().as_second());
        self.metrics
            .store_entries
            .set(i64::try_from(env.store.size()).unwrap_or(i64::MAX));
    }
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut reported_overflow = Vec::new();
        let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => self.tick(&mut reported_overflow),
                _ = shutdown.changed() => return,
            }
        }
    }
}
