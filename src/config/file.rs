//! The configuration file as written: serde structs that mirror the TOML one to one.
//!
//! Nothing here is validated beyond what serde checks (types and unknown keys); every
//! struct rejects keys it does not know, so a typo is an error rather than a silently
//! ignored setting. [`super::compile`] turns these into the checked types the gateway runs on.

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    pub addresses: Vec<String>,
    pub connect_timeout_ms: Option<u64>,
    pub read_timeout_ms: Option<u64>,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// A file to append to, or "-" for standard output (the default).
    pub path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoIpSection {
    pub database: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRulesSection {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub allow_files: Vec<PathBuf>,
    #[serde(default)]
    pub block: Vec<String>,
    #[serde(default)]
    pub block_files: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    #[serde(default)]
    pub ip_rules: IpRulesSection,
    pub geofence: Option<GeofenceSection>,
    pub rate_limit: Option<RateLimitSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeofenceSection {
    pub allow_countries: Option<Vec<String>>,
    pub block_countries: Option<Vec<String>>,
    /// "allow" or "deny": what to do with addresses the database has no country for.
    pub unknown: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Sustained rate: `requests` per `per` ("1s", "10m", "1h").
    pub requests: u32,
    pub per: String,
    /// How many may arrive at once; defaults to `requests`.
    pub burst: Option<u32>,
    /// IPv6 clients are counted per prefix of this length (default 64).
    pub ipv6_prefix: Option<u8>,
    /// Upper bound on distinct addresses tracked (default 100000).
    pub max_keys: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub name: String,
    pub methods: Option<Vec<String>>,
    pub paths: Vec<String>,
    pub policy: String,
}
