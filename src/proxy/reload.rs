//! Hot reload: a new configuration compiled and swapped in while the gateway serves.
//!
//! [`Serving`] holds the [`Served`] (config and runtime) that new requests take. A request
//! takes it once, when it starts, and finishes under it whatever is swapped in meanwhile.
//! A reload reads the config file again, compiles it, builds its runtime from the running
//! one (limiters whose settings did not change, the store with its counters, and the GeoIP
//! reader unless its file changed are all kept) and swaps it in with one atomic store. A
//! configuration that does not compile, or whose runtime cannot be built (a corrupt GeoIP
//! file), changes nothing: the reason is logged and counted in
//! `garita_config_reload_failures_total`. Settings bound when the gateway started
//! (listeners, threads, connection caps, the decision log's target) keep their running
//! values; the reload names those that changed, which need a restart. The upstream set
//! changes at once, keeping the health of addresses it keeps, and TLS listeners serve the
//! certificates the new config reads.
//!
//! Three things reload: SIGHUP (which also reopens the decision log, as logrotate
//! expects), `POST /admin/reload`, and a change to a file the config read. The watcher
//! polls those files' stamps and reloads once a changed file has stayed the same for a
//! whole poll, so that a file being written is not read half-way. Reloads run one at a
//! time and never on a worker: compiling reads files and may resolve host names.

use crate::config::Config;
use crate::observe::decision_log::DecisionLog;
use crate::observe::metrics::Metrics;
use crate::proxy::served::Served;
use crate::proxy::tls::ListenerCertificates;
use crate::state::file_stamp::FileStamp;
use crate::state::runtime::RuntimeError;
use crate::state::upstreams::UpstreamSet;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

/// A reload that took, and the changed settings that wait for a restart.
#[derive(Debug)]
pub struct Reloaded {
    pub restart_needed: Vec<&'static str>,
}

/// What the gateway serves now, and how to replace it.
pub struct Serving {
    current: ArcSwap<Served>,
    upstreams: Arc<UpstreamSet>,
    certificates: ListenerCertificates,
    metrics: Arc<Metrics>,
    log: Arc<DecisionLog>,
    /// One reload at a time.
    reloading: Mutex<()>,
    /// What the listeners and the process were set up with.
    started: BoundAtStart,
    /// The last reload tried, for `garita status`.
    last_reload: Mutex<Option<LastReload>>,
    /// The addresses the listeners are bound to, for `garita status`.
    listening: Mutex<serde_json::Value>,
}

/// A reload as `garita status` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastReload {
    /// Unix seconds.
    pub at: i64,
    pub trigger: String,
    pub by: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Serving {
    pub fn new(
        served: Arc<Served>,
        certificates: ListenerCertificates,
        metrics: Arc<Metrics>,
        log: Arc<DecisionLog>,
    ) -> Self {
        let upstreams = Arc::new(UpstreamSet::new(
            &served.config.upstream.addresses,
            metrics.upstream_up.clone(),
        ));
        Self {
            started: BoundAtStart::of(&served.config),
            current: ArcSwap::new(served),
            upstreams,
            certificates,
            metrics,
            log,
            reloading: Mutex::new(()),
            last_reload: Mutex::new(None),
            listening: Mutex::new(serde_json::Value::Null),
        }
    }

    /// Note where the listeners are bound (port 0 resolved).
    pub fn set_listening(&self, listening: serde_json::Value) {
        *self.listening.lock().unwrap_or_else(|e| e.into_inner()) = listening;
    }

    /// Where the listeners are bound.
    pub fn listening(&self) -> serde_json::Value {
        self.listening
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The last reload tried since start, if any.
    pub fn last_reload(&self) -> Option<LastReload> {
        self.last_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The certificates the TLS listeners serve.
    pub fn certificates(&self) -> &ListenerCertificates {
        &self.certificates
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The upstreams and their health.
    pub fn upstreams(&self) -> &UpstreamSet {
        &self.upstreams
    }

    /// The config and runtime new requests are served with.
    pub fn current(&self) -> Arc<Served> {
        self.current.load_full()
    }

    /// Read the config file again and serve it, or keep serving the running one and say
    /// why not. Blocks: call it from a thread of its own or a blocking task. Whatever
    /// triggered it (`trigger`: `SIGHUP`, `POST /admin/reload`, a watched file), and
    /// `by` (an admin token's name, or `signal` / `watcher`), it is an audit line with
    /// the digest of the config file it read.
    pub fn reload(&self, trigger: &str, by: &str) -> Result<Reloaded, ReloadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let running = self.current();
        let outcome = self.replace(&running);
        let metrics = &self.metrics.config;
        let ts = self.log.time();
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastReload {
            at: self.current().runtime.now().as_second(),
            trigger: trigger.to_string(),
            by: by.to_string(),
            ok: outcome.is_ok(),
            why: outcome.as_ref().err().map(ToString::to_string),
        });
        match &outcome {
            Ok(reloaded) => self.log.write(&serde_json::json!({
                "ts": ts,
                "event": "config_reloaded",
                "by": by,
                "trigger": trigger,
                "digest": self.current().config.digest,
                "restart_needed": reloaded.restart_needed,
            })),
            Err(e) => self.log.write(&serde_json::json!({
                "ts": ts,
                "event": "config_reload_failed",
                "by": by,
                "trigger": trigger,
                "why": e.to_string(),
            })),
        }
        match &outcome {
            Ok(reloaded) => {
                metrics.reloads.inc();
                metrics.last_reload_successful.set(1);
                log::info!(
                    "configuration reloaded ({trigger}, by {by}) from {}",
                    running.config.source.display()
                );
                for key in &reloaded.restart_needed {
                    log::warn!("{key} changed: it takes effect at the next restart; the running value stays");
                }
            }
            Err(e) => {
                metrics.reload_failures.inc();
                metrics.last_reload_successful.set(0);
                log::error!(
                    "configuration reload ({trigger}, by {by}) failed, the running configuration stays: {e}"
                );
            }
        }
        if let Err(e) = self.log.reopen() {
            log::error!("cannot reopen the decision log: {e}");
        }
        outcome
    }

    fn replace(&self, running: &Served) -> Result<Reloaded, ReloadError> {
        let config = Config::load(&running.config.source)?;
        let restart_needed = restart_needed(&self.started, &config);
        for warning in &config.warnings {
            log::warn!("{warning}");
        }
        let served = Served::new(config, Some(running), self.metrics.clone())?;
        self.certificates.update(&served.config);
        self.upstreams.update(&served.config.upstream.addresses);
        self.current.store(Arc::new(served));
        Ok(Reloaded { restart_needed })
    }
}

/// The settings bound when the gateway started (listeners, threads, connection caps, the
/// decision log's target): what a reload's new config is compared with, since they keep
/// these values until a restart whatever was loaded since.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundAtStart {
    listen: Vec<std::net::SocketAddr>,
    tls_listen: Option<(Vec<std::net::SocketAddr>, bool)>,
    threads: usize,
    grace_period_seconds: u64,
    connections: crate::config::ConnectionSettings,
    metrics: (
        Option<std::net::SocketAddr>,
        bool,
        crate::config::ConnectionSettings,
    ),
    admin: Option<(
        std::net::SocketAddr,
        bool,
        crate::config::ConnectionSettings,
    )>,
    decision_log: (crate::config::LogTarget, Option<crate::config::LogRotation>),
}

impl BoundAtStart {
    pub fn of(c: &Config) -> Self {
        Self {
            listen: c.listen.clone(),
            tls_listen: c.tls.as_ref().map(|t| (t.listen.clone(), t.http2)),
            threads: c.threads,
            grace_period_seconds: c.grace_period_seconds,
            connections: c.connections.clone(),
            metrics: (
                c.metrics_listen,
                c.metrics_tls.is_some(),
                c.metrics_connections.clone(),
            ),
            admin: c
                .admin
                .as_ref()
                .map(|a| (a.listen, a.tls.is_some(), a.connections.clone())),
            decision_log: (c.decision_log.clone(), c.decision_log_rotation),
        }
    }
}

/// The settings of `new` that differ from what the gateway started with and are bound at
/// start.
pub fn restart_needed(running: &BoundAtStart, new: &Config) -> Vec<&'static str> {
    let new = BoundAtStart::of(new);
    let proxy_caps = |b: &BoundAtStart| {
        (
            b.connections.max_connections,
            b.connections.max_connections_per_address,
            b.connections.header_timeout,
        )
    };
    [
        ("server.listen", running.listen != new.listen),
        (
            "server.tls.listen, http2",
            running.tls_listen != new.tls_listen,
        ),
        ("server.threads", running.threads != new.threads),
        (
            "server.grace_period_seconds",
            running.grace_period_seconds != new.grace_period_seconds,
        ),
        (
            "server.max_connections, max_connections_per_address, header_timeout_seconds",
            proxy_caps(running) != proxy_caps(&new),
        ),
        (
            "metrics (listen, tls, connection limits)",
            running.metrics != new.metrics,
        ),
        (
            "admin (listen, tls, connection limits)",
            running.admin != new.admin,
        ),
        ("decision_log", running.decision_log != new.decision_log),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

/// Reload on every SIGHUP, from a thread of its own. Installed before the server runs, so
/// that no SIGHUP finds the default action, which would end the process.
pub fn reload_on_hangup(serving: Arc<Serving>) -> std::io::Result<()> {
    use signal_hook::consts::SIGHUP;
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP])?;
    std::thread::Builder::new()
        .name("garita-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                let _ = serving.reload("SIGHUP", "signal");
            }
        })?;
    Ok(())
}

/// Reload when a file the running config read changes, polling every `every`.
pub fn watch_files(serving: Arc<Serving>, every: Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("garita-watch".into())
        .spawn(move || {
            let stamps = |files: &[PathBuf]| -> HashMap<PathBuf, FileStamp> {
                files
                    .iter()
                    .map(|f| (f.clone(), FileStamp::of(f)))
                    .collect()
            };
            let mut seen = stamps(&serving.current().config.files);
            // A change seen on the last poll, reloaded once it holds still.
            let mut settling: Option<HashMap<PathBuf, FileStamp>> = None;
            loop {
                std::thread::sleep(every);
                let files = serving.current().config.files.clone();
                let now = stamps(&files);
                if now == seen {
                    settling = None;
                    continue;
                }
                if settling.as_ref() != Some(&now) {
                    settling = Some(now);
                    continue;
                }
                let changed = files
                    .iter()
                    .find(|f| seen.get(*f) != now.get(*f))
                    .map_or_else(String::new, |f| f.display().to_string());
                let _ = serving.reload(&format!("{changed} changed"), "watcher");
                // Files the new config reads for the first time are stamped now; those
                // it read before keep the stamps of before the reload, so that a change
                // made while it ran is seen on the next poll.
                let mut next = now;
                for file in &serving.current().config.files {
                    next.entry(file.clone())
                        .or_insert_with(|| FileStamp::of(file));
                }
                seen = next;
                settling = None;
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let raw = crate::config::parse_file_config(text, std::path::Path::new("t.toml")).unwrap();
        Config::compile(raw, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn listener_changes_are_named_and_policy_changes_are_not() {
        let base = "[server]\nlisten = [\"127.0.0.1:8080\"]\ndefault_policy = \"default\"\n[upstream]\naddresses = [\"127.0.0.1:3000\"]\n[policies.default]\n";
        let a = BoundAtStart::of(&config(base));
        assert!(restart_needed(&a, &config(base)).is_empty());
        let policy = format!("{base}rate_limit = {{ requests = 5, per = \"1m\", burst = 5 }}\n");
        assert!(restart_needed(&a, &config(&policy)).is_empty());
        let moved = base.replace("8080", "8081");
        assert_eq!(restart_needed(&a, &config(&moved)), vec!["server.listen"]);
        let metrics = format!("{base}[metrics]\nlisten = \"127.0.0.1:9180\"\n");
        assert_eq!(
            restart_needed(&a, &config(&metrics)),
            vec!["metrics (listen, tls, connection limits)"]
        );
        // Compared with what the gateway started with: after a reload to 3 threads, one
        // back to the running 2 needs no restart.
        let threads = |n: usize| base.replace("[upstream]", &format!("threads = {n}\n[upstream]"));
        let started = BoundAtStart::of(&config(&threads(2)));
        assert_eq!(
            restart_needed(&started, &config(&threads(3))),
            vec!["server.threads"]
        );
        assert!(restart_needed(&started, &config(&threads(2))).is_empty());
    }
}
