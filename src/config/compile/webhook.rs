//! Compiling a policy's `webhook` table: the profile, its secrets, replay settings.
//!
//! Secrets are read from the environment or from files when the config is compiled, so
//! `garita check` fails when one cannot be loaded. A secret written in the file itself is
//! accepted for demos, with a warning. No error message ever contains a secret.

use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::{load_secret, parse_duration, read_list, Ctx};
use crate::core::net::ip_list::IpList;
use crate::core::request::selector::Selector;
use crate::core::webhook::{
    Algorithm, Encoding, GenericHmac, OnDuplicate, Profile, SecretError, WebhookRule,
    MIN_SECRET_BYTES,
};
use std::time::Duration;

fn header(ctx: &Ctx, key: &str, text: &str) -> Result<http::HeaderName, ConfigError> {
    http::HeaderName::from_bytes(text.as_bytes())
        .map_err(|_| ctx.invalid(key, "an HTTP header name", format!("{text:?}")))
}

fn profile(ctx: &Ctx, key: &str, w: &file::WebhookSection) -> Result<Profile, ConfigError> {
    if w.profile != "hmac" {
        let generic = [
            &w.header,
            &w.algorithm,
            &w.encoding,
            &w.prefix,
            &w.template,
            &w.timestamp_header,
        ];
        if generic.iter().any(|o| o.is_some()) {
            return Err(ctx.invalid(
                key,
                "header/algorithm/encoding/prefix/template/timestamp_header only with profile = \"hmac\"",
                format!("profile = {:?}", w.profile),
            ));
        }
        return Profile::named(&w.profile).ok_or_else(|| {
            ctx.invalid(
                format!("{key}.profile"),
                "pagoefectivo, stripe, standard-webhooks, checkout, dlocal, mercadopago or hmac",
                format!("{:?}", w.profile),
            )
        });
    }
    let name = w.header.as_deref().ok_or_else(|| {
        ctx.invalid(
            format!("{key}.header"),
            "the signature header's name",
            "none",
        )
    })?;
    let algorithm = ctx.choice(
        format!("{key}.algorithm"),
        w.algorithm.as_deref(),
        Algorithm::Sha256,
        &[("sha256", Algorithm::Sha256), ("sha512", Algorithm::Sha512)],
    )?;
    let encoding = ctx.choice(
        format!("{key}.encoding"),
        w.encoding.as_deref(),
        Encoding::Hex,
        &[("hex", Encoding::Hex), ("base64", Encoding::Base64)],
    )?;
    let template = w.template.clone().unwrap_or_else(|| "{body}".into());
    if template.matches("{body}").count() != 1 {
        return Err(ctx.invalid(
            format!("{key}.template"),
            "a template with {body} exactly once",
            format!("{template:?}"),
        ));
    }
    let timestamp_header = w
        .timestamp_header
        .as_deref()
        .map(|t| header(ctx, &format!("{key}.timestamp_header"), t))
        .transpose()?;
    if template.contains("{timestamp}") && timestamp_header.is_none() {
        return Err(ctx.invalid(
            format!("{key}.timestamp_header"),
            "a header for {timestamp} in the template",
            "none",
        ));
    }
    Ok(Profile::Hmac(GenericHmac {
        header: header(ctx, &format!("{key}.header"), name)?,
        algorithm,
        encoding,
        prefix: w.prefix.clone().unwrap_or_default(),
        template,
        timestamp_header,
    }))
}

pub(super) fn webhook_rule(
    ctx: &Ctx,
    key: &str,
    w: &file::WebhookSection,
) -> Result<WebhookRule, ConfigError> {
    let profile = profile(ctx, key, w)?;
    if w.secrets.is_empty() {
        return Err(ctx.invalid(format!("{key}.secrets"), "at least one secret", "[]"));
    }
    let mut keys = Vec::new();
    for (i, source) in w.secrets.iter().enumerate() {
        let at = format!("{key}.secrets[{i}]");
        let secret = load_secret(ctx, &at, source)?;
        keys.push(profile.key_from_secret(&secret).map_err(|why| match why {
            SecretError::TooShort(n) => ctx.invalid(
                &at,
                &format!("a secret of at least {MIN_SECRET_BYTES} bytes (after decoding)"),
                format!("{n} bytes (value not shown)"),
            ),
            SecretError::Malformed(why) => {
                ctx.invalid(&at, why, "a secret that is not (value not shown)")
            }
        })?);
    }

    let replay_key = match &w.replay_key {
        Some(list) if list.is_empty() => {
            return Err(ctx.invalid(format!("{key}.replay_key"), "at least one selector", "[]"))
        }
        Some(list) => vec![list
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Selector::parse(t).map_err(|why| {
                    ctx.invalid(format!("{key}.replay_key[{i}]"), why, format!("{t:?}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?],
        None => WebhookRule::default_replay_key(&profile),
    };
    if replay_key.is_empty() && !WebhookRule::profile_has_event_id(&profile) {
        return Err(ctx.invalid(
            format!("{key}.replay_key"),
            "selectors naming each event (the scheme has no event id), e.g. [\"json:/id\"]",
            "none",
        ));
    }
    let replay_window = match &w.replay_window {
        None => Duration::from_secs(30 * 86_400),
        Some(t) => parse_duration(t).ok_or_else(|| {
            ctx.invalid(
                format!("{key}.replay_window"),
                "a duration such as \"30d\"",
                format!("{t:?}"),
            )
        })?,
    };
    let on_duplicate = ctx.choice(
        format!("{key}.on_duplicate"),
        w.on_duplicate.as_deref(),
        OnDuplicate::Ack,
        &[("ack", OnDuplicate::Ack), ("forward", OnDuplicate::Forward)],
    )?;
    let sources = match &w.source_ips {
        None if w.source_ips_files.is_empty() => None,
        inline => {
            let mut list = IpList::new();
            let inline = inline.as_deref().unwrap_or(&[]);
            read_list(
                ctx,
                key,
                "source_ips",
                (inline, &w.source_ips_files),
                "IP address or CIDR",
                |e| IpList::parse_entry(e).map(|n| list.insert(n)).is_some(),
            )?;
            Some(list)
        }
    };
    let max_body = w.max_body.unwrap_or(crate::config::MAX_BODY_LIMIT);
    if max_body == 0 || max_body > crate::config::MAX_BODY_LIMIT {
        return Err(ctx.invalid(
            format!("{key}.max_body"),
            "a size from 1 to 65536 bytes",
            max_body,
        ));
    }
    Ok(WebhookRule {
        profile,
        keys,
        tolerance: i64::from(w.tolerance_seconds.unwrap_or(300)),
        replay_window,
        replay_key,
        on_duplicate,
        sources,
        max_body,
        body_timeout: Duration::from_secs(10),
        settles: w
            .settles
            .as_ref()
            .map(|s| super::code_life::settles(ctx, &format!("{key}.settles"), s, &w.profile))
            .transpose()?,
    })
}
