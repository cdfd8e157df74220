//! Compiling `[admin]`: the admin listener and its named bearer tokens.

use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::{load_secret, Ctx};
use crate::config::{AdminSettings, AdminToken, Role};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;

/// Tokens shorter than this are refused: they guard the review queue and the block list.
const MIN_TOKEN_BYTES: usize = 16;

pub(super) fn admin_settings(
    ctx: &Ctx,
    section: &file::AdminSection,
    listen: SocketAddr,
) -> Result<AdminSettings, ConfigError> {
    if section.tokens.is_empty() {
        return Err(ctx.invalid("admin.tokens", "at least one token", "[]"));
    }
    let mut tokens: Vec<AdminToken> = Vec::new();
    for (i, t) in section.tokens.iter().enumerate() {
        let at = format!("admin.tokens[{i}]");
        let name_ok = !t.name.is_empty()
            && t.name.len() <= 64
            && t.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
        if !name_ok || tokens.iter().any(|other| *other.name == *t.name) {
            return Err(ctx.invalid(
                format!("{at}.name"),
                "a name of its own: letters, digits, '_', '-', '.', '@'",
                format!("{:?}", t.name),
            ));
        }
        let source = file::SecretSource {
            env: t.env.clone(),
            file: t.file.clone(),
            value: t.value.clone(),
        };
        let secret = load_secret(ctx, &at, &source)?;
        if secret.len() < MIN_TOKEN_BYTES {
            return Err(ctx.invalid(
                &at,
                "a token of at least 16 bytes",
                format!("{} bytes", secret.len()),
            ));
        }
        let role = ctx.choice(
            format!("{at}.role"),
            t.role.as_deref(),
            Role::Admin,
            &[
                ("admin", Role::Admin),
                ("reviewer", Role::Reviewer),
                ("viewer", Role::Viewer),
            ],
        )?;
        tokens.push(AdminToken {
            name: Arc::from(t.name.as_str()),
            role,
            digest: Sha256::digest(secret.as_bytes()).into(),
        });
    }
    Ok(AdminSettings {
        listen,
        tokens,
        tls: None,
        connections: super::server::connection_limits(
            ctx,
            "admin",
            super::server::LimitFields {
                header_timeout_seconds: section.header_timeout_seconds,
                keepalive_timeout_seconds: section.keepalive_timeout_seconds,
                max_connections: section.max_connections,
                max_connections_per_address: section.max_connections_per_address,
            },
            super::server::SMALL_LISTENER_LIMITS,
        )?,
    })
}
