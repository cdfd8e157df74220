//! Starts the real `garita` binary against a recording backend, on loopback ports.
//!
//! A test describes only what it is about (its policies and routes, the client-IP setup,
//! list files); the builder writes the rest of a config into a temporary directory, starts
//! `garita run` as a child process, waits until it accepts connections, and kills it when
//! the [`TestGateway`] is dropped.
#![allow(dead_code, unused_imports)]

use garita::cli::demo::shop::{DemoShop, RecordedRequest};
use garita::cli::demo::wait_until_listening;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

pub use garita::cli::demo::client::{send_bytes, RawRequest, RawResponse};

/// A loopback port for a gateway listener that no other test of this binary gets.
///
/// Ports come from a counter below Linux's ephemeral range (32768 and up), so neither
/// `bind(0)` elsewhere nor outgoing connections can be handed the same port between
/// the check here and garita's own bind; tests running in parallel never share one.
fn reserve_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let offset = (std::process::id() % 500) as u16 * 20;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + offset.wrapping_add(step) % 12_700;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn garita_bin() -> &'static str {
    env!("CARGO_BIN_EXE_garita")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub struct GatewayBuilder {
    client_ip: String,
    rules: String,
    geoip: Option<&'static str>,
    files: Vec<(String, String)>,
    dead_upstream: bool,
    dead_neighbour: bool,
    clock: Option<String>,
    env: Vec<(String, String)>,
}

impl GatewayBuilder {
    /// An environment variable for garita (webhook secrets).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Start with garita's quota clock standing at `rfc3339` (see [`TestGateway::set_clock`]).
    pub fn clock(mut self, rfc3339: &str) -> Self {
        self.clock = Some(rfc3339.to_string());
        self
    }

    /// Point the gateway at a port where nothing listens.
    /// List a dead upstream before the live backend.
    pub fn dead_neighbour(mut self) -> Self {
        self.dead_neighbour = true;
        self
    }

    pub fn dead_upstream(mut self) -> Self {
        self.dead_upstream = true;
        self
    }

    /// The `[client_ip]` table's body, e.g. `trusted_proxies = ["127.0.0.1/32"]`.
    pub fn client_ip(mut self, toml: &str) -> Self {
        self.client_ip = toml.to_string();
        self
    }

    /// Policies, routes and `[ip_rules]`. A policy named `open` exists already and is the
    /// default for unmatched requests.
    pub fn rules(mut self, toml: &str) -> Self {
        self.rules = toml.to_string();
        self
    }

    /// Use one of the databases in `geoip/` (by file name).
    pub fn geoip(mut self, file: &'static str) -> Self {
        self.geoip = Some(file);
        self
    }

    /// A file next to the config, for list files.
    pub fn file(mut self, name: &str, content: &str) -> Self {
        self.files.push((name.to_string(), content.to_string()));
        self
    }

    pub fn start(self) -> TestGateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = DemoShop::start().expect("recording backend");
        let proxy: SocketAddr = ([127, 0, 0, 1], reserve_port()).into();
        let metrics: SocketAddr = ([127, 0, 0, 1], reserve_port()).into();
        for (name, content) in &self.files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let geoip = self
            .geoip
            .map(|f| {
                format!(
                    "[geoip]\ndatabase = {:?}\n",
                    repo_path("geoip").join(f).display().to_string()
                )
            })
            .unwrap_or_default();
        let dead = || SocketAddr::from(([127, 0, 0, 1], reserve_port()));
        let upstream = match (self.dead_upstream, self.dead_neighbour) {
            (true, _) => format!("\"{}\"", dead()),
            (false, true) => format!("\"{}\", \"{}\"", dead(), shop.addr()),
            (false, false) => format!("\"{}\"", shop.addr()),
        };
        let config = format!(
            "[server]\nlisten = [\"{proxy}\"]\nthreads = 2\ndefault_policy = \"open\"\n\
             [upstream]\naddresses = [{}]\n\
             [client_ip]\n{}\n\
             [metrics]\nlisten = \"{metrics}\"\n\
             [decision_log]\npath = \"decisions.jsonl\"\n\
             {geoip}\n\
             [policies.open]\n\n{}\n",
            upstream, self.client_ip, self.rules
        );
        let config_path = dir.path().join("garita.toml");
        std::fs::write(&config_path, &config).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = Command::new(garita_bin());
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(now) = &self.clock {
            let clock = dir.path().join("clock");
            std::fs::write(&clock, now).unwrap();
            command.env("GARITA_TEST_CLOCK_FILE", &clock);
        }
        let child = command
            .args(["run", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start garita");
        let mut gateway = TestGateway {
            child,
            shop,
            proxy,
            metrics,
            dir,
        };
        if !wait_until_listening(proxy, Duration::from_secs(20)) {
            let _ = gateway.child.kill();
            panic!(
                "garita did not start listening; config:\n{config}\nstderr:\n{}",
                gateway.stderr()
            );
        }
        assert!(wait_until_listening(metrics, Duration::from_secs(5)));
        // Whoever answers must be this gateway, not one that got the port first.
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(Some(status)) = gateway.child.try_wait() {
            panic!("garita exited ({status}):\n{}", gateway.stderr());
        }
        gateway
    }
}

pub struct TestGateway {
    child: Child,
    pub shop: DemoShop,
    pub proxy: SocketAddr,
    pub metrics: SocketAddr,
    dir: tempfile::TempDir,
}

impl TestGateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder {
            client_ip: String::new(),
            rules: String::new(),
            geoip: None,
            files: Vec::new(),
            dead_upstream: false,
            dead_neighbour: false,
            clock: None,
            env: Vec::new(),
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.proxy, path_and_query)
    }

    /// Requests the backend has received so far.
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.shop.requests()
    }

    /// Move the quota clock (only with [`GatewayBuilder::clock`]).
    pub fn set_clock(&self, rfc3339: &str) {
        std::fs::write(self.dir.path().join("clock"), rfc3339).unwrap();
    }

    /// The decision log as written, for checks on what must never appear in it.
    pub fn decision_log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("decisions.jsonl")).unwrap_or_default()
    }

    /// A path in the gateway's directory (its config, decision log and stderr live there).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Send a signal (`HUP`, `TERM`...) to the gateway process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{name}");
    }

    /// Whether the gateway process has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait on garita")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Decision-log lines so far, parsed.
    pub fn decisions(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("decisions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    /// Wait (briefly) for `n` decision-log lines: the line is written after the response.
    pub fn wait_for_decisions(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..250 {
            let lines = self.decisions();
            if lines.len() >= n {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.decisions()
    }

    pub fn scrape(&self) -> String {
        let response = RawRequest::new("GET", "/metrics")
            .send(self.metrics)
            .expect("scrape");
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).expect("UTF-8 metrics")
    }

    /// Scrape until `needle` shows up (metrics are counted once a response is done).
    pub fn wait_for_metric(&self, needle: &str) -> String {
        for _ in 0..100 {
            let scrape = self.scrape();
            if scrape.contains(needle) {
                return scrape;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{needle} never appeared in:\n{}", self.scrape());
    }

    /// A request from loopback claiming to forward for `client`.
    pub fn post_from(&self, client: &str, path: &str, body: &str) -> RawResponse {
        RawRequest::new("POST", path)
            .header("X-Forwarded-For", client)
            .header("Content-Type", "application/json")
            .body(body)
            .send(self.proxy)
            .expect("gateway answers")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON error body's `reason`.
pub fn reason(response: &RawResponse) -> String {
    response
        .json()
        .and_then(|j| j.get("reason").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// `promtool check metrics` (Debian package `prometheus`; `PROMTOOL` overrides the path)
/// finds nothing to complain about in `scrape`.
pub fn assert_promtool_accepts(scrape: &str) {
    use std::io::Write;
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{promtool} is needed (Debian package `prometheus`): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}\n{scrape}");
    assert!(
        report.trim().is_empty(),
        "promtool found problems: {report}"
    );
}
