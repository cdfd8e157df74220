//! `[server]`: threads, header limits, what is done with headers named with `_`, the
//! listeners' slow-client limits, graceful stops and upgrades, the config watcher. Also
//! the connection limits every listener table shares (`[admin]` and `[metrics]` have
//! their own, smaller defaults).

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use super::super::ConnectionSettings;
use std::path::PathBuf;
use std::time::Duration;

/// A client connection's read buffer: a TLS record (16 KiB) fits whole, a payment's head
/// and body usually in one read; Pingora's 64 KiB would hold 48 KiB more per connection.
const DEFAULT_READ_BUFFER_KIB: usize = 16;

/// `[server]`, compiled (its listeners are [`super::listeners`]').
pub(super) struct ServerSettings {
    pub threads: usize,
    pub max_header_bytes: usize,
    pub keep_underscore_headers: bool,
    pub read_buffer_bytes: usize,
    pub connections: ConnectionSettings,
    pub grace_period_seconds: u64,
    pub upgrade_socket: PathBuf,
    pub watch_interval: Option<Duration>,
}

pub(super) fn server(
    ctx: &Ctx,
    server: &file::ServerSection,
) -> Result<ServerSettings, ConfigError> {
    // Independent keys are reported each, so that `check` names every mistake at once.
    let threads = match server.threads {
        Some(0) => {
            ctx.report(ctx.invalid("server.threads", "a number of threads >= 1", 0));
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let max_header_bytes = server
        .max_header_bytes
        .unwrap_or(crate::core::request::framing::DEFAULT_MAX_HEADER_BYTES);
    if max_header_bytes < 1024 {
        ctx.report(ctx.invalid(
            "server.max_header_bytes",
            "at least 1024 bytes",
            max_header_bytes,
        ));
    }
    let keep_underscore_headers = ctx
        .keep(ctx.choice(
            "server.underscores_in_headers",
            server.underscores_in_headers.as_deref(),
            false,
            &[("drop", false), ("keep", true)],
        ))
        .unwrap_or(false);
    let read_buffer_kib = server.read_buffer_kib.unwrap_or(DEFAULT_READ_BUFFER_KIB);
    if read_buffer_kib > 1024 {
        ctx.report(ctx.invalid(
            "server.read_buffer_kib",
            "at most 1024 KiB (0: no read buffer)",
            read_buffer_kib,
        ));
    }
    let upgrade_socket = server.upgrade_socket.as_ref().map_or_else(
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
    Ok(ServerSettings {
        threads,
        max_header_bytes,
        keep_underscore_headers,
        read_buffer_bytes: read_buffer_kib.min(1024) * 1024,
        connections: connection_settings(ctx, server)?,
        grace_period_seconds: server.grace_period_seconds.unwrap_or(5),
        upgrade_socket,
        watch_interval: match server.watch_interval_ms.unwrap_or(1_000) {
            0 => None,
            ms => Some(Duration::from_millis(ms.max(50))),
        },
    })
}

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
