//! The configuration file as written: serde structs that mirror the TOML one to one.
//!
//! Nothing here is validated beyond what serde checks (types and unknown keys); every
//! struct rejects keys it does not know, so a typo is an error rather than a silently
//! ignored setting. [`super::compile`] turns these into the checked types the gateway runs on.

mod policy;

pub use policy::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub server: ServerSection,
    pub upstream: UpstreamSection,
    #[serde(default)]
    pub client_ip: ClientIpSection,
    pub metrics: Option<MetricsSection>,
    #[serde(default)]
    pub decision_log: DecisionLogSection,
    pub geoip: Option<GeoIpSection>,
    /// Lists that apply to every route, before the route's own.
    #[serde(default)]
    pub ip_rules: IpRulesSection,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicySection>,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    #[serde(default)]
    pub identity: IdentitySection,
    #[serde(default)]
    pub state: StateSection,
    pub admin: Option<AdminSection>,
    pub review_events: Option<ReviewEventsSection>,
    pub shadow: Option<ShadowSection>,
    pub evidence: Option<EvidenceSection>,
}

/// Where the exchanges of policies with `[policies.NAME.evidence]` are kept, encrypted to
/// whom, and for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSection {
    /// The directory of the day files (default: `evidence` beside the decision log).
    pub dir: Option<PathBuf>,
    /// The age public keys (`age1...`) every record is encrypted to: one opens it.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// A file of further public keys, one a line (`#` comments), as `age-keygen -y` prints.
    pub recipients_file: Option<PathBuf>,
    /// Days a day file is kept (default 400).
    pub retention_days: Option<u32>,
    /// Records waiting for the writer at most (default 1024); beyond, dropped and counted.
    pub queue: Option<usize>,
}

/// A proposed config decided beside the live one, with no effect on any answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowSection {
    /// The proposed config file (e.g. from `garita rules report --propose`); its routes,
    /// policies and identity rules are used, its listeners and store are not.
    pub config: PathBuf,
    /// Requests waiting for the shadow at most (default 4096); beyond, skipped and counted.
    pub queue: Option<usize>,
    /// The share of one CPU the shadow may use (default 10): past it in a second, the
    /// rest of that second's requests are skipped and counted.
    pub max_cpu_percent: Option<u8>,
}

/// Where the shop's backend hears how its reviews were resolved (Standard Webhooks).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewEventsSection {
    /// `http://host:port/path` or `https://...`.
    pub url: String,
    /// The signing secret, `whsec_` and base64, as Standard Webhooks gives it.
    pub secret: SecretSource,
    pub timeout_ms: Option<u64>,
}

/// The admin API: its own listener (keep it on loopback or a management network), and the
/// bearer tokens that may call it, each with a name for the audit log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Default 127.0.0.1:9181: loopback unless said otherwise.
    pub listen: Option<String>,
    pub tokens: Vec<AdminTokenSection>,
    /// Serve the admin API over HTTPS.
    pub tls: Option<TlsFilesSection>,
    /// Seconds a client has to send a whole request head (default 10).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a kept-alive connection may wait idle (default 30; 0 turns keep-alive off).
    pub keepalive_timeout_seconds: Option<u64>,
    /// Connections open at once, in all (default 64).
    pub max_connections: Option<usize>,
    /// Connections open at once from one address (default 16).
    pub max_connections_per_address: Option<usize>,
}

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFilesSection {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `[server.tls]`: proxy listeners that terminate TLS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsSection {
    pub listen: Vec<String>,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Offer HTTP/2 by ALPN (default true).
    pub http2: Option<bool>,
}

/// Where the admin API listens when `admin.listen` is not given: loopback.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9181";

/// One admin token: a name, and exactly one of `env`, `file` or (demos only) `value`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenSection {
    pub name: String,
    /// "admin" (default), "reviewer" or "viewer".
    pub role: Option<String>,
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    pub value: Option<String>,
}

/// Where quota counters, bindings and replay records are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSection {
    /// "embedded" (default: a database file on local disk), "redis" (shared by several
    /// instances) or "memory" (lost at exit).
    pub backend: Option<String>,
    /// Redis: the environment variable holding its URL (`redis://`, `rediss://` for TLS;
    /// a password goes in the URL). Default GARITA_REDIS_URL.
    pub url_env: Option<String>,
    /// Redis: the prefix of every key, one per deployment (default "garita").
    pub key_prefix: Option<String>,
    /// Redis over TLS (`rediss://`): a PEM file of the certificates that sign the server's
    /// certificate, for a private CA. Without it, the Web PKI roots are trusted.
    pub tls_ca_file: Option<PathBuf>,
    /// The embedded database file (default `garita-state.redb` beside the config).
    pub path: Option<PathBuf>,
    /// How long a request waits for the store before its policy's `on_store_error`
    /// applies (default 100).
    pub timeout_ms: Option<u64>,
    /// How often the embedded store writes quota counters and bindings back to disk, in
    /// milliseconds (default 1000): what `kill -9` can lose. Replay records are always
    /// written before the response.
    pub flush_interval_ms: Option<u64>,
}

/// Settings shared by every policy's identity rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// IANA time zone in which daily and hourly quotas roll over (default America/Lima).
    pub time_zone: Option<String>,
    /// Environment variable holding the secret for keyed hashes of identifiers in the
    /// store and the decision log. Unset: a random secret per start.
    pub hash_key_env: Option<String>,
    /// The shop's opening hours in its time zone, `"08:00-22:00"`: exported as
    /// `garita_shop_open` for alert rules that should only page while the shop sells.
    pub business_hours: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub listen: Vec<String>,
    pub threads: Option<usize>,
    /// Policy for requests that no route matches.
    pub default_policy: String,
    /// Seconds to keep serving after SIGTERM/SIGINT before closing.
    pub grace_period_seconds: Option<u64>,
    /// Bound on the request line plus headers, in bytes (default 32768).
    pub max_header_bytes: Option<usize>,
    /// Request headers whose names contain `_`: "drop" (default, as NGINX does: CGI,
    /// WSGI and PHP read `X_Forwarded_For` as `X-Forwarded-For`) or "keep".
    pub underscores_in_headers: Option<String>,
    /// Seconds a client has to send a whole request head (default 10).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a kept-alive connection may wait idle for its next request (default 60;
    /// 0 turns keep-alive off).
    pub keepalive_timeout_seconds: Option<u64>,
    /// Client connections open at once, in all (default 10000).
    pub max_connections: Option<usize>,
    /// Client connections open at once from one peer address (default 100); trusted
    /// proxies are exempt.
    pub max_connections_per_address: Option<usize>,
    /// Each client connection's read buffer, in KiB (default 16; 0: none). Pingora's own
    /// default, 64, costs 48 KiB more per open connection, idle or slow.
    pub read_buffer_kib: Option<usize>,
    /// How often the files the config read are checked for changes that reload it, in
    /// milliseconds (default 1000; 0: reload on SIGHUP or the admin API only).
    pub watch_interval_ms: Option<u64>,
    /// The Unix socket a graceful upgrade (`garita run --upgrade`) takes the listeners
    /// over through (default /tmp/garita-upgrade.sock).
    pub upgrade_socket: Option<PathBuf>,
    pub tls: Option<ServerTlsSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub addresses: Vec<String>,
    pub connect_timeout_ms: Option<u64>,
    /// Longest wait for the next bytes of the backend's answer.
    pub read_timeout_ms: Option<u64>,
    /// Longest whole exchange with the backend, from connecting to the answer's last byte.
    pub total_timeout_ms: Option<u64>,
    /// Failed connections or timeouts in a row that take an upstream out of the rotation
    /// until its health check passes again (default 3; 0: only health checks decide).
    pub max_fails: Option<u32>,
    #[serde(default)]
    pub health_check: HealthCheckSection,
    #[serde(default)]
    pub tls: Option<UpstreamTlsSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    /// How often each upstream is checked (default 5000).
    pub interval_ms: Option<u64>,
    /// How long one check may take (default 1000).
    pub timeout_ms: Option<u64>,
    /// An HTTP GET to this path that must answer 2xx; without it, a TCP connect.
    pub path: Option<String>,
    /// The Host header of the HTTP check (default: the upstream's address).
    pub host: Option<String>,
    /// Checks in a row that bring an upstream back (default 2).
    pub healthy_threshold: Option<u32>,
    /// Checks in a row that take it out (default 3).
    pub unhealthy_threshold: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsSection {
    /// The name the backend's certificate must carry (and the SNI sent).
    pub server_name: String,
    /// PEM certificates to trust instead of the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientIpSection {
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub listen: String,
    /// Serve `/metrics` over HTTPS.
    pub tls: Option<TlsFilesSection>,
    /// Seconds a client has to send a whole request head (default 10).
    pub header_timeout_seconds: Option<u64>,
    /// Seconds a kept-alive connection may wait idle (default 30; 0 turns keep-alive off).
    pub keepalive_timeout_seconds: Option<u64>,
    /// Connections open at once, in all (default 64).
    pub max_connections: Option<usize>,
    /// Connections open at once from one address (default 16).
    pub max_connections_per_address: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// A file to append to, or "-" for standard output (the default).
    pub path: Option<PathBuf>,
    /// "daily" (the default for a file: at UTC midnight) or "never" (logrotate's job).
    pub rotate: Option<String>,
    /// Gzip the days rotated out (default true).
    pub compress: Option<bool>,
    /// Delete rotated days older than this (default 400: a year and a month).
    pub retention_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpSection {
    pub database: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub name: String,
    pub methods: Option<Vec<String>>,
    pub paths: Vec<String>,
    pub policy: String,
    /// Match only the paths as written, not their format-suffixed spellings
    /// (`/v1/cips.json` for `/v1/cips`). Default false.
    pub exact: Option<bool>,
    /// Let requests upgrade the connection (WebSocket). Default false; never on a route
    /// whose policy reads facts or verifies webhooks.
    pub upgrade: Option<bool>,
}
