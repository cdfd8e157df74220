//! Assembling the running gateway from a [`Config`]: the Pingora server with the proxy
//! service (plain and TLS listeners), the metrics and admin listeners, the upstream health
//! checks and the housekeeping task, all around one [`Serving`] that reloads swap.
//!
//! Both `garita run` and `garita demo` start the gateway through this module, so the
//! demo exercises exactly what production runs; `garita run --upgrade` starts it by taking
//! the listeners over from a running garita ([`build_server_upgrading`]).
//!
//! A gateway that cannot serve must not look alive: garita binds every listener itself
//! ([`super::listeners`]), so a taken port is one clear error at start, and should Pingora
//! still fail to set a listener up, the panic it raises in a service thread ends the
//! process instead of leaving it up without that listener. SIGHUP reloads the config
//! ([`super::reload`]).

use super::admin::AdminApp;
use crate::config::Config;
use crate::observe::decision_log::DecisionLog;
use crate::observe::metrics::{Metrics, MetricsApp};
use crate::proxy::connection::Admission;
use crate::proxy::health_check::HealthChecks;
use crate::proxy::housekeeping::Housekeeping;
use crate::proxy::limited_http::LimitedHttp;
use crate::proxy::listeners::{self, Bound, ListenError, PreBound};
use crate::proxy::outbox::OutboxSender;
use crate::proxy::refused::AccountedApp;
use crate::proxy::reload::{self, Serving};
use crate::proxy::served::Served;
use crate::proxy::tls::ListenerCertificates;
use crate::proxy::GaritaProxy;
use crate::state::runtime::RuntimeError;
use pingora::apps::HttpServerOptions;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot open the decision log: {0}")]
    DecisionLog(std::io::Error),
    #[error("{0}")]
    Listen(#[from] ListenError),
    #[error("cannot watch for SIGHUP or file changes: {0}")]
    Signals(std::io::Error),
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("an upgrade takes over listeners by address: {0} has port 0, which cannot be found again; give it a port")]
    UpgradeWithPortZero(SocketAddr),
}

/// Pingora panics in a service thread when it cannot bind a listener; end the process
/// then, instead of serving without it.
fn exit_when_a_listener_fails() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Failed to build listeners") {
            eprintln!("error: cannot listen: {message}");
            std::process::exit(1);
        }
        default_hook(info);
    }));
}

/// The listeners' sockets: bound here, or none when they come from the old process.
fn collect_bound(
    asked: impl IntoIterator<Item = SocketAddr>,
    bind: impl Fn(SocketAddr) -> Result<Option<Bound>, GatewayError>,
) -> Result<Vec<Bound>, GatewayError> {
    let mut out = Vec::new();
    for addr in asked {
        out.extend(bind(addr)?);
    }
    Ok(out)
}

/// The first config and runtime. Upgrading, the old process holds the embedded store's
/// file until it has finished its requests: wait for it (new connections wait in the
/// listen backlog meanwhile, none is refused).
fn serve_first(
    config: Config,
    metrics: Arc<Metrics>,
    clock: Option<Arc<dyn crate::state::clock::Clock>>,
    upgrade: bool,
) -> Result<Served, GatewayError> {
    if let (true, crate::config::StoreBackend::Embedded { path }) = (upgrade, &config.state.backend)
    {
        let patience = Duration::from_secs(config.grace_period_seconds + UPGRADE_HANDOVER_SECONDS);
        log::warn!(
            "upgrade: waiting for the old process to release {}",
            path.display()
        );
        crate::state::store::EmbeddedStore::wait_until_free(path, patience)
            .map_err(RuntimeError::Store)?;
    }
    Ok(Served::new_at(config, None, metrics, clock)?)
}

/// Log, when SIGTERM or SIGINT arrives, what happens next: otherwise a stopping gateway
/// looks hung for its grace period, during which it keeps serving so that a load
/// balancer can take it out of rotation.
///
/// The signals are listened for from the moment the listeners are bound (before the
/// addresses are printed: a supervisor may stop garita as soon as it sees them), which
/// takes them over from their default action; Pingora listens for them only once its
/// services run. A signal that arrived before then would be noted here and lost to
/// Pingora, which would then serve for ever: so after the notice, the signal is raised
/// again for as long as Pingora is running and has not begun to stop.
fn say_when_stopping(
    grace_seconds: u64,
    mut phases: tokio::sync::broadcast::Receiver<pingora::server::ExecutionPhase>,
    signals: Option<signal_hook::iterator::Signals>,
) {
    use pingora::server::ExecutionPhase;
    use signal_hook::consts::SIGINT;
    use std::sync::atomic::{AtomicU8, Ordering};
    const SETUP: u8 = 0;
    const RUNNING: u8 = 1;
    const STOPPING: u8 = 2;
    let Some(mut signals) = signals else {
        return;
    };
    let phase = Arc::new(AtomicU8::new(SETUP));
    let followed = phase.clone();
    let _ = std::thread::Builder::new()
        .name("garita-phases".into())
        .spawn(move || loop {
            let now = match phases.blocking_recv() {
                Ok(now) => now,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            match now {
                ExecutionPhase::Running => followed.store(RUNNING, Ordering::SeqCst),
                ExecutionPhase::GracefulTerminate
                | ExecutionPhase::ShutdownStarted
                | ExecutionPhase::ShutdownGracePeriod
                | ExecutionPhase::ShutdownRuntimes
                | ExecutionPhase::Terminated => followed.store(STOPPING, Ordering::SeqCst),
                _ => {}
            }
        });
    let spawned = std::thread::Builder::new()
        .name("garita-stop-notice".into())
        .spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            log::info!(
                "{name}: stopping; still serving for the grace period ({grace_seconds} s, server.grace_period_seconds), then finishing requests in flight"
            );
            // Give Pingora the moment it takes to act on the signal, then tell it again
            // while it runs without stopping.
            for _ in 0..600 {
                std::thread::sleep(std::time::Duration::from_millis(100));
                match phase.load(Ordering::SeqCst) {
                    STOPPING => return,
                    RUNNING => {
                        let _ = signal_hook::low_level::raise(signal);
                    }
                    _ => {}
                }
            }
        });
    if let Err(e) = spawned {
        log::debug!("no stop notice: {e}");
    }
}

/// How long the old process keeps accepting after handing its sockets over (Pingora's
/// close timeout), plus a margin; the new one waits for the state file that long, on top
/// of the grace period.
const UPGRADE_HANDOVER_SECONDS: u64 = 5 + 10;

/// A Pingora server ready to `run`, and the addresses its listeners are bound to.
pub struct Gateway {
    pub server: Server,
    /// Bound already: connections wait in the backlog until the server runs.
    pub proxy: Vec<SocketAddr>,
    /// Proxy listeners that terminate TLS.
    pub proxy_tls: Vec<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    serving: Arc<Serving>,
    log: Arc<DecisionLog>,
    /// SIGTERM and SIGINT, listened for since the listeners were bound.
    stop_signals: Option<signal_hook::iterator::Signals>,
}

impl Gateway {
    /// Serve until SIGTERM or SIGINT, then write back what the store held back.
    pub fn run(self) {
        let grace = self.serving.current().config.grace_period_seconds;
        say_when_stopping(
            grace,
            self.server.watch_execution_phase(),
            self.stop_signals,
        );
        let started = std::time::Instant::now();
        self.server.run(pingora::server::RunArgs::default());
        // Requests served during the grace period counted after housekeeping's flush at
        // the signal; every service has stopped now, so this flush is the last word.
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => {
                let store = &self.serving.current().runtime.store;
                if let Err(e) = rt.block_on(store.flush()) {
                    log::error!("at exit: {e}");
                }
                // The embedded file is closed cleanly: the next start needs no repair.
                store.close();
            }
            Err(e) => log::error!("at exit: cannot flush the store: {e}"),
        }
        self.log.flush();
        log::info!(
            "stopped: requests finished, state written back and closed (up {} s)",
            started.elapsed().as_secs()
        );
    }

    /// One line a listener, `listening on 127.0.0.1:8080 (proxy)`, with ` tls` after the
    /// role of a TLS one: what `run` prints, and what tests and scripts wait for.
    pub fn listening_lines(&self) -> Vec<String> {
        let certificates = self.serving.certificates();
        let tls = |on: bool| if on { " tls" } else { "" };
        let proxy = self
            .proxy
            .iter()
            .map(|a| format!("listening on {a} (proxy)"));
        let proxy_tls = self
            .proxy_tls
            .iter()
            .map(|a| format!("listening on {a} (proxy tls)"));
        let metrics = self.metrics.iter().map(|a| {
            let tls = tls(certificates.metrics.is_some());
            format!("listening on {a} (metrics{tls})")
        });
        let admin = self.admin.iter().map(|a| {
            let tls = tls(certificates.admin.is_some());
            format!("listening on {a} (admin{tls})")
        });
        proxy.chain(proxy_tls).chain(metrics).chain(admin).collect()
    }
}

/// Bind the listeners of `config` and assemble the server that serves it.
pub fn build_server(config: Config) -> Result<Gateway, GatewayError> {
    assemble(config, None, false)
}

/// [`build_server`] on a clock of the caller's: the demo moves it through past days.
pub fn build_server_at(
    config: Config,
    clock: Option<Arc<dyn crate::state::clock::Clock>>,
) -> Result<Gateway, GatewayError> {
    assemble(config, clock, false)
}

/// Take over the listening sockets of a running garita (a graceful upgrade): wait on
/// `server.upgrade_socket` until the old process, sent SIGQUIT, hands them over; it stops
/// accepting and finishes what it has in flight, while this one serves the rest. Blocks
/// until the sockets arrive (Pingora gives up after about 5 seconds).
pub fn build_server_upgrading(config: Config) -> Result<Gateway, GatewayError> {
    assemble(config, None, true)
}

/// Bind `asked`, or (upgrading) expect it among the sockets the old process hands over,
/// where it is known by its address: a port chosen by the system cannot be found again.
fn bind_or_inherit(asked: SocketAddr, upgrade: bool) -> Result<Option<Bound>, GatewayError> {
    match upgrade {
        false => Ok(Some(listeners::bind(asked)?)),
        true if asked.port() == 0 => Err(GatewayError::UpgradeWithPortZero(asked)),
        true => Ok(None),
    }
}

fn assemble(
    config: Config,
    clock: Option<Arc<dyn crate::state::clock::Clock>>,
    upgrade: bool,
) -> Result<Gateway, GatewayError> {
    let stop_signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .ok();
    let bind = |a: SocketAddr| bind_or_inherit(a, upgrade);
    let proxy_sockets = collect_bound(config.listen.iter().copied(), bind)?;
    let tls_sockets = collect_bound(
        config.tls.iter().flat_map(|t| t.listen.iter().copied()),
        bind,
    )?;
    let metrics_socket = collect_bound(config.metrics_listen, bind)?;
    let admin_socket = collect_bound(config.admin.as_ref().map(|a| a.listen), bind)?;
    let conf = ServerConf {
        threads: config.threads,
        grace_period_seconds: Some(config.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.grace_period_seconds.max(1)),
        // A failed connection is retried once, on the next upstream; a request body it
        // buffered is replayed, never truncated.
        max_retries: 2,
        upgrade_sock: config.upgrade_socket.display().to_string(),
        ..ServerConf::default()
    };
    let options = pingora::server::configuration::Opt {
        upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(options), conf);
    server.bootstrap();

    let metrics = Arc::new(Metrics::new());
    let served = Arc::new(serve_first(config, metrics.clone(), clock, upgrade)?);
    let config = &served.config;
    let log = Arc::new(
        DecisionLog::open(
            &config.decision_log,
            config.decision_log_rotation,
            {
                let clock = served.runtime.clock();
                Arc::new(move || clock.now())
            },
            metrics.decision_log_dropped.clone(),
            metrics.decision_log_write_errors.clone(),
        )
        .map_err(GatewayError::DecisionLog)?,
    );
    let certificates = ListenerCertificates::load(config);
    let serving = Arc::new(Serving::new(
        served.clone(),
        certificates,
        metrics.clone(),
        log.clone(),
    ));
    reload::reload_on_hangup(serving.clone()).map_err(GatewayError::Signals)?;
    if let Some(every) = config.watch_interval {
        reload::watch_files(serving.clone(), every).map_err(GatewayError::Signals)?;
    }
    exit_when_a_listener_fails();
    server.add_service(background_service(
        "upstream health checks",
        HealthChecks::new(serving.clone()),
    ));

    let proxy = GaritaProxy::new(serving.clone(), metrics.clone(), log.clone());
    let mut http = pingora::proxy::http_proxy(&server.configuration, proxy);
    // CONNECT reaches garita's filters only to be refused there with a logged 405, instead
    // of Pingora's silent one; nothing is ever tunnelled (see `proxy`).
    let mut options = HttpServerOptions::default();
    options.allow_connect_method_proxying = true;
    http.server_options = Some(options);
    let mut proxy_service = Service::new(
        "garita proxy".to_string(),
        AccountedApp::new(
            http,
            metrics.clone(),
            Some(log.clone()),
            Arc::new(Admission::new(
                config.connections.max_connections,
                config.connections.max_connections_per_address,
                config.client_ip.clone(),
                Some(metrics.connections.open.clone()),
            )),
            config.connections.header_timeout,
            "proxy",
        ),
    );
    let proxy_addrs = addresses(&proxy_sockets, &config.listen);
    let read_buffer = config.read_buffer_bytes;
    for addr in &proxy_addrs {
        proxy_service.add_listener(listeners::proxy_listener(addr, None, read_buffer));
    }
    let tls_addrs = addresses(
        &tls_sockets,
        config.tls.as_ref().map_or(&[][..], |t| &t.listen),
    );
    if let (Some(certs), Some(tls)) = (&serving.certificates().proxy, &config.tls) {
        for addr in &tls_addrs {
            let settings = Some(certs.settings(tls.http2));
            proxy_service.add_listener(listeners::proxy_listener(addr, settings, read_buffer));
        }
    }
    let mut sockets = proxy_sockets;
    sockets.extend(tls_sockets);
    server.add_service(PreBound::new(proxy_service, sockets));

    let metrics_addr = addresses(&metrics_socket, config.metrics_listen.as_slice())
        .first()
        .copied();
    if let Some(addr) = metrics_addr {
        let mut metrics_service = Service::new(
            "garita metrics".to_string(),
            guarded(
                MetricsApp::new(metrics.clone()),
                1024,
                &metrics,
                &config.metrics_connections,
                "metrics",
            ),
        );
        match &serving.certificates().metrics {
            Some(certs) => metrics_service.add_tls_with_settings(
                &addr.to_string(),
                None,
                certs.settings(false),
            ),
            None => metrics_service.add_tcp(&addr.to_string()),
        }
        server.add_service(PreBound::new(metrics_service, metrics_socket));
    }

    let admin_listen: Vec<SocketAddr> = config.admin.iter().map(|a| a.listen).collect();
    let admin_addr = addresses(&admin_socket, &admin_listen).first().copied();
    if let Some(addr) = admin_addr {
        let limits = config
            .admin
            .as_ref()
            .map_or(&config.metrics_connections, |a| &a.connections);
        let mut admin_service = Service::new(
            "garita admin".to_string(),
            guarded(
                AdminApp::new(serving.clone(), log.clone()),
                super::admin::MAX_BODY,
                &metrics,
                limits,
                "admin",
            ),
        );
        match &serving.certificates().admin {
            Some(certs) => {
                admin_service.add_tls_with_settings(&addr.to_string(), None, certs.settings(false))
            }
            None => admin_service.add_tcp(&addr.to_string()),
        }
        server.add_service(PreBound::new(admin_service, admin_socket));
    }

    server.add_service(background_service(
        "review events outbox",
        OutboxSender::new(serving.clone(), metrics.clone()),
    ));
    server.add_service(background_service(
        "garita housekeeping",
        Housekeeping {
            serving: serving.clone(),
            metrics,
        },
    ));
    let listed = |addrs: &[SocketAddr]| addrs.iter().map(ToString::to_string).collect::<Vec<_>>();
    serving.set_listening(serde_json::json!({
        "proxy": listed(&proxy_addrs),
        "proxy_tls": listed(&tls_addrs),
        "metrics": metrics_addr.map(|a| a.to_string()),
        "admin": admin_addr.map(|a| a.to_string()),
    }));
    Ok(Gateway {
        server,
        proxy: proxy_addrs,
        proxy_tls: tls_addrs,
        metrics: metrics_addr,
        admin: admin_addr,
        serving,
        log,
        stop_signals,
    })
}

/// A small listener's app under its connection caps and head deadline (its keep-alive is
/// set per request by [`LimitedHttp`]).
fn guarded<A>(
    app: A,
    max_body: usize,
    metrics: &Arc<Metrics>,
    limits: &crate::config::ConnectionSettings,
    listener: &'static str,
) -> AccountedApp<LimitedHttp<A>> {
    // Nobody is trusted to speak for others here: every address has its own cap.
    let nobody = crate::core::request::client_ip::ClientIpResolver::new(
        crate::core::net::ip_list::IpList::new(),
        http::HeaderName::from_static("x-forwarded-for"),
    );
    AccountedApp::new(
        LimitedHttp::new(app, max_body, limits.keepalive_timeout_seconds),
        metrics.clone(),
        None,
        Arc::new(Admission::new(
            limits.max_connections,
            limits.max_connections_per_address,
            nobody,
            None,
        )),
        limits.header_timeout,
        listener,
    )
}

/// The addresses listened on: those bound (a port 0 resolved), or when upgrading, those
/// asked for, under which the old process handed the sockets over.
fn addresses(bound: &[Bound], asked: &[SocketAddr]) -> Vec<SocketAddr> {
    if bound.is_empty() {
        asked.to_vec()
    } else {
        bound.iter().map(|b| b.addr).collect()
    }
}
