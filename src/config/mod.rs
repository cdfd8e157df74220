//! Configuration: the TOML file read once and compiled into checked types.
//!
//! [`file`] mirrors the TOML; `compile` validates it into [`Config`], plain data: parsed
//! addresses and networks, loaded list files, a checked GeoIP database path, compiled
//! routes and policies. Nothing in a `Config` is live: the runtime (limiters, store, GeoIP
//! reader) is built from it by `state::runtime`, and outlives a config swap. Relative paths
//! in the file are read relative to the directory of the file itself, so a config works
//! from wherever garita is started.

mod compile;
mod error;
pub mod file;
mod shared;
mod state;
mod summary;

pub use compile::MAX_BODY_LIMIT;

pub use error::ConfigError;
pub use state::{StateSettings, StoreBackend, TrustedCa};

use crate::core::calendar::Calendar;
use crate::core::policy::Policies;
use crate::core::request::client_ip::ClientIpResolver;
use crate::core::request::route::RouteTable;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where decision-log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    File(PathBuf),
}

/// The decision log's daily rotation at UTC midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    pub compress: bool,
    pub retention_days: u32,
}

/// The GeoIP database to serve with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoIpSettings {
    pub path: PathBuf,
    /// As the database names itself, for `check`.
    pub database_type: String,
}

/// The shop's receiver of review events, resolved at load.
#[derive(Clone, PartialEq, Eq)]
pub struct ReviewEvents {
    /// As configured, for logs and `check` (it holds no secret).
    pub url: String,
    pub addr: SocketAddr,
    pub tls: bool,
    /// The `Host` header and the TLS server name.
    pub host: String,
    pub path: String,
    /// The Standard Webhooks signing key (decoded from `whsec_...`).
    pub key: Vec<u8>,
    pub timeout: Duration,
}

impl std::fmt::Debug for ReviewEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewEvents")
            .field("url", &self.url)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// `[evidence]`: where captured exchanges are kept, encrypted to whom, how long.
#[derive(Clone)]
pub struct EvidenceSettings {
    pub dir: PathBuf,
    /// Every record is encrypted to each of them: any one's identity opens it.
    pub recipients: Vec<age::x25519::Recipient>,
    pub retention_days: u32,
    pub queue: usize,
}

impl std::fmt::Debug for EvidenceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceSettings")
            .field("dir", &self.dir)
            .field(
                "recipients",
                &self
                    .recipients
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .field("retention_days", &self.retention_days)
            .finish_non_exhaustive()
    }
}

impl PartialEq for EvidenceSettings {
    fn eq(&self, other: &Self) -> bool {
        let keys = |s: &Self| {
            s.recipients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        self.dir == other.dir
            && keys(self) == keys(other)
            && self.retention_days == other.retention_days
            && self.queue == other.queue
    }
}

/// `[shadow]`: the proposed config, checked at load; the proxy compiles it again when it
/// starts the shadow (and only when its text changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowSettings {
    pub path: PathBuf,
    /// SHA-256 of its text: a reload that leaves it alone keeps the shadow's counters.
    pub digest: String,
    pub queue: usize,
    /// The share of one CPU the shadow may use, in percent.
    pub max_cpu_percent: u8,
}

impl ShadowSettings {
    /// Compile the shadow's config (offline: its secrets are never read; its own
    /// `[shadow]` is ignored).
    pub fn load(&self) -> Result<Config, ConfigError> {
        let (mut raw, digest) = read_file_config_with_digest(&self.path)?;
        raw.shadow = None;
        let mut config = compile::compile_offline(raw, &self.path)?;
        config.digest = digest;
        Ok(config)
    }
}

/// How identities are counted: the shop's calendar and the secret of the identifier hashes.
#[derive(Clone)]
pub struct IdentitySettings {
    pub calendar: Calendar,
    /// From `identity.hash_key_env`; without it the runtime takes the one kept in the
    /// embedded store, or a random one for a memory store.
    pub hash_key: Option<Vec<u8>>,
    /// The variable `hash_key` was read from.
    pub hash_key_env: Option<String>,
    /// `identity.business_hours`; none: every hour.
    pub business_hours: Option<crate::core::rules::risk::time::Hours>,
}

impl IdentitySettings {
    /// Whether `now` falls inside the shop's business hours (always, when none are set).
    pub fn in_business_hours(&self, now: jiff::Timestamp) -> bool {
        self.business_hours
            .is_none_or(|hours| hours.contains(self.calendar.minute_of_day(now)))
    }
}

impl std::fmt::Debug for IdentitySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySettings")
            .field("calendar", &self.calendar.name())
            .field(
                "hash_key",
                &self.hash_key.as_ref().map(|_| "(from the environment)"),
            )
            .finish()
    }
}

/// How long clients may take and how many connections they may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Time to send a whole request head, from accept or from its first byte.
    pub header_timeout: Duration,
    /// Idle time allowed between requests on one connection; `None`: no keep-alive.
    pub keepalive_timeout_seconds: Option<u64>,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
}

/// A validated configuration, ready to serve.
#[derive(Debug)]
pub struct Config {
    pub source: PathBuf,
    /// SHA-256 (hex) of the config file's text as loaded: which version is serving, in
    /// the audit trail and `garita status`.
    pub digest: String,
    /// The config file and every file it read (lists, secrets, certificates, the GeoIP
    /// database): what a change of reloads the gateway.
    pub files: Vec<PathBuf>,
    pub listen: Vec<SocketAddr>,
    pub threads: usize,
    pub grace_period_seconds: u64,
    /// How often the config's files are checked for changes; `None`: never.
    pub watch_interval: Option<Duration>,
    /// Where a graceful upgrade hands the listening sockets over.
    pub upgrade_socket: PathBuf,
    /// Bound on the request line plus headers; larger heads get 431.
    pub max_header_bytes: usize,
    /// Forward request headers whose names contain `_` (dropped by default).
    pub keep_underscore_headers: bool,
    /// Each client connection's read buffer (`server.read_buffer_kib`), in bytes.
    pub read_buffer_bytes: usize,
    pub connections: ConnectionSettings,
    pub upstream: UpstreamSettings,
    pub client_ip: ClientIpResolver,
    pub metrics_listen: Option<SocketAddr>,
    /// `/metrics` over HTTPS.
    pub metrics_tls: Option<TlsIdentity>,
    /// Slow-client limits of the metrics listener.
    pub metrics_connections: ConnectionSettings,
    /// Proxy listeners that terminate TLS, besides the plain ones of `listen`.
    pub tls: Option<ProxyTls>,
    pub admin: Option<AdminSettings>,
    pub decision_log: LogTarget,
    /// How a file decision log is rotated; `None` for standard output or `rotate = "never"`.
    pub decision_log_rotation: Option<LogRotation>,
    pub routes: RouteTable,
    pub policies: Policies,
    pub geoip: Option<GeoIpSettings>,
    pub identity: IdentitySettings,
    pub state: StateSettings,
    /// Where resolutions are sent to the shop; `None`: nowhere (no outbox events).
    pub review_events: Option<ReviewEvents>,
    /// A proposed config decided beside this one (`[shadow]`).
    pub shadow: Option<ShadowSettings>,
    /// Where the exchanges policies capture are kept (`[evidence]`).
    pub evidence: Option<EvidenceSettings>,
    /// Things that work but should not be so in production (shown by `garita check`,
    /// logged by `garita run`).
    pub warnings: Vec<String>,
}

/// The shop's backends and how garita talks to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    pub addresses: Vec<SocketAddr>,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of an answer.
    pub read_timeout: Duration,
    /// Longest whole exchange, connect to last byte.
    pub total_timeout: Duration,
    /// Failures in a row that take an upstream out; 0: health checks alone decide.
    pub max_fails: u32,
    pub health: HealthCheckSettings,
    pub tls: Option<UpstreamTls>,
}

/// Active health checks: a TCP connect, or an HTTP GET of `path` that must answer 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSettings {
    pub interval: Duration,
    pub timeout: Duration,
    pub path: Option<String>,
    pub host: Option<String>,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

/// TLS to the backends: the name their certificate must carry, and a private CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    pub server_name: String,
    pub ca: Option<TrustedCa>,
}

/// A listener's certificate chain and private key, read, parsed and checked against each
/// other once at load, in the form rustls serves. The key is a secret: never shown.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub key: Arc<pingora::tls::sign::CertifiedKey>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsIdentity({})", self.cert_file.display())
    }
}

impl TlsIdentity {
    /// Parse a chain and a key (PEM); fails when either does not parse or the key is not
    /// the certificate's.
    pub fn parse(
        cert_file: PathBuf,
        cert_pem: &[u8],
        key_file: PathBuf,
        key_pem: &[u8],
    ) -> Result<TlsIdentity, String> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", cert_file.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "{}: no certificate (-----BEGIN CERTIFICATE-----)",
                cert_file.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("{}: no private key ({e})", key_file.display()))?;
        pingora::tls::install_default_crypto_provider();
        let provider = pingora::tls::CryptoProvider::get_default()
            .ok_or("no TLS crypto provider installed")?;
        let key = pingora::tls::sign::CertifiedKey::from_der(chain, key, provider)
            .map_err(|e| format!("{} and {}: {e}", cert_file.display(), key_file.display()))?;
        Ok(TlsIdentity {
            cert_file,
            key_file,
            key: Arc::new(key),
        })
    }
}

/// Proxy listeners that terminate TLS.
#[derive(Debug, Clone)]
pub struct ProxyTls {
    pub listen: Vec<SocketAddr>,
    pub identity: TlsIdentity,
    /// HTTP/2 offered by ALPN.
    pub http2: bool,
}

/// The admin API's listener and the tokens that may call it.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    pub tokens: Vec<AdminToken>,
    pub tls: Option<TlsIdentity>,
    /// Slow-client limits of the admin listener.
    pub connections: ConnectionSettings,
}

/// An admin token as kept: its name, its role and the SHA-256 of its secret (compared in
/// constant time; the secret itself is not kept).
#[derive(Clone)]
pub struct AdminToken {
    pub name: Arc<str>,
    pub role: Role,
    pub digest: [u8; 32],
}

/// What a person with a token may do, each role all that the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads the queue, the status and the block list; changes nothing.
    Viewer,
    /// Also works the queue: claims, notes, escalations, resolutions (blocks only through
    /// fraud resolutions), and looks up an identity's history.
    Reviewer,
    /// Everything: blocks, quota resets, reloads.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish()
    }
}

impl Config {
    /// Read, parse and compile a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let (raw, digest) = read_file_config_with_digest(path)?;
        let mut config = compile::compile(raw, path)?;
        config.digest = digest;
        Ok(config)
    }

    /// Load a config for a command that looks at state or logs offline (`state inspect`,
    /// `replay`): webhook secrets and admin tokens, which such a command never uses, are
    /// not read, so it needs none of them in its environment. Such a config must never
    /// serve: its webhook keys are placeholders.
    pub fn load_offline(path: &Path) -> Result<Config, ConfigError> {
        let (raw, digest) = read_file_config_with_digest(path)?;
        let mut config = compile::compile_offline(raw, path)?;
        config.digest = digest;
        Ok(config)
    }

    /// Compile an already parsed file (the demo adjusts addresses before compiling).
    pub fn compile(raw: file::FileConfig, path: &Path) -> Result<Config, ConfigError> {
        compile::compile(raw, path)
    }
}

/// A serde message in an operator's words: `expected usize` says `expected a whole number
/// >= 0`, `expected struct ServerSection` says `expected a table`.
fn without_rust_types(message: &str) -> String {
    const PLAIN: [(&str, &str); 12] = [
        ("expected usize", "expected a whole number >= 0"),
        ("expected u64", "expected a whole number >= 0"),
        ("expected u32", "expected a whole number >= 0"),
        ("expected u16", "expected a whole number >= 0"),
        ("expected u8", "expected a whole number >= 0"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list, [...]"),
        ("expected a map", "expected a table"),
        ("expected a borrowed string", "expected a string"),
        ("expected a boolean", "expected true or false"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in PLAIN {
        out = out.replace(rust, plain);
    }
    // `expected struct ServerSection`: a table, whatever we call it inside.
    if let Some(at) = out.find("expected struct ") {
        let end = out[at + 16..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(out.len(), |e| at + 16 + e);
        out.replace_range(at..end, "expected a table");
    }
    out
}

/// Read and parse the TOML without compiling it.
pub fn read_file_config(path: &Path) -> Result<file::FileConfig, ConfigError> {
    read_file_config_with_digest(path).map(|(raw, _)| raw)
}

/// [`read_file_config`], and the SHA-256 (hex) of the text it read.
fn read_file_config_with_digest(path: &Path) -> Result<(file::FileConfig, String), ConfigError> {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((parse_file_config(&text, path)?, digest))
}

pub fn parse_file_config(text: &str, path: &Path) -> Result<file::FileConfig, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let mut message = without_rust_types(inner.message());
        if let Some(span) = inner.span() {
            let line = text[..span.start].matches('\n').count() + 1;
            message = format!("{message} (line {line})");
        }
        ConfigError::Syntax {
            file: path.to_path_buf(),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::without_rust_types;

    #[test]
    fn spans_read_as_people_say_them() {
        use std::time::Duration;
        assert_eq!(
            super::summary::human_duration(Duration::from_secs(30 * 86_400)),
            "30 days"
        );
        assert_eq!(
            super::summary::human_duration(Duration::from_secs(3_600)),
            "1 hour"
        );
        assert_eq!(
            super::summary::human_duration(Duration::from_secs(90)),
            "90 seconds"
        );
        assert_eq!(super::summary::per(Duration::from_secs(3_600)), "hour");
        assert_eq!(super::summary::per(Duration::from_secs(600)), "10 minutes");
    }

    #[test]
    fn serde_messages_lose_their_rust_type_names() {
        assert_eq!(
            without_rust_types("invalid value: integer `-1`, expected u32"),
            "invalid value: integer `-1`, expected a whole number >= 0"
        );
        assert_eq!(
            without_rust_types("invalid type: integer `5`, expected struct ServerSection"),
            "invalid type: integer `5`, expected a table"
        );
        assert_eq!(
            without_rust_types("invalid type: string \"x\", expected a sequence"),
            "invalid type: string \"x\", expected a list, [...]"
        );
    }
}
