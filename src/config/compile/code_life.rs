//! Compiling a policy's `payment_codes` table (where the backend's answer names a code it
//! created, how long one lives) and a webhook's `settles` table (where a notification
//! names the code it settles and what its event types mean).

use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::{parse_duration, Ctx};
use crate::core::request::selector::Selector;
use crate::core::rules::code_life::{CodeCapture, CodeEvent, Settles};
use std::time::Duration;

const DEFAULT_MAX_RESPONSE: usize = 16_384;
const MAX_RESPONSE_LIMIT: usize = 65_536;

fn duration(
    ctx: &Ctx,
    key: String,
    text: Option<&str>,
    default: u64,
) -> Result<Duration, ConfigError> {
    match text {
        None => Ok(Duration::from_secs(default)),
        Some(t) => parse_duration(t)
            .filter(|d| d.as_secs() >= 60)
            .ok_or_else(|| ctx.invalid(key, "a duration such as \"7d\"", format!("{t:?}"))),
    }
}

pub(super) fn capture(
    ctx: &Ctx,
    key: &str,
    c: &file::PaymentCodesSection,
    policy: &file::PolicySection,
) -> Result<CodeCapture, ConfigError> {
    let pointer = c
        .code
        .strip_prefix("response_")
        .filter(|t| t.starts_with("json:/"))
        .and_then(|t| Selector::parse(t).ok())
        .ok_or_else(|| {
            ctx.invalid(
                format!("{key}.code"),
                "a JSON pointer into the backend's answer, e.g. \"response_json:/data/cip\"",
                format!("{:?}", c.code),
            )
        })?;
    if policy.facts.is_none() {
        return Err(ctx.invalid(
            key,
            "a policy with facts: a code is kept with the identity keys that created it",
            "no [facts]",
        ));
    }
    let max_response = c.max_response.unwrap_or(DEFAULT_MAX_RESPONSE);
    if max_response == 0 || max_response > MAX_RESPONSE_LIMIT {
        return Err(ctx.invalid(
            format!("{key}.max_response"),
            "from 1 to 65536 bytes",
            max_response,
        ));
    }
    Ok(CodeCapture {
        code: pointer,
        max_response,
        life: duration(ctx, format!("{key}.life"), c.life.as_deref(), 7 * 86_400)?,
        keep: duration(ctx, format!("{key}.keep"), c.keep.as_deref(), 30 * 86_400)?,
    })
}

pub(super) fn settles(
    ctx: &Ctx,
    key: &str,
    s: &file::SettlesSection,
    profile: &str,
) -> Result<Settles, ConfigError> {
    let defaults = (profile == "pagoefectivo").then(Settles::pagoefectivo);
    let selector =
        |name: &str, text: &Option<String>, default: Option<&Selector>| match (text, default) {
            (Some(t), _) => Selector::parse(t)
                .map_err(|why| ctx.invalid(format!("{key}.{name}"), why, format!("{t:?}"))),
            (None, Some(d)) => Ok(d.clone()),
            (None, None) => Err(ctx.invalid(
                format!("{key}.{name}"),
                "a selector (only PagoEfectivo's profile has one by default)",
                "none",
            )),
        };
    let code = selector("code", &s.code, defaults.as_ref().map(|d| &d.code))?;
    let event = selector("event", &s.event, defaults.as_ref().map(|d| &d.event))?;
    let mut events = Vec::new();
    for (list, what) in [
        (&s.paid, CodeEvent::Paid),
        (&s.expired, CodeEvent::Expired),
        (&s.refunded, CodeEvent::Refunded),
    ] {
        match list {
            Some(list) => events.extend(list.iter().map(|t| (t.clone(), what))),
            None => {
                if let Some(d) = &defaults {
                    events.extend(d.events.iter().filter(|(_, e)| *e == what).cloned());
                }
            }
        }
    }
    if events.is_empty() {
        return Err(ctx.invalid(
            format!("{key}.paid"),
            "the event types that mean paid, expired or refunded, e.g. [\"charge.succeeded\"]",
            "none",
        ));
    }
    Ok(Settles {
        code,
        event,
        events,
    })
}
