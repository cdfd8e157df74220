//! Compiling `[upstream]`: the shop's backends, how long garita waits for them, how their
//! health is checked, and whether garita speaks TLS to them.

use super::socket_addr;
use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::{trusted_ca, Ctx};
use crate::config::{HealthCheckSettings, UpstreamSettings, UpstreamTls};
use std::time::Duration;

pub(super) fn upstream_settings(
    ctx: &Ctx,
    section: &file::UpstreamSection,
) -> Result<UpstreamSettings, ConfigError> {
    if section.addresses.is_empty() {
        return Err(ctx.invalid("upstream.addresses", "at least one host:port", "[]"));
    }
    let addresses = section
        .addresses
        .iter()
        .enumerate()
        .map(|(i, a)| socket_addr(ctx, &format!("upstream.addresses[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut unique = addresses.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != addresses.len() {
        return Err(ctx.invalid(
            "upstream.addresses",
            "each address once",
            "an address listed twice",
        ));
    }
    let ms = |key: &str, value: Option<u64>, default: u64| -> Result<Duration, ConfigError> {
        match value.unwrap_or(default) {
            0 => Err(ctx.invalid(key, "a whole number of milliseconds > 0", 0)),
            ms => Ok(Duration::from_millis(ms)),
        }
    };
    let connect_timeout = ms(
        "upstream.connect_timeout_ms",
        section.connect_timeout_ms,
        2_000,
    )?;
    let read_timeout = ms("upstream.read_timeout_ms", section.read_timeout_ms, 30_000)?;
    let total_timeout = ms(
        "upstream.total_timeout_ms",
        section.total_timeout_ms,
        60_000,
    )?;
    if total_timeout < read_timeout {
        return Err(ctx.invalid(
            "upstream.total_timeout_ms",
            "at least upstream.read_timeout_ms",
            total_timeout.as_millis(),
        ));
    }

    let check = &section.health_check;
    let threshold = |key: &str, value: Option<u32>, default: u32| match value.unwrap_or(default) {
        0 => Err(ctx.invalid(key, "a whole number >= 1", 0)),
        n => Ok(n),
    };
    if let Some(path) = &check.path {
        if !path.starts_with('/') || path.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20) {
            return Err(ctx.invalid(
                "upstream.health_check.path",
                "a path starting with / and without spaces",
                format!("{path:?}"),
            ));
        }
    }
    let health = HealthCheckSettings {
        interval: ms(
            "upstream.health_check.interval_ms",
            check.interval_ms,
            5_000,
        )?,
        timeout: ms("upstream.health_check.timeout_ms", check.timeout_ms, 1_000)?,
        path: check.path.clone(),
        host: check.host.clone(),
        healthy_threshold: threshold(
            "upstream.health_check.healthy_threshold",
            check.healthy_threshold,
            2,
        )?,
        unhealthy_threshold: threshold(
            "upstream.health_check.unhealthy_threshold",
            check.unhealthy_threshold,
            3,
        )?,
    };
    let tls = match &section.tls {
        None => None,
        Some(tls) => {
            if tls.server_name.is_empty() {
                return Err(ctx.invalid(
                    "upstream.tls.server_name",
                    "the name on the backend's certificate",
                    "\"\"",
                ));
            }
            Some(UpstreamTls {
                server_name: tls.server_name.clone(),
                ca: tls
                    .ca_file
                    .as_ref()
                    .map(|f| trusted_ca(ctx, "upstream.tls.ca_file", f))
                    .transpose()?,
            })
        }
    };
    Ok(UpstreamSettings {
        addresses,
        connect_timeout,
        read_timeout,
        total_timeout,
        max_fails: section.max_fails.unwrap_or(3),
        health,
        tls,
    })
}
