//! Compiling the identity parts of the file: `[identity]` and each policy's `facts`,
//! `block`, `limits` and `bindings`.

use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::{compile_rate_limit, parse_duration, read_list, Counted, Ctx};
use crate::config::IdentitySettings;
use crate::core::calendar::{Calendar, Period};
use crate::core::decision::Action;
use crate::core::identity::key_list::KeyList;
use crate::core::money::Currency;
use crate::core::request::facts::{FactSelectors, KeyKind};
use crate::core::request::selector::Selector;
use crate::core::rules::bindings::BindingRule;
use crate::core::rules::identity::{IdentityRules, OnProblem};
use crate::core::rules::lists::KeyBlock;
use crate::core::rules::quotas::{KeyLimit, Quota};
use crate::core::rules::risk::time::Hours;
use std::path::PathBuf;

/// Pingora replays at most this much of a buffered body to the upstream.
pub const MAX_BODY_LIMIT: usize = 64 * 1024;
const DEFAULT_MAX_BODY: usize = 16 * 1024;

pub(super) fn identity_settings(
    ctx: &Ctx,
    section: &file::IdentitySection,
) -> Result<IdentitySettings, ConfigError> {
    let tz = section.time_zone.as_deref().unwrap_or("America/Lima");
    let calendar = Calendar::new(tz).ok_or_else(|| {
        ctx.invalid(
            "identity.time_zone",
            "an IANA time zone such as \"America/Lima\"",
            format!("{tz:?}"),
        )
    })?;
    let hasher = match &section.hash_key_env {
        Some(var) => {
            let secret = std::env::var(var).unwrap_or_default();
            if secret.len() < 16 {
                return Err(ctx.invalid(
                    "identity.hash_key_env",
                    &format!(
                        "the environment variable {var} to hold a secret of at least 16 bytes"
                    ),
                    if secret.is_empty() {
                        "it unset or empty".to_string()
                    } else {
                        format!("{} bytes", secret.len())
                    },
                ));
            }
            Some(secret.into_bytes())
        }
        None => None,
    };
    let business_hours = match &section.business_hours {
        Some(text) => Some(Hours::parse(text).ok_or_else(|| {
            ctx.invalid(
                "identity.business_hours",
                "local opening hours as \"HH:MM-HH:MM\" (\"08:00-22:00\")",
                format!("{text:?}"),
            )
        })?),
        None => None,
    };
    Ok(IdentitySettings {
        calendar,
        hash_key: hasher,
        hash_key_env: section.hash_key_env.clone(),
        business_hours,
    })
}

fn action(ctx: &Ctx, key: &str, text: Option<&str>) -> Result<Action, ConfigError> {
    ctx.choice(
        key,
        text,
        Action::Deny,
        &[("deny", Action::Deny), ("review", Action::Review)],
    )
}

fn on_problem(ctx: &Ctx, key: &str, text: Option<&str>) -> Result<OnProblem, ConfigError> {
    ctx.choice(
        key,
        text,
        OnProblem::Reject,
        &[
            ("reject", OnProblem::Reject),
            ("review", OnProblem::Review),
            ("ignore", OnProblem::Ignore),
        ],
    )
}

fn fact_kind(ctx: &Ctx, key: &str, text: &str) -> Result<KeyKind, ConfigError> {
    KeyKind::parse(text).ok_or_else(|| {
        ctx.invalid(
            key,
            "one of \"dni\", \"email\", \"phone\", \"account\", \"device\", \"ip\"",
            format!("{text:?}"),
        )
    })
}

fn selectors(ctx: &Ctx, key: &str, f: &file::FactsSection) -> Result<FactSelectors, ConfigError> {
    let sel = |name: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| {
                Selector::parse(t)
                    .map_err(|why| ctx.invalid(format!("{key}.{name}"), why, format!("{t:?}")))
            })
            .transpose()
    };
    Ok(FactSelectors {
        dni: sel("dni", &f.dni)?,
        dni_type: sel("dni_type", &f.dni_type)?,
        email: sel("email", &f.email)?,
        phone: sel("phone", &f.phone)?,
        account: sel("account", &f.account)?,
        device: sel("device", &f.device)?,
        amount: sel("amount", &f.amount)?,
        currency: sel("currency", &f.currency)?,
        default_currency: f
            .default_currency
            .as_deref()
            .map(|t| {
                Currency::parse(t).ok_or_else(|| {
                    ctx.invalid(
                        format!("{key}.default_currency"),
                        "a three-letter currency code such as \"PEN\"",
                        format!("{t:?}"),
                    )
                })
            })
            .transpose()?,
        billing_country: sel("billing_country", &f.billing_country)?,
        order: sel("order", &f.order)?,
        code_expiry: None,
        fold_gmail: f.fold_gmail,
        query_may_name_body_fields: f.allow_body_fields_in_query,
    })
}

pub(super) fn has_selector(s: &FactSelectors, kind: KeyKind) -> bool {
    match kind {
        KeyKind::Dni => s.dni.is_some(),
        KeyKind::Email => s.email.is_some(),
        KeyKind::Phone => s.phone.is_some(),
        KeyKind::Account => s.account.is_some(),
        KeyKind::Device => s.device.is_some(),
        KeyKind::Ip => true,
    }
}

/// A policy's identity rules; `None` when it has none.
pub(super) fn identity_rules(
    ctx: &Ctx,
    key: &str,
    p: &file::PolicySection,
) -> Result<Option<IdentityRules>, ConfigError> {
    let b = &p.block;
    let lists: [(KeyKind, &Vec<String>, &Vec<PathBuf>); 5] = [
        (KeyKind::Dni, &b.dni, &b.dni_files),
        (KeyKind::Email, &b.email, &b.email_files),
        (KeyKind::Phone, &b.phone, &b.phone_files),
        (KeyKind::Account, &b.account, &b.account_files),
        (KeyKind::Device, &b.device, &b.device_files),
    ];
    let any_list = lists
        .iter()
        .any(|(_, inline, files)| !inline.is_empty() || !files.is_empty());
    if p.facts.is_none()
        && !any_list
        && p.limits.is_empty()
        && p.bindings.is_empty()
        && p.risk.is_empty()
        && p.score.is_none()
    {
        return Ok(None);
    }
    let facts_key = format!("{key}.facts");
    let empty = file::FactsSection::default();
    let f = p.facts.as_ref().unwrap_or(&empty);
    let mut selectors = selectors(ctx, &facts_key, f)?;
    if let Some(expires) = p.payment_codes.as_ref().and_then(|c| c.expires.as_deref()) {
        selectors.code_expiry = Some(Selector::parse(expires).map_err(|why| {
            ctx.invalid(
                format!("{key}.payment_codes.expires"),
                why,
                format!("{expires:?}"),
            )
        })?);
    }
    let body_kind = selectors
        .body_kind()
        .map_err(|why| ctx.invalid(&facts_key, why, "json: and form: selectors mixed"))?;
    let max_body = f.max_body.unwrap_or(DEFAULT_MAX_BODY);
    if max_body == 0 || max_body > MAX_BODY_LIMIT {
        return Err(ctx.invalid(
            format!("{facts_key}.max_body"),
            "a size from 1 to 65536 bytes (Pingora replays at most 64 KiB)",
            max_body,
        ));
    }
    let need = |kind: KeyKind, at: String| {
        if has_selector(&selectors, kind) {
            Ok(())
        } else {
            Err(ctx.invalid(
                at,
                &format!("a selector for {} in [{facts_key}]", kind.as_str()),
                "none",
            ))
        }
    };

    let fold = selectors.fold_gmail;
    let mut blocks = Vec::new();
    for (kind, inline, files) in lists {
        if inline.is_empty() && files.is_empty() {
            continue;
        }
        let name = kind.as_str();
        need(kind, format!("{key}.block.{name}"))?;
        let mut list = KeyList::default();
        read_list(
            ctx,
            &format!("{key}.block"),
            name,
            (inline, files),
            &format!("valid {name} or SHA-256 digest in hex"),
            |entry| list.add(kind, entry, fold),
        )?;
        blocks.push(KeyBlock { kind, list });
    }

    let mut limits = Vec::new();
    for (i, l) in p.limits.iter().enumerate() {
        let at = format!("{key}.limits[{i}]");
        let kind = fact_kind(ctx, &format!("{at}.fact"), &l.fact)?;
        need(kind, format!("{at}.fact"))?;
        let burst = l
            .rate
            .as_ref()
            .map(|r| compile_rate_limit(ctx, &format!("{at}.rate"), r, Counted::PerClient))
            .transpose()?;
        let mut quotas = Vec::new();
        for (period, value, name) in [
            (Period::Hour, l.per_hour, "per_hour"),
            (Period::Day, l.per_day, "per_day"),
        ] {
            match value {
                Some(0) => return Err(ctx.invalid(format!("{at}.{name}"), "a number >= 1", 0)),
                Some(limit) => quotas.push(Quota { period, limit }),
                None => {}
            }
        }
        if burst.is_none() && quotas.is_empty() {
            return Err(ctx.invalid(&at, "at least one of rate, per_hour, per_day", "none"));
        }
        limits.push(KeyLimit {
            kind,
            burst,
            quotas,
            action: action(ctx, &format!("{at}.action"), l.action.as_deref())?,
        });
    }

    let mut bindings = Vec::new();
    for (i, b) in p.bindings.iter().enumerate() {
        let at = format!("{key}.bindings[{i}]");
        let from = fact_kind(ctx, &format!("{at}.fact"), &b.fact)?;
        let to = fact_kind(ctx, &format!("{at}.to"), &b.to)?;
        need(from, format!("{at}.fact"))?;
        need(to, format!("{at}.to"))?;
        if from == to {
            return Err(ctx.invalid(
                format!("{at}.to"),
                "a fact other than the bound one",
                format!("{:?}", b.to),
            ));
        }
        if b.max == 0 {
            return Err(ctx.invalid(format!("{at}.max"), "a number >= 1", 0));
        }
        let window = match b.window.as_str() {
            "forever" => None,
            w => Some(parse_duration(w).ok_or_else(|| {
                ctx.invalid(
                    format!("{at}.window"),
                    "a duration such as \"30d\", or \"forever\"",
                    format!("{w:?}"),
                )
            })?),
        };
        bindings.push(BindingRule {
            from,
            to,
            max: b.max,
            window,
            action: action(ctx, &format!("{at}.action"), b.action.as_deref())?,
        });
    }

    let risk = super::risk::risk_rules(ctx, key, p, &selectors)?;
    // Counted by default where reviews come from scores, and an amount is read.
    let order_history = p
        .order_history
        .unwrap_or(risk.is_some() && selectors.amount.is_some());
    Ok(Some(IdentityRules {
        order_history,
        risk,
        body_kind,
        max_body,
        body_timeout: std::time::Duration::from_secs(f.body_timeout_seconds.unwrap_or(10).max(1)),
        on_missing_document: on_problem(
            ctx,
            &format!("{facts_key}.on_missing_document"),
            f.on_missing_document.as_deref(),
        )?,
        on_invalid_document: on_problem(
            ctx,
            &format!("{facts_key}.on_invalid_document"),
            f.on_invalid_document.as_deref(),
        )?,
        on_invalid_fact: on_problem(
            ctx,
            &format!("{facts_key}.on_invalid"),
            f.on_invalid.as_deref(),
        )?,
        selectors,
        blocks,
        block_action: action(
            ctx,
            &format!("{key}.block.action"),
            p.block.action.as_deref(),
        )?,
        limits,
        bindings,
    }))
}
