//! The test gateway: a config written from what a test says, `garita run` started on
//! it, and what the test reads back (listeners, the recording backend, logs, metrics).

use super::*;

/// Read `garita run`'s `listening on ADDR (ROLE)` lines until every role in `roles` is
/// seen or the output ends; the rest of the output is drained in the background.
pub(crate) fn read_listeners(
    stdout: std::process::ChildStdout,
    roles: &[&str],
) -> std::collections::HashMap<String, SocketAddr> {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut found = std::collections::HashMap::new();
    while found.len() < roles.len() {
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        let Some(rest) = line.strip_prefix("listening on ") else {
            continue;
        };
        if let Some((addr, role)) = rest.split_once(' ') {
            let role = role.trim_matches(|c| c == '(' || c == ')');
            // One metrics and one admin listener, TLS or not; the proxy may have both.
            let role = match role {
                "metrics tls" | "admin tls" => role.trim_end_matches(" tls"),
                _ => role,
            };
            found.insert(role.to_string(), addr.parse().expect("a socket address"));
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    found
}

pub struct GatewayBuilder {
    server: String,
    metrics: String,
    upstream: Option<SocketAddr>,
    upstreams: Vec<SocketAddr>,
    upstream_settings: String,
    decision_log: String,
    client_ip: String,
    rules: String,
    geoip: Option<&'static str>,
    files: Vec<(String, Vec<u8>)>,
    dead_upstream: bool,
    dead_neighbour: bool,
    clock: Option<String>,
    env: Vec<(String, String)>,
    shop_key: Option<Vec<u8>>,
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

    /// A backend that checks PagoEfectivo signatures itself with `key` (401 on a
    /// mismatch), as a careful shop's sandbox does.
    pub fn shop_verifying(mut self, key: &str) -> Self {
        self.shop_key = Some(key.as_bytes().to_vec());
        self
    }

    /// List a dead upstream before the live backend.
    pub fn dead_neighbour(mut self) -> Self {
        self.dead_neighbour = true;
        self
    }

    /// Point the gateway at a port where nothing listens.
    pub fn dead_upstream(mut self) -> Self {
        self.dead_upstream = true;
        self
    }

    /// Write the decision log to `path` instead of `decisions.jsonl` in the gateway's
    /// directory (e.g. `/dev/full`, a disk that is always full).
    pub fn decision_log(mut self, path: &str) -> Self {
        self.decision_log = path.to_string();
        self
    }

    /// Send allowed requests to `addr` (a test's own misbehaving backend) instead of the
    /// recording one.
    pub fn upstream(mut self, addr: SocketAddr) -> Self {
        self.upstream = Some(addr);
        self
    }

    /// Send allowed requests round robin to `addrs` (the test's own backends).
    pub fn upstreams(mut self, addrs: &[SocketAddr]) -> Self {
        self.upstreams = addrs.to_vec();
        self
    }

    /// More `[upstream]` settings, e.g. `read_timeout_ms = 500`.
    pub fn upstream_settings(mut self, toml: &str) -> Self {
        self.upstream_settings = toml.to_string();
        self
    }

    /// More `[metrics]` settings, e.g. `header_timeout_seconds = 1`.
    pub fn metrics_settings(mut self, toml: &str) -> Self {
        self.metrics = toml.to_string();
        self
    }

    /// More `[server]` settings, e.g. `header_timeout_seconds = 1`.
    pub fn server(mut self, toml: &str) -> Self {
        self.server = toml.to_string();
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
    pub fn file(mut self, name: &str, content: impl AsRef<[u8]>) -> Self {
        self.files
            .push((name.to_string(), content.as_ref().to_vec()));
        self
    }

    pub fn start(self) -> TestGateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let shop = match &self.shop_key {
            Some(key) => DemoShop::start_verifying(key),
            None => DemoShop::start(),
        }
        .expect("recording backend");
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
        let dead = unused_addr;
        let listed = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .map(|a| format!("\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let upstream = match (self.upstream, self.dead_upstream, self.dead_neighbour) {
            _ if !self.upstreams.is_empty() => listed(&self.upstreams),
            (Some(addr), _, _) => format!("\"{addr}\""),
            (None, true, _) => format!("\"{}\"", dead()),
            (None, false, true) => format!("\"{}\", \"{}\"", dead(), shop.addr()),
            (None, false, false) => format!("\"{}\"", shop.addr()),
        };
        let mut config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nthreads = 2\ndefault_policy = \"open\"\ngrace_period_seconds = 1\nupgrade_socket = \"upgrade.sock\"\n{}\n\
             [upstream]\naddresses = [{}]\n{}\n\
             [client_ip]\n{}\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n{}\n\
             [decision_log]\npath = {:?}\n\
             {geoip}\n\
             [policies.open]\n\n{}\n",
            self.server,
            upstream,
            self.upstream_settings,
            self.client_ip,
            self.metrics,
            self.decision_log,
            self.rules
        );
        let mut env = self.env;
        if !self.rules.contains("[identity]") {
            // A decision log file wants a hash key as soon as a policy reads identities.
            config.push_str(&format!(
                "\n[identity]\nhash_key_env = \"{}\"\n",
                TEST_HASH_KEY.0
            ));
            env.push((TEST_HASH_KEY.0.into(), TEST_HASH_KEY.1.into()));
        }
        std::fs::write(dir.path().join("garita.toml"), &config).unwrap();
        if let Some(now) = &self.clock {
            std::fs::write(dir.path().join("clock"), now).unwrap();
        }
        if self.clock.is_some() {
            let clock = dir.path().join("clock").display().to_string();
            env.push(("GARITA_TEST_CLOCK_FILE".into(), clock));
        }
        let (child, at) = spawn(dir.path(), &env);
        TestGateway {
            child,
            shop,
            proxy: at.proxy,
            metrics: at.metrics,
            admin: at.admin,
            proxy_tls: at.proxy_tls,
            dir,
            env,
        }
    }
}

/// Start `garita run` on the config in `dir` and wait for its listeners (the admin one too
/// when the config has an `[admin]` table).
pub(crate) fn spawn(dir: &Path, env: &[(String, String)]) -> (Child, Listeners) {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .unwrap();
    let mut child = Command::new(garita_bin())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["run", "--config"])
        .arg(dir.join("garita.toml"))
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start garita");
    let config = std::fs::read_to_string(dir.join("garita.toml")).unwrap_or_default();
    let mut roles = vec!["proxy", "metrics"];
    if config.contains("\n[admin]") {
        roles.push("admin");
    }
    if config.contains("\n[server.tls]") {
        roles.push("proxy tls");
    }
    let listening = read_listeners(child.stdout.take().unwrap(), &roles);
    let (Some(&proxy), Some(&metrics)) = (listening.get("proxy"), listening.get("metrics")) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "garita did not say where it listens; config:\n{}\nstderr:\n{}",
            std::fs::read_to_string(dir.join("garita.toml")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
        );
    };
    let admin = listening.get("admin").copied();
    let proxy_tls = listening.get("proxy tls").copied();
    (
        child,
        Listeners {
            proxy,
            metrics,
            admin,
            proxy_tls,
        },
    )
}

/// Where a started gateway listens.
pub(crate) struct Listeners {
    proxy: SocketAddr,
    metrics: SocketAddr,
    admin: Option<SocketAddr>,
    proxy_tls: Option<SocketAddr>,
}

pub struct TestGateway {
    child: Child,
    pub shop: DemoShop,
    pub proxy: SocketAddr,
    pub metrics: SocketAddr,
    /// The admin API, when the rules have an `[admin]` table.
    pub admin: Option<SocketAddr>,
    /// The TLS proxy listener, when the server settings have a `[server.tls]` table.
    pub proxy_tls: Option<SocketAddr>,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl TestGateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder {
            server: String::new(),
            metrics: String::new(),
            upstream: None,
            upstreams: Vec::new(),
            upstream_settings: String::new(),
            decision_log: "decisions.jsonl".to_string(),
            client_ip: String::new(),
            rules: String::new(),
            geoip: None,
            files: Vec::new(),
            dead_upstream: false,
            dead_neighbour: false,
            clock: None,
            env: Vec::new(),
            shop_key: None,
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
        // Written beside and renamed over: garita never reads a half-written time.
        let next = self.dir.path().join("clock.next");
        std::fs::write(&next, rfc3339).unwrap();
        std::fs::rename(next, self.dir.path().join("clock")).unwrap();
    }

    /// The decision log as written, for checks on what must never appear in it.
    pub fn decision_log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("decisions.jsonl")).unwrap_or_default()
    }

    /// A path in the gateway's directory (its config, decision log and stderr live there).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The config file as the gateway read it.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.path("garita.toml")).unwrap()
    }

    /// Replace the config file (written beside and renamed over, as deploy tools do).
    pub fn write_config(&self, text: &str) {
        let next = self.path("garita.toml.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(next, self.path("garita.toml")).unwrap();
    }

    /// An admin API call with `token` (none: no Authorization header) and a JSON body.
    pub fn admin_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> RawResponse {
        let mut request = RawRequest::new(method, path);
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        request
            .send(self.admin.expect("an [admin] table"))
            .expect("admin answers")
    }

    /// The gateway's resident memory, in KiB (`VmRSS` of its process).
    pub fn resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the gateway's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
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

    /// Stop the gateway with `signal` (`TERM` for a graceful stop, `KILL` for a crash),
    /// wait for it to exit, and start it again on the same config, state and backend.
    pub fn restart(&mut self, signal: &str) {
        self.stop(signal);
        self.start_again();
    }

    /// Stop the gateway with `signal` and wait for it to exit; how it exited.
    pub fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        self.signal(signal);
        self.child.wait().expect("garita exits")
    }

    /// Start the gateway again after [`Self::stop`], on the same config, state and backend.
    pub fn start_again(&mut self) {
        let (child, at) = spawn(self.dir.path(), &self.env);
        self.child = child;
        self.proxy = at.proxy;
        self.metrics = at.metrics;
        self.admin = at.admin;
        self.proxy_tls = at.proxy_tls;
    }

    /// A graceful upgrade: a new `garita run --upgrade` on the same config takes the
    /// listeners over from this one, which is sent SIGQUIT, finishes its requests and
    /// exits. The config's listeners must have fixed ports (see [`Self::pin_ports`]).
    /// Returns how the old process exited.
    pub fn upgrade(&mut self) -> std::process::ExitStatus {
        let stderr = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("stderr.log"))
            .unwrap();
        let mut new = Command::new(garita_bin())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["run", "--upgrade", "--config"])
            .arg(self.path("garita.toml"))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the new garita");
        // The new process listens on the upgrade socket before the old one is told.
        let socket = self.path("upgrade.sock");
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal("QUIT");
        let listening = read_listeners(new.stdout.take().unwrap(), &["proxy", "metrics"]);
        assert_eq!(listening.get("proxy"), Some(&self.proxy), "same listener");
        let mut old = std::mem::replace(&mut self.child, new);
        old.wait().expect("the old garita exits")
    }

    /// Write the ports the gateway listens on into its config (an upgrade finds the
    /// listeners by address).
    pub fn pin_ports(&self) {
        let text = self.config_text().replacen(
            "listen = [\"127.0.0.1:0\"]",
            &format!("listen = [\"{}\"]", self.proxy),
            1,
        );
        let text = text.replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{}\"", self.metrics),
            1,
        );
        self.write_config(&text);
    }

    /// Whether the gateway process has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait on garita")
    }

    /// Wait (briefly) until garita's standard error mentions `needle`; returns all of it.
    pub fn wait_for_stderr(&self, needle: &str) -> String {
        for _ in 0..250 {
            let text = self.stderr();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{needle:?} never appeared on standard error:\n{}",
            self.stderr()
        );
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Decision-log lines so far, parsed: the days rotated out (a test clock may cross UTC
    /// midnight), then the active file.
    pub fn decisions(&self) -> Vec<serde_json::Value> {
        use garita::observe::audit_files::{open_lines, Trail};
        use std::io::BufRead;
        let trail = Trail::new(&self.dir.path().join("decisions.jsonl"));
        let mut files: Vec<PathBuf> = trail
            .rotated()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.path)
            .collect();
        files.push(trail.active().to_path_buf());
        files
            .iter()
            .filter_map(|f| open_lines(f).ok())
            .flat_map(|lines| lines.lines().map_while(Result::ok).collect::<Vec<_>>())
            .map(|l| serde_json::from_str(&l).expect("each line is JSON"))
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

    /// Wait (briefly) for `n` lines of the shadow config (`"event":"shadow"`), which its
    /// thread writes some time after the live line.
    pub fn wait_for_shadow(&self, n: usize) -> Vec<serde_json::Value> {
        let shadow = || -> Vec<serde_json::Value> {
            self.decisions()
                .into_iter()
                .filter(|l| l["event"] == "shadow")
                .collect()
        };
        for _ in 0..250 {
            let lines = shadow();
            if lines.len() >= n {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        shadow()
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
