//! `[state]`: which store holds the identity state (embedded file, Redis, or memory for
//! tests), how long a request waits for it, and how often the embedded one writes back.

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::{trusted_ca, Ctx};
use super::super::{StateSettings, StoreBackend};
use std::path::Path;
use std::time::Duration;

pub(super) fn state_settings(
    ctx: &Ctx,
    section: &file::StateSection,
) -> Result<StateSettings, ConfigError> {
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
