//! `[review_events]`: the shop's URL that hears every review's resolution, signed the
//! Standard Webhooks way with a secret of its own (never a webhook route's).

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::{load_secret, Ctx};
use super::super::ReviewEvents;
use super::socket_addr;
use crate::core::webhook::{Profile, SecretError};
use std::time::Duration;

pub(super) fn review_events(
    ctx: &Ctx,
    section: Option<&file::ReviewEventsSection>,
) -> Result<Option<ReviewEvents>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let bad_url = || {
        ctx.invalid(
            "review_events.url",
            "an http:// or https:// URL with a host and a path",
            format!("{:?}", section.url),
        )
    };
    let uri: http::Uri = section.url.parse().map_err(|_| bad_url())?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad_url()),
    };
    let authority = uri.authority().ok_or_else(bad_url)?;
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addr = socket_addr(
        ctx,
        "review_events.url",
        &format!("{}:{port}", authority.host()),
    )?;
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let secret = load_secret(ctx, "review_events.secret", &section.secret)?;
    let key = Profile::StandardWebhooks
        .key_from_secret(&secret)
        .map_err(|why| match why {
            SecretError::TooShort(n) => ctx.invalid(
                "review_events.secret",
                "at least 16 bytes of key material (whsec_ and base64)",
                format!("{n} bytes"),
            ),
            other => ctx.invalid(
                "review_events.secret",
                "a Standard Webhooks secret (whsec_ and base64)",
                other,
            ),
        })?;
    let timeout_ms = section.timeout_ms.unwrap_or(5_000);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ctx.invalid(
            "review_events.timeout_ms",
            "from 100 to 60000 milliseconds",
            timeout_ms,
        ));
    }
    Ok(Some(ReviewEvents {
        url: section.url.clone(),
        addr,
        tls,
        host: host.to_string(),
        path,
        key,
        timeout: Duration::from_millis(timeout_ms),
    }))
}
