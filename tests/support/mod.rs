//! Starts the real `garita` binary against a recording backend, on loopback ports.
//!
//! A test describes only what it is about (its policies and routes, the client-IP setup,
//! list files); the builder writes the rest of a config into a temporary directory, with
//! every listener on port 0, starts `garita run` as a child process, reads the addresses it
//! bound from its `listening on ...` lines (which are also the sign that it is ready), and
//! kills it when the [`TestGateway`] is dropped. [`run`] runs any command with an optional
//! standard input and collects what it printed.
#![allow(dead_code, unused_imports)]

use garita::cli::demo::shop::{DemoShop, RecordedRequest};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use garita::cli::demo::client::{send_bytes, RawRequest, RawResponse};

/// A certificate authority made for one test (rcgen), and the certificates it issues.
pub struct TestCa {
    /// Its own certificate, to trust.
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "garita test CA");
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `name` (and 127.0.0.1) and its key, both PEM.
    pub fn issue(&self, name: &str) -> (String, String) {
        use rcgen::{CertificateParams, KeyPair, SanType};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A loopback address where nothing listens (for a dead upstream): a port the system
/// handed out and took back.
fn unused_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().unwrap()
}

/// A backend that accepts connections and then misbehaves in the way `serve` says, each
/// connection on its own thread, for as long as the test runs.
pub fn misbehaving_backend(serve: fn(std::net::TcpStream)) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

/// Poll until `check` holds, for at most 10 seconds (what a test waits for happens in
/// another process: a reload, a health check, a log line).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: never happened");
}

/// Whether the server has closed `stream`: a read returns end of file or a reset within
/// `wait` (a response before the close is read past). A read that times out means the
/// connection is still open.
pub fn closed_by_server(stream: &mut std::net::TcpStream, wait: Duration) -> bool {
    use std::io::{ErrorKind, Read};
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// What a finished command printed.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Standard output and standard error together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The variable and the secret of the keyed hashes of the gateways tests start.
pub const TEST_HASH_KEY: (&str, &str) =
    ("GARITA_TEST_HASH_KEY", "a-test-hash-key-of-32-bytes-long");

/// How long [`run`] lets a command take before it kills it and fails the test.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Run `program` with `args` and `env`, feeding it `stdin` if given, and collect its output.
/// A command still running after two minutes is killed and fails the test, so a hang
/// shows up as a failure.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    use std::io::{Read, Write};
    let mut child = Command::new(program)
        .args(args)
        // The hash key every gateway the builder starts reads (see `GatewayBuilder::start`).
        .env(TEST_HASH_KEY.0, TEST_HASH_KEY.1)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A command that fails before reading its input closes the pipe: not an error here.
        if let Err(e) = pipe.write_all(input) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "writing to {program}: {e}"
            );
        }
    }
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} still ran after {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        success: status.success(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Read `garita run`'s `listening on ADDR (ROLE)` lines until every role in `roles` is
/// seen or the output ends; the rest of the output is drained in the background.
fn read_listeners(
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

pub fn garita_bin() -> &'static str {
    env!("CARGO_BIN_EXE_garita")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
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
        let shop = DemoShop::start().expect("recording backend");
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
fn spawn(dir: &Path, env: &[(String, String)]) -> (Child, Listeners) {
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
struct Listeners {
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
    let out = run(
        &promtool,
        &["check", "metrics"],
        &[],
        Some(scrape.as_bytes()),
    );
    let report = out.text();
    assert!(
        out.success,
        "promtool ({promtool}, Debian package `prometheus`): {report}\n{scrape}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool found problems: {report}"
    );
}

/// A `redis-server` of the test's own, on a Unix socket in a temporary directory (no port
/// to collide with anything), persisting nothing. Debian package `redis-server`; the
/// `REDIS_SERVER` variable overrides the path.
pub struct Redis {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Also serving TLS on this loopback port, with a certificate for `localhost` signed by
    /// a CA made for the test (`ca.pem` in the directory).
    tls_port: Option<u16>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            tls_port: None,
        };
        redis.resume();
        redis
    }

    /// A server that also speaks TLS on a loopback port (`rediss://localhost:PORT`).
    pub fn start_tls() -> Redis {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::new();
        let (cert, key) = ca.issue("localhost");
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        let mut redis = Redis {
            dir,
            child: None,
            tls_port: Some(unused_addr().port()),
        };
        redis.resume();
        redis
    }

    /// The CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The TLS URL of a server from `start_tls`.
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://localhost:{}/",
            self.tls_port.expect("a TLS server")
        )
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The URL garita connects with.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Stop the server (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Freeze the server (SIGSTOP): connections stay open and nothing answers, like a
    /// store stuck on a slow disk or a long command. [`Redis::thaw`] lets it go on.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Start the server (again), empty, and wait until it answers.
    pub fn resume(&mut self) {
        let program = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(&program);
        command
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(port) = self.tls_port {
            let file = |name: &str| self.dir.path().join(name);
            command
                .args(["--bind", "127.0.0.1", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(file("server.pem"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is needed (Debian package `redis-server`): {e}"));
        self.child = Some(child);
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
