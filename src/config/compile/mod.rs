//! From the file's structs to the gateway's types, checking every value on the way.
//!
//! Global `[ip_rules]` are merged into every policy here, so the decision core only ever
//! looks at one allow list and one block list per policy.

mod admin;
mod identity;
mod listeners;
mod risk;
mod tls;
mod upstream;
mod webhook;

pub use identity::MAX_BODY_LIMIT;

use super::error::ConfigError;
use super::file::{self, FileConfig};
use super::shared::{compile_rate_limit, read_list, trusted_ca, Counted, Ctx};
use super::{
    Config, ConnectionSettings, GeoIpSettings, LogRotation, LogTarget, StateSettings, StoreBackend,
};
use crate::core::decision::Mode;
use crate::core::net::geo::{CountryCode, Geofence, UnknownCountry};
use crate::core::net::ip_list::IpList;
use crate::core::plan::OnStoreError;
use crate::core::policy::{Policies, Policy};
use crate::core::request::client_ip::ClientIpResolver;
use crate::core::request::facts::KeyKind;
use crate::core::request::route::{PathPattern, Route, RouteName, RouteTable};
use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(super) fn compile(raw: FileConfig, path: &Path) -> Result<Config, ConfigError> {
    compile_with(raw, Ctx::new(path))
}

/// [`compile`] without reading webhook secrets and admin tokens (see `Config::load_offline`).
pub(super) fn compile_offline(raw: FileConfig, path: &Path) -> Result<Config, ConfigError> {
    let mut ctx = Ctx::new(path);
    ctx.skip_secrets = true;
    compile_with(raw, ctx)
}

fn compile_with(raw: FileConfig, ctx: Ctx) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();
    // Each section is compiled even when an earlier one failed, so that `check` reports
    // every mistake it can find in one run; a section that failed stands in with a
    // neutral value until the errors are returned together at the end.
    let listeners = ctx.keep(listeners::listeners(&ctx, &raw, &mut warnings));

    let threads = match raw.server.threads {
        Some(0) => {
            ctx.report(ctx.invalid("server.threads", "a number of threads >= 1", 0));
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };

    let max_header_bytes = raw
        .server
        .max_header_bytes
        .unwrap_or(crate::core::request::framing::DEFAULT_MAX_HEADER_BYTES);
    if max_header_bytes < 1024 {
        ctx.report(ctx.invalid(
            "server.max_header_bytes",
            "at least 1024 bytes",
            max_header_bytes,
        ));
    }

    let connections = ctx.keep(connection_settings(&ctx, &raw.server));
    let keep_underscore_headers = ctx
        .keep(ctx.choice(
            "server.underscores_in_headers",
            raw.server.underscores_in_headers.as_deref(),
            false,
            &[("drop", false), ("keep", true)],
        ))
        .unwrap_or(false);

    let upstream = ctx.keep(upstream::upstream_settings(&ctx, &raw.upstream));

    let mut trusted = IpList::new();
    for (i, entry) in raw.client_ip.trusted_proxies.iter().enumerate() {
        match IpList::parse_entry(entry) {
            Some(net) => trusted.insert(net),
            None => ctx.report(ctx.invalid(
                format!("client_ip.trusted_proxies[{i}]"),
                "an IP address or CIDR",
                format!("{entry:?}"),
            )),
        }
    }
    let header_text = raw.client_ip.header.as_deref().unwrap_or("X-Forwarded-For");
    let header = http::HeaderName::from_bytes(header_text.as_bytes()).unwrap_or_else(|_| {
        ctx.report(ctx.invalid(
            "client_ip.header",
            "an HTTP header name",
            format!("{header_text:?}"),
        ));
        http::HeaderName::from_static("x-forwarded-for")
    });

    let decision_log = match raw.decision_log.path.as_deref() {
        None => LogTarget::Stdout,
        Some(p) if p == Path::new("-") => LogTarget::Stdout,
        Some(p) => {
            let full = ctx.resolve(p);
            let dir_ok = full
                .parent()
                .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
            if !dir_ok {
                ctx.report(ctx.invalid(
                    "decision_log.path",
                    "a file in an existing directory, or \"-\" for standard output",
                    full.display(),
                ));
            }
            LogTarget::File(full)
        }
    };
    let log = &raw.decision_log;
    let rotate = ctx
        .keep(ctx.choice(
            "decision_log.rotate",
            log.rotate.as_deref(),
            true,
            &[("daily", true), ("never", false)],
        ))
        .unwrap_or(true);
    let retention_days = log.retention_days.unwrap_or(400);
    if retention_days == 0 {
        ctx.report(ctx.invalid("decision_log.retention_days", "a number of days >= 1", 0));
    }
    let decision_log_rotation = match &decision_log {
        LogTarget::File(_) if rotate => Some(LogRotation {
            compress: log.compress.unwrap_or(true),
            retention_days,
        }),
        _ => None,
    };

    let geo = match &raw.geoip {
        None => None,
        Some(g) => {
            let full = ctx.resolve(&g.database);
            // Checked here by its metadata alone (memory-mapped: only those pages are
            // read); the runtime opens it for serving.
            let db = ctx.keep(maxminddb::Reader::open_mmap(&full).map_err(|e| {
                ctx.invalid(
                    "geoip.database",
                    "a readable MaxMind DB (.mmdb) file",
                    format!("{} ({e})", full.display()),
                )
            }));
            Some(GeoIpSettings {
                path: full,
                database_type: db.map_or_else(String::new, |db| db.metadata.database_type.clone()),
            })
        }
    };

    let global_allow = ctx
        .keep(ip_rule_list(
            &ctx,
            "ip_rules",
            "allow",
            &raw.ip_rules.allow,
            &raw.ip_rules.allow_files,
        ))
        .unwrap_or_default();
    let global_block = ctx
        .keep(ip_rule_list(
            &ctx,
            "ip_rules",
            "block",
            &raw.ip_rules.block,
            &raw.ip_rules.block_files,
        ))
        .unwrap_or_default();

    let identity = ctx.keep(identity::identity_settings(&ctx, &raw.identity));

    let mut policies = Policies::default();
    // Policies that did not compile: routes naming them are not reported again.
    let mut failed_policies = HashSet::new();
    for (name, section) in &raw.policies {
        let key = format!("policies.{name}");
        let compiled = (|| {
            let mut policy =
                compile_policy(&ctx, &key, name, section, &global_allow, &global_block)?;
            if let Some(w) = &section.webhook {
                if policy.identity.is_some() {
                    return Err(ctx.invalid(
                        format!("{key}.webhook"),
                        "a webhook policy without facts, block, limits or bindings",
                        "both",
                    ));
                }
                policy.webhook = Some(webhook::webhook_rule(
                    &ctx,
                    &format!("{key}.webhook"),
                    w,
                    &mut warnings,
                )?);
            }
            let compares_countries = policy
                .identity
                .as_ref()
                .and_then(|i| i.risk.as_ref())
                .is_some_and(|r| r.compares_countries());
            if compares_countries && geo.is_none() {
                return Err(ctx.invalid(
                    format!("{key}.risk"),
                    "a [geoip] database to be configured for country_mismatch",
                    "no [geoip] section",
                ));
            }
            if policy.geofence.is_some() && geo.is_none() {
                return Err(ctx.invalid(
                    format!("{key}.geofence"),
                    "a [geoip] database to be configured for a geofence",
                    "no [geoip] section",
                ));
            }
            Ok(policy)
        })();
        match compiled {
            Ok(policy) => {
                policies.push(policy);
            }
            Err(e) => {
                ctx.report(e);
                failed_policies.insert(name.as_str());
            }
        }
    }

    let state = ctx.keep(state_settings(&ctx, &raw.state));
    let memory_state = state
        .as_ref()
        .is_some_and(|s| s.backend == StoreBackend::Memory);
    let redis_state = state
        .as_ref()
        .is_some_and(|s| matches!(s.backend, StoreBackend::Redis { .. }));
    if raw.identity.hash_key_env.is_none() && redis_state {
        ctx.report(ctx.invalid(
            "identity.hash_key_env",
            "a secret shared by every instance on the same Redis (their keys must agree)",
            "none",
        ));
    }
    // A file decision log is the audit trail, kept for a year: its identifier hashes must
    // stay joinable across restarts and with the store's, and a replay must reproduce them.
    if raw.identity.hash_key_env.is_none()
        && matches!(decision_log, LogTarget::File(_))
        && policies.iter().any(|(_, p)| p.identity.is_some())
    {
        ctx.report(ctx.invalid(
            "identity.hash_key_env",
            "a secret for the keyed identifier hashes, which a decision log file keeps as evidence",
            "none",
        ));
    }
    if raw.identity.hash_key_env.is_none()
        && memory_state
        && policies.iter().any(|(_, p)| p.identity.is_some())
    {
        warnings.push(format!(
            "{}: identity.hash_key_env is not set: identifier hashes in the decision log change at every start",
            ctx.file.display()
        ));
    }

    let lookup_policy = |key: String, name: &str| {
        policies.find(name).ok_or_else(|| {
            let known: Vec<&str> = policies.iter().map(|(_, p)| &*p.name).collect();
            ctx.invalid(
                key,
                &format!("the name of a [policies.*] table ({})", known.join(", ")),
                format!("{name:?}"),
            )
        })
    };
    let default_policy = match failed_policies.contains(raw.server.default_policy.as_str()) {
        true => None,
        false => ctx.keep(lookup_policy(
            "server.default_policy".into(),
            &raw.server.default_policy,
        )),
    };

    let mut routes = Vec::new();
    let mut names = HashSet::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        let compiled = (|| -> Result<Option<Route>, ConfigError> {
            if r.name.is_empty() || r.name == "default" || !names.insert(r.name.clone()) {
                return Err(ctx.invalid(
                    format!("{key}.name"),
                    "a unique route name other than \"default\"",
                    format!("{:?}", r.name),
                ));
            }
            if r.paths.is_empty() {
                return Err(ctx.invalid(format!("{key}.paths"), "at least one path pattern", "[]"));
            }
            let patterns = r
                .paths
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    PathPattern::parse(p).map_err(|why| {
                        ctx.invalid(format!("{key}.paths[{j}]"), &why, format!("{p:?}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let methods = r
                .methods
                .as_ref()
                .map(|ms| {
                    ms.iter()
                        .enumerate()
                        .map(|(j, m)| {
                            let upper = m.to_ascii_uppercase();
                            http::Method::from_bytes(upper.as_bytes())
                                .ok()
                                .filter(|_| !upper.is_empty())
                                .map(|_| upper)
                                .ok_or_else(|| {
                                    ctx.invalid(
                                        format!("{key}.methods[{j}]"),
                                        "an HTTP method",
                                        format!("{m:?}"),
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            if failed_policies.contains(r.policy.as_str()) {
                return Ok(None);
            }
            let policy = lookup_policy(format!("{key}.policy"), &r.policy)?;
            let upgrade = r.upgrade.unwrap_or(false);
            let guarded = &policies[policy];
            if upgrade && (guarded.identity.is_some() || guarded.webhook.is_some()) {
                // After a 101 the bytes pass uninspected: a tunnel past every rule.
                return Err(ctx.invalid(
                    format!("{key}.upgrade"),
                    "no upgrade on a route whose policy reads identity facts or verifies webhooks",
                    "upgrade = true",
                ));
            }
            Ok(Some(Route {
                name: RouteName::new(&r.name),
                methods,
                patterns,
                policy,
                exact: r.exact.unwrap_or(false),
                upgrade,
            }))
        })();
        match compiled {
            Ok(Some(route)) => routes.push(route),
            Ok(None) => {}
            Err(e) => ctx.report(e),
        }
    }

    let upgrade_socket = raw.server.upgrade_socket.as_ref().map_or_else(
        || PathBuf::from("/tmp/garita-upgrade.sock"),
        |p| ctx.resolve(p),
    );
    // sun_path holds 108 bytes with its terminating zero.
    if upgrade_socket.as_os_str().len() > 100 {
        ctx.report(ctx.invalid(
            "server.upgrade_socket",
            "a path of at most 100 bytes (a Unix socket)",
            upgrade_socket.display(),
        ));
    }

    let errors = ctx.errors.take();
    let (
        false,
        Some(listeners),
        Some(connections),
        Some(upstream),
        Some(identity),
        Some(state),
        Some(default_policy),
    ) = (
        !errors.is_empty(),
        listeners,
        connections,
        upstream,
        identity,
        state,
        default_policy,
    )
    else {
        return Err(ConfigError::all(errors));
    };

    let mut files = vec![ctx.file.clone()];
    files.extend(ctx.read.take());
    files.extend(geo.as_ref().map(|g| g.path.clone()));
    files.dedup();
    Ok(Config {
        source: ctx.file.clone(),
        digest: String::new(),
        files,
        listen: listeners.listen,
        threads,
        grace_period_seconds: raw.server.grace_period_seconds.unwrap_or(5),
        upgrade_socket,
        watch_interval: match raw.server.watch_interval_ms.unwrap_or(1_000) {
            0 => None,
            ms => Some(Duration::from_millis(ms.max(50))),
        },
        max_header_bytes,
        keep_underscore_headers,
        connections,
        upstream,
        client_ip: ClientIpResolver::new(trusted, header),
        metrics_listen: listeners.metrics,
        metrics_tls: listeners.metrics_tls,
        metrics_connections: listeners.metrics_connections,
        tls: listeners.tls,
        admin: listeners.admin,
        decision_log,
        decision_log_rotation,
        routes: RouteTable::new(routes, default_policy),
        policies,
        geoip: geo,
        identity,
        state,
        warnings,
    })
}

fn socket_addr(ctx: &Ctx, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ctx.invalid(key, "host:port (e.g. 127.0.0.1:8080)", format!("{text:?}")))
}

fn ip_rule_list(
    ctx: &Ctx,
    prefix: &str,
    which: &str,
    inline: &[String],
    files: &[PathBuf],
) -> Result<IpList, ConfigError> {
    let mut list = IpList::new();
    read_list(
        ctx,
        prefix,
        which,
        (inline, files),
        "IP address or CIDR",
        |entry| {
            IpList::parse_entry(entry)
                .map(|net| list.insert(net))
                .is_some()
        },
    )?;
    Ok(list)
}

fn compile_policy(
    ctx: &Ctx,
    key: &str,
    name: &str,
    section: &file::PolicySection,
    global_allow: &IpList,
    global_block: &IpList,
) -> Result<Policy, ConfigError> {
    let rules = &section.ip_rules;
    let rules_key = format!("{key}.ip_rules");
    let mut ip_allow = ip_rule_list(ctx, &rules_key, "allow", &rules.allow, &rules.allow_files)?;
    ip_allow.extend(global_allow);
    let mut ip_block = ip_rule_list(ctx, &rules_key, "block", &rules.block, &rules.block_files)?;
    ip_block.extend(global_block);

    let geofence = section
        .geofence
        .as_ref()
        .map(|g| compile_geofence(ctx, &format!("{key}.geofence"), g))
        .transpose()?;

    let rate_limit = section
        .rate_limit
        .as_ref()
        .map(|r| compile_rate_limit(ctx, &format!("{key}.rate_limit"), r, Counted::PerClient))
        .transpose()?;
    let network_rate_limit = section
        .network_rate_limit
        .as_ref()
        .map(|r| {
            compile_rate_limit(
                ctx,
                &format!("{key}.network_rate_limit"),
                r,
                Counted::PerNetwork,
            )
        })
        .transpose()?;

    let mode = ctx.choice(
        format!("{key}.mode"),
        section.mode.as_deref(),
        Mode::Enforce,
        &[("enforce", Mode::Enforce), ("shadow", Mode::Shadow)],
    )?;
    let on_store_error = ctx.choice(
        format!("{key}.on_store_error"),
        section.on_store_error.as_deref(),
        OnStoreError::Closed,
        &[
            ("closed", OnStoreError::Closed),
            ("open", OnStoreError::Open),
        ],
    )?;

    let fraud_blocks = match &section.fraud_blocks {
        None => crate::core::policy::DEFAULT_FRAUD_BLOCKS.to_vec(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, fact)| {
                KeyKind::parse(fact)
                    .filter(|k| *k != KeyKind::Ip)
                    .ok_or_else(|| {
                        ctx.invalid(
                            format!("{key}.fraud_blocks[{i}]"),
                            "dni, email, phone, account or device (addresses go in ip_rules)",
                            format!("{fact:?}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };

    Ok(Policy {
        name: Arc::from(name),
        ip_allow,
        ip_block,
        geofence,
        rate_limit,
        network_rate_limit,
        identity: identity::identity_rules(ctx, key, section)?,
        webhook: None,
        mode,
        on_store_error,
        fraud_blocks,
    })
}

fn compile_geofence(
    ctx: &Ctx,
    key: &str,
    g: &file::GeofenceSection,
) -> Result<Geofence, ConfigError> {
    let codes = |field: &str, list: &[String]| {
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                CountryCode::parse_config(c).ok_or_else(|| {
                    ctx.invalid(
                        format!("{key}.{field}[{i}]"),
                        "an ISO 3166-1 alpha-2 country code such as \"PE\"",
                        format!("{c:?}"),
                    )
                })
            })
            .collect::<Result<HashSet<_>, _>>()
    };
    let unknown = |default| {
        ctx.choice(
            format!("{key}.unknown"),
            g.unknown.as_deref(),
            default,
            &[
                ("allow", UnknownCountry::Allow),
                ("deny", UnknownCountry::Deny),
            ],
        )
    };
    match (&g.allow_countries, &g.block_countries) {
        (Some(allow), None) if !allow.is_empty() => Ok(Geofence::AllowOnly {
            countries: codes("allow_countries", allow)?,
            unknown: unknown(UnknownCountry::Deny)?,
        }),
        (None, Some(block)) if !block.is_empty() => Ok(Geofence::Block {
            countries: codes("block_countries", block)?,
            unknown: unknown(UnknownCountry::Allow)?,
        }),
        _ => Err(ctx.invalid(
            key,
            "exactly one non-empty list: allow_countries or block_countries",
            "neither or both",
        )),
    }
}

fn state_settings(ctx: &Ctx, section: &file::StateSection) -> Result<StateSettings, ConfigError> {
    let backend = ctx.choice(
        "state.backend",
        section.backend.as_deref(),
        "embedded",
        &[
            ("embedded", "embedded"),
            ("redis", "redis"),
            ("memory", "memory"),
        ],
    )?;
    if backend != "redis" {
        for (name, set) in [
            ("url_env", section.url_env.is_some()),
            ("key_prefix", section.key_prefix.is_some()),
        ] {
            if set {
                return Err(ctx.invalid(
                    format!("state.{name}"),
                    "no Redis setting unless backend = \"redis\"",
                    name,
                ));
            }
        }
    }
    let backend = match backend {
        "redis" => {
            if section.path.is_some() {
                return Err(ctx.invalid(
                    "state.path",
                    "no path with backend = \"redis\"",
                    "a path",
                ));
            }
            let url_env = section
                .url_env
                .clone()
                .unwrap_or_else(|| "GARITA_REDIS_URL".to_string());
            let url = std::env::var(&url_env).unwrap_or_default();
            if !["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
            {
                return Err(ctx.invalid(
                    "state.url_env",
                    &format!("the environment variable {url_env} to hold a redis://, rediss:// or redis+unix:// URL"),
                    if url.is_empty() { "it unset" } else { "something else" },
                ));
            }
            let prefix = section
                .key_prefix
                .clone()
                .unwrap_or_else(|| "garita".into());
            if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.len() > 64 {
                return Err(ctx.invalid(
                    "state.key_prefix",
                    "1 to 64 characters without braces",
                    format!("{prefix:?}"),
                ));
            }
            let tls_ca = match &section.tls_ca_file {
                None => None,
                Some(_) if !url.starts_with("rediss://") => {
                    return Err(ctx.invalid(
                        "state.tls_ca_file",
                        "a rediss:// URL (TLS) in the environment variable state.url_env names",
                        "another scheme",
                    ))
                }
                Some(file) => Some(trusted_ca(ctx, "state.tls_ca_file", file)?),
            };
            StoreBackend::Redis {
                url_env,
                url,
                prefix,
                tls_ca,
            }
        }
        "memory" => {
            if section.path.is_some() {
                return Err(ctx.invalid(
                    "state.path",
                    "no path with backend = \"memory\"",
                    "a path",
                ));
            }
            StoreBackend::Memory
        }
        _ => {
            let path = ctx.resolve(
                section
                    .path
                    .as_deref()
                    .unwrap_or(Path::new("garita-state.redb")),
            );
            if !path
                .parent()
                .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir())
            {
                return Err(ctx.invalid(
                    "state.path",
                    "a file in an existing directory",
                    path.display(),
                ));
            }
            StoreBackend::Embedded { path }
        }
    };
    let timeout_ms = section.timeout_ms.unwrap_or(100);
    if timeout_ms == 0 {
        return Err(ctx.invalid("state.timeout_ms", "a number of milliseconds >= 1", 0));
    }
    let flush_ms = section.flush_interval_ms.unwrap_or(1000);
    if !(10..=60_000).contains(&flush_ms) {
        return Err(ctx.invalid(
            "state.flush_interval_ms",
            "a number of milliseconds from 10 to 60000",
            flush_ms,
        ));
    }
    Ok(StateSettings {
        backend,
        timeout: Duration::from_millis(timeout_ms),
        flush_interval: Duration::from_millis(flush_ms),
    })
}

/// `[server]`'s limits on slow and numerous clients.
/// A listener's connection limits as the file gives them.
pub(super) struct LimitFields {
    pub header_timeout_seconds: Option<u64>,
    pub keepalive_timeout_seconds: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
}

/// The proxy's defaults: NGINX-like timeouts, room for a busy shop.
const PROXY_LIMITS: (u64, u64, usize, usize) = (10, 60, 10_000, 100);
/// The admin and metrics listeners' defaults: a few operators and one scraper.
pub(super) const SMALL_LISTENER_LIMITS: (u64, u64, usize, usize) = (10, 30, 64, 16);

fn connection_settings(
    ctx: &Ctx,
    server: &file::ServerSection,
) -> Result<ConnectionSettings, ConfigError> {
    connection_limits(
        ctx,
        "server",
        LimitFields {
            header_timeout_seconds: server.header_timeout_seconds,
            keepalive_timeout_seconds: server.keepalive_timeout_seconds,
            max_connections: server.max_connections,
            max_connections_per_address: server.max_connections_per_address,
        },
        PROXY_LIMITS,
    )
}

/// The limits of the listener whose table is `prefix`, with `defaults` (header timeout,
/// keep-alive, connections, connections per address) for what the file leaves out.
pub(super) fn connection_limits(
    ctx: &Ctx,
    prefix: &str,
    fields: LimitFields,
    (header_default, keepalive_default, max_default, per_address_default): (u64, u64, usize, usize),
) -> Result<ConnectionSettings, ConfigError> {
    let header_timeout = fields.header_timeout_seconds.unwrap_or(header_default);
    if !(1..=3600).contains(&header_timeout) {
        return Err(ctx.invalid(
            format!("{prefix}.header_timeout_seconds"),
            "between 1 and 3600 seconds",
            header_timeout,
        ));
    }
    let keepalive = fields
        .keepalive_timeout_seconds
        .unwrap_or(keepalive_default);
    if keepalive > 3600 {
        return Err(ctx.invalid(
            format!("{prefix}.keepalive_timeout_seconds"),
            "at most 3600 seconds (0 turns keep-alive off)",
            keepalive,
        ));
    }
    let at_least_one = |key: &str, value: Option<usize>, default: usize| match value {
        Some(0) => Err(ctx.invalid(format!("{prefix}.{key}"), "at least 1 connection", 0)),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(ConnectionSettings {
        header_timeout: Duration::from_secs(header_timeout),
        keepalive_timeout_seconds: (keepalive > 0).then_some(keepalive),
        max_connections: at_least_one("max_connections", fields.max_connections, max_default)?,
        max_connections_per_address: at_least_one(
            "max_connections_per_address",
            fields.max_connections_per_address,
            per_address_default,
        )?,
    })
}
