//! Compiling the listeners: `server.listen`, `[server.tls]`, `metrics` and `admin`, each
//! address checked against every other (two listeners on one address would leave one
//! unbound, or `/metrics` proxied to the backend), with their TLS settings.

use super::server::{connection_limits, LimitFields, SMALL_LISTENER_LIMITS};
use super::{admin, socket_addr, tls};
use crate::config::error::ConfigError;
use crate::config::file::FileConfig;
use crate::config::shared::Ctx;
use crate::config::{AdminSettings, ConnectionSettings, ProxyTls, TlsIdentity};
use std::net::SocketAddr;

/// Every listener a config asks for.
pub(super) struct Listeners {
    pub listen: Vec<SocketAddr>,
    pub tls: Option<ProxyTls>,
    pub metrics: Option<SocketAddr>,
    pub metrics_tls: Option<TlsIdentity>,
    /// The metrics listener's slow-client limits (defaults when there is none).
    pub metrics_connections: ConnectionSettings,
    pub admin: Option<AdminSettings>,
}

pub(super) fn listeners(ctx: &Ctx, raw: &FileConfig) -> Result<Listeners, ConfigError> {
    if raw.server.listen.is_empty() {
        return Err(ctx.invalid("server.listen", "at least one address", "[]"));
    }
    let listen = raw
        .server
        .listen
        .iter()
        .enumerate()
        .map(|(i, a)| socket_addr(ctx, &format!("server.listen[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, addr) in listen.iter().enumerate() {
        if listen[..i]
            .iter()
            .any(|earlier| listeners_clash(*earlier, *addr))
        {
            return Err(ctx.invalid(
                format!("server.listen[{i}]"),
                "an address no other listener binds",
                addr,
            ));
        }
    }
    let proxy_tls = match &raw.server.tls {
        None => None,
        Some(section) => {
            if section.listen.is_empty() {
                return Err(ctx.invalid("server.tls.listen", "at least one address", "[]"));
            }
            let mut tls_listen = Vec::new();
            for (i, a) in section.listen.iter().enumerate() {
                let key = format!("server.tls.listen[{i}]");
                let addr = socket_addr(ctx, &key, a)?;
                if listen
                    .iter()
                    .chain(&tls_listen)
                    .any(|earlier| listeners_clash(*earlier, addr))
                {
                    return Err(ctx.invalid(key, "an address no other listener binds", addr));
                }
                tls_listen.push(addr);
            }
            Some(ProxyTls {
                listen: tls_listen,
                identity: tls::tls_identity(
                    ctx,
                    "server.tls",
                    &section.cert_file,
                    &section.key_file,
                )?,
                http2: section.http2.unwrap_or(true),
            })
        }
    };
    // Every proxy listener, plain and TLS, for the clash checks of the others.
    let proxy_listeners: Vec<SocketAddr> = listen
        .iter()
        .chain(proxy_tls.iter().flat_map(|t| &t.listen))
        .copied()
        .collect();
    let metrics_listen = raw
        .metrics
        .as_ref()
        .map(|m| socket_addr(ctx, "metrics.listen", &m.listen))
        .transpose()?;
    if let Some(metrics) = metrics_listen {
        // Otherwise one of the two listeners would not bind, or `/metrics` would be
        // proxied to the backend.
        if proxy_listeners
            .iter()
            .any(|proxy| listeners_clash(*proxy, metrics))
        {
            return Err(ctx.invalid(
                "metrics.listen",
                "an address of its own, not one of server.listen's",
                metrics,
            ));
        }
    }

    let admin = match &raw.admin {
        Some(section) => {
            let listen = section
                .listen
                .as_deref()
                .unwrap_or(crate::config::file::DEFAULT_ADMIN_LISTEN);
            let at = socket_addr(ctx, "admin.listen", listen)?;
            let taken = metrics_listen.is_some_and(|m| listeners_clash(m, at));
            if taken
                || proxy_listeners
                    .iter()
                    .any(|proxy| listeners_clash(*proxy, at))
            {
                return Err(ctx.invalid(
                    "admin.listen",
                    "an address of its own, not the proxy's or the metrics'",
                    at,
                ));
            }
            let mut settings = admin::admin_settings(ctx, section, at)?;
            settings.tls = tls::listener_tls(ctx, "admin.tls", section.tls.as_ref())?;
            Some(settings)
        }
        None => None,
    };
    Ok(Listeners {
        listen,
        tls: proxy_tls,
        metrics: metrics_listen,
        metrics_tls: tls::listener_tls(
            ctx,
            "metrics.tls",
            raw.metrics.as_ref().and_then(|m| m.tls.as_ref()),
        )?,
        metrics_connections: {
            let m = raw.metrics.as_ref();
            connection_limits(
                ctx,
                "metrics",
                LimitFields {
                    header_timeout_seconds: m.and_then(|m| m.header_timeout_seconds),
                    keepalive_timeout_seconds: m.and_then(|m| m.keepalive_timeout_seconds),
                    max_connections: m.and_then(|m| m.max_connections),
                    max_connections_per_address: m.and_then(|m| m.max_connections_per_address),
                },
                SMALL_LISTENER_LIMITS,
            )?
        },
        admin,
    })
}

/// Whether two listeners would want the same socket: the same port on the same address, or
/// on a wildcard address that covers the other. Port 0 is a fresh port for each.
fn listeners_clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}
