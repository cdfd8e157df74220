//! Compiling a policy's `score` and `[[risk]]` rules.
//!
//! Every rule names its kind in `rule`; the keys it takes depend on the kind, and a key it
//! does not take is an error (a `window` on a `large_order` would otherwise be silently
//! ignored). Amounts are per currency and exact: decimal text or whole numbers, never
//! TOML floats.

use crate::config::error::ConfigError;
use crate::config::file::{self, AmountTable};
use crate::config::shared::{parse_duration, Ctx};
use crate::core::decision::Mode;
use crate::core::money::{Currency, PerCurrency};
use crate::core::request::facts::{FactSelectors, KeyKind};
use crate::core::rules::code_life::MAX_WINDOW_DAYS;
use crate::core::rules::risk::amounts::{Anomaly, LargeOrder, Scope, Structuring, Sum, SumWindow};
use crate::core::rules::risk::codes::{PaidRatio, Refunds, UnpaidCodes};
use crate::core::rules::risk::country::CountryMismatch;
use crate::core::rules::risk::newness::{FirstLargeOrder, FirstOrder, NewDevice};
use crate::core::rules::risk::score::{Check, RiskRule, RiskRules, Thresholds};
use crate::core::rules::risk::time::Hours;
use std::sync::Arc;
use std::time::Duration;

/// A year and a month: long enough to tell a returning customer a year on.
const DEFAULT_REMEMBER: Duration = Duration::from_secs(400 * 86_400);
const DEFAULT_ANOMALY_PERCENT: u32 = 200;
const DEFAULT_ANOMALY_DAYS: u16 = 28;
const MAX_DAYS: u16 = 90;

/// The rule kinds, and the settings each takes besides rule, name, weight and mode.
const KINDS: [(&str, &[&str]); 12] = [
    ("large_order", &["at_least"]),
    ("amount_sum", &["fact", "window", "above"]),
    ("structuring", &["fact", "below", "count", "within"]),
    ("amount_anomaly", &["fact", "percent", "days", "min_total"]),
    ("first_order", &["fact", "remember"]),
    ("new_device", &["fact", "remember"]),
    ("first_large_order", &["fact", "at_least", "remember"]),
    ("hours", &["hours"]),
    ("country_mismatch", &[]),
    ("unpaid_codes", &["fact", "count", "days"]),
    ("paid_ratio", &["fact", "percent", "count", "days"]),
    ("refunds", &["fact", "count", "days"]),
];

/// The settings given in a rule's section, by name.
fn given(r: &file::RiskSection) -> Vec<&'static str> {
    let present = [
        ("fact", r.fact.is_some()),
        ("window", r.window.is_some()),
        ("at_least", r.at_least.is_some()),
        ("above", r.above.is_some()),
        ("below", r.below.is_some()),
        ("min_total", r.min_total.is_some()),
        ("count", r.count.is_some()),
        ("within", r.within.is_some()),
        ("percent", r.percent.is_some()),
        ("days", r.days.is_some()),
        ("hours", r.hours.is_some()),
        ("remember", r.remember.is_some()),
    ];
    present
        .into_iter()
        .filter(|(_, p)| *p)
        .map(|(k, _)| k)
        .collect()
}

/// An amount table: each key a currency code, each value its amount in that currency.
fn amounts(ctx: &Ctx, key: &str, table: &AmountTable) -> Result<PerCurrency, ConfigError> {
    if table.is_empty() {
        return Err(ctx.invalid(
            key,
            "at least one currency, e.g. { PEN = \"500.00\" }",
            "{}",
        ));
    }
    let mut out = Vec::new();
    for (code, value) in table {
        let at = format!("{key}.{code}");
        let currency = Currency::parse(code)
            .ok_or_else(|| ctx.invalid(&at, "a three-letter currency code", format!("{code:?}")))?;
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) if *n >= 0 => n.to_string(),
            toml::Value::Float(f) => {
                return Err(ctx.invalid(
                    &at,
                    "an amount as text (\"120.50\") or a whole number: floats are not exact",
                    f,
                ))
            }
            other => return Err(ctx.invalid(&at, "an amount such as \"120.50\"", other)),
        };
        let amount = currency.amount(&text).ok_or_else(|| {
            ctx.invalid(
                &at,
                &format!(
                    "an amount >= 0 with at most {} decimals",
                    currency.exponent()
                ),
                format!("{text:?}"),
            )
        })?;
        out.push(amount);
    }
    Ok(PerCurrency::new(out))
}

/// Compile `score` and `risk`; `None` when the policy has no risk rules.
pub(super) fn risk_rules(
    ctx: &Ctx,
    key: &str,
    p: &file::PolicySection,
    selectors: &FactSelectors,
) -> Result<Option<RiskRules>, ConfigError> {
    let Some(score) = &p.score else {
        if p.risk.is_empty() {
            return Ok(None);
        }
        return Err(ctx.invalid(
            format!("{key}.score"),
            "review (and optionally deny) thresholds for the risk rules",
            "none",
        ));
    };
    if score.review == 0 {
        return Err(ctx.invalid(format!("{key}.score.review"), "a score >= 1", 0));
    }
    if let Some(deny) = score.deny {
        if deny <= score.review {
            return Err(ctx.invalid(
                format!("{key}.score.deny"),
                &format!("a score above review ({})", score.review),
                deny,
            ));
        }
    }
    let mut rules: Vec<RiskRule> = Vec::new();
    for (i, r) in p.risk.iter().enumerate() {
        let at = format!("{key}.risk[{i}]");
        let rule = compile_rule(ctx, &at, r, selectors)?;
        if rules.iter().any(|other| other.name == rule.name) {
            return Err(ctx.invalid(
                format!("{at}.name"),
                "a name no other risk rule of the policy has",
                format!("{:?}", &*rule.name),
            ));
        }
        rules.push(rule);
    }
    Ok(Some(RiskRules {
        rules,
        thresholds: Thresholds {
            review: score.review,
            deny: score.deny,
        },
    }))
}

fn compile_rule(
    ctx: &Ctx,
    at: &str,
    r: &file::RiskSection,
    selectors: &FactSelectors,
) -> Result<RiskRule, ConfigError> {
    let Some((kind, takes)) = KINDS.iter().find(|(k, _)| *k == r.rule) else {
        let names: Vec<String> = KINDS.iter().map(|(k, _)| format!("{k:?}")).collect();
        return Err(ctx.invalid(
            format!("{at}.rule"),
            &format!("one of {}", names.join(", ")),
            format!("{:?}", r.rule),
        ));
    };
    if let Some(extra) = given(r).into_iter().find(|k| !takes.contains(k)) {
        return Err(ctx.invalid(
            format!("{at}.{extra}"),
            &format!("only settings a {kind} rule takes: {takes:?}"),
            extra,
        ));
    }
    if r.weight == 0 || r.weight > 1000 {
        return Err(ctx.invalid(format!("{at}.weight"), "a weight from 1 to 1000", r.weight));
    }
    let mode = ctx.choice(
        format!("{at}.mode"),
        r.mode.as_deref(),
        Mode::Enforce,
        &[("enforce", Mode::Enforce), ("shadow", Mode::Shadow)],
    )?;
    let needs_amount = |what: &str| {
        if selectors.amount.is_some() {
            Ok(())
        } else {
            Err(ctx.invalid(
                format!("{at}.rule"),
                &format!("an amount selector in the policy's facts for {what}"),
                "none",
            ))
        }
    };
    let fact = |required: bool| -> Result<Option<KeyKind>, ConfigError> {
        let Some(text) = r.fact.as_deref() else {
            return if required {
                Err(ctx.invalid(format!("{at}.fact"), "the fact it is counted per", "none"))
            } else {
                Ok(None)
            };
        };
        let kind = KeyKind::parse(text).ok_or_else(|| {
            ctx.invalid(
                format!("{at}.fact"),
                "one of \"dni\", \"email\", \"phone\", \"account\", \"device\", \"ip\"",
                format!("{text:?}"),
            )
        })?;
        if !super::identity::has_selector(selectors, kind) {
            return Err(ctx.invalid(
                format!("{at}.fact"),
                &format!("a selector for {} in the policy's facts", kind.as_str()),
                "none",
            ));
        }
        Ok(Some(kind))
    };
    let table = |name: &str, t: &Option<AmountTable>| -> Result<PerCurrency, ConfigError> {
        match t {
            Some(t) => amounts(ctx, &format!("{at}.{name}"), t),
            None => Err(ctx.invalid(
                format!("{at}.{name}"),
                "an amount per currency, e.g. { PEN = \"500.00\" }",
                "none",
            )),
        }
    };
    let remember = || -> Result<Duration, ConfigError> {
        match r.remember.as_deref() {
            None => Ok(DEFAULT_REMEMBER),
            Some(t) => parse_duration(t).ok_or_else(|| {
                ctx.invalid(
                    format!("{at}.remember"),
                    "a duration such as \"400d\"",
                    format!("{t:?}"),
                )
            }),
        }
    };
    let (check, default_name) = match *kind {
        "large_order" => {
            needs_amount("large_order")?;
            let at_least = table("at_least", &r.at_least)?;
            (Check::LargeOrder(LargeOrder { at_least }), kind.to_string())
        }
        "amount_sum" => {
            needs_amount("amount_sum")?;
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            let text = r.window.as_deref().unwrap_or("day");
            let window =
                match text {
                    "hour" => SumWindow::Hour,
                    "day" => SumWindow::Days(1),
                    t => match t.strip_suffix('d').and_then(|n| n.parse::<u16>().ok()) {
                        Some(n @ 1..=MAX_DAYS) => SumWindow::Days(n),
                        _ => return Err(ctx.invalid(
                            format!("{at}.window"),
                            "\"hour\", \"day\", or the last N local days as \"7d\" (at most 90)",
                            format!("{t:?}"),
                        )),
                    },
                };
            let above = table("above", &r.above)?;
            let name = format!("{kind}_{}_{text}", fact.as_str());
            (
                Check::Sum(Sum {
                    fact,
                    window,
                    above,
                }),
                name,
            )
        }
        "structuring" => {
            needs_amount("structuring")?;
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            let below = table("below", &r.below)?;
            let count = match r.count {
                Some(n @ 2..) => n,
                other => {
                    return Err(ctx.invalid(
                        format!("{at}.count"),
                        "how many small orders, at least 2",
                        other.map_or("none".to_string(), |n| n.to_string()),
                    ))
                }
            };
            let text = r.within.as_deref().unwrap_or("");
            let within = parse_duration(text)
                .filter(|d| d.as_secs() >= 60)
                .ok_or_else(|| {
                    ctx.invalid(
                        format!("{at}.within"),
                        "a duration of a minute or more, such as \"1h\"",
                        format!("{text:?}"),
                    )
                })?;
            let name = format!("{kind}_{}", fact.as_str());
            let rule = Structuring {
                fact,
                below,
                count,
                within,
            };
            (Check::Structuring(rule), name)
        }
        "amount_anomaly" => {
            needs_amount("amount_anomaly")?;
            let scope = fact(false)?.map_or(Scope::Shop, Scope::Key);
            let percent = r.percent.unwrap_or(DEFAULT_ANOMALY_PERCENT);
            if percent <= 100 {
                return Err(ctx.invalid(
                    format!("{at}.percent"),
                    "a percentage above 100 (200: twice the usual)",
                    percent,
                ));
            }
            let days = r.days.unwrap_or(DEFAULT_ANOMALY_DAYS);
            if !(1..=MAX_DAYS).contains(&days) {
                return Err(ctx.invalid(format!("{at}.days"), "from 1 to 90 days", days));
            }
            let floor = match &r.min_total {
                Some(t) => amounts(ctx, &format!("{at}.min_total"), t)?,
                None => PerCurrency::default(),
            };
            let name = match scope {
                Scope::Shop => format!("{kind}_shop"),
                Scope::Key(k) => format!("{kind}_{}", k.as_str()),
            };
            let rule = Anomaly {
                scope,
                percent,
                days,
                floor,
            };
            (Check::Anomaly(rule), name)
        }
        "first_order" => {
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            let remember = remember()?;
            let name = format!("{kind}_{}", fact.as_str());
            (Check::FirstOrder(FirstOrder { fact, remember }), name)
        }
        "new_device" => {
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            if fact == KeyKind::Device || selectors.device.is_none() {
                return Err(ctx.invalid(
                    format!("{at}.fact"),
                    "an identity other than device, and a device selector in the facts",
                    fact.as_str(),
                ));
            }
            let remember = remember()?;
            let name = format!("{kind}_{}", fact.as_str());
            (Check::NewDevice(NewDevice { fact, remember }), name)
        }
        "first_large_order" => {
            needs_amount("first_large_order")?;
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            let at_least = table("at_least", &r.at_least)?;
            let remember = remember()?;
            let name = format!("{kind}_{}", fact.as_str());
            let rule = FirstLargeOrder {
                fact,
                at_least,
                remember,
            };
            (Check::FirstLargeOrder(rule), name)
        }
        "unpaid_codes" | "paid_ratio" | "refunds" => {
            let fact = fact(true)?.unwrap_or(KeyKind::Dni);
            let check = code_rule(ctx, at, kind, fact, r)?;
            (check, format!("{kind}_{}", fact.as_str()))
        }
        "hours" => {
            let text = r.hours.as_deref().unwrap_or("");
            let hours = Hours::parse(text).ok_or_else(|| {
                ctx.invalid(
                    format!("{at}.hours"),
                    "a local time range such as \"00:00-05:00\"",
                    format!("{text:?}"),
                )
            })?;
            (Check::Hours(hours), kind.to_string())
        }
        _ => {
            // The [geoip] database it also needs is checked with the geofences'.
            if selectors.billing_country.is_none() {
                return Err(ctx.invalid(
                    format!("{at}.rule"),
                    "a billing_country selector in the policy's facts",
                    "none",
                ));
            }
            (Check::CountryMismatch(CountryMismatch), kind.to_string())
        }
    };
    let name = r.name.clone().unwrap_or(default_name);
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(ctx.invalid(
            format!("{at}.name"),
            "letters, digits, '_', '-' and '.' (it goes in headers and metric labels)",
            format!("{name:?}"),
        ));
    }
    Ok(RiskRule {
        name: Arc::from(name),
        weight: r.weight,
        mode,
        check,
    })
}

/// A payment-code rule: `count` codes (for `paid_ratio`, settled codes before the share
/// counts) over the last `days` local days (at most 30), and `paid_ratio`'s `percent`.
fn code_rule(
    ctx: &Ctx,
    at: &str,
    kind: &str,
    fact: KeyKind,
    r: &file::RiskSection,
) -> Result<Check, ConfigError> {
    let days = r
        .days
        .unwrap_or(if kind == "unpaid_codes" { 7 } else { 30 });
    if !(1..=MAX_WINDOW_DAYS).contains(&days) {
        return Err(ctx.invalid(format!("{at}.days"), "from 1 to 30 days", days));
    }
    let count = match r.count {
        Some(n @ 1..) => u64::from(n),
        other => {
            return Err(ctx.invalid(
                format!("{at}.count"),
                "how many codes, at least 1",
                other.map_or("none".to_string(), |n| n.to_string()),
            ))
        }
    };
    Ok(match kind {
        "unpaid_codes" => Check::UnpaidCodes(UnpaidCodes { fact, count, days }),
        "refunds" => Check::Refunds(Refunds { fact, count, days }),
        _ => {
            let percent = match r.percent {
                Some(p @ 1..=100) => u64::from(p),
                other => {
                    return Err(ctx.invalid(
                        format!("{at}.percent"),
                        "the paid share it fires below, 1 to 100",
                        other.map_or("none".to_string(), |n| n.to_string()),
                    ))
                }
            };
            Check::PaidRatio(PaidRatio {
                fact,
                percent,
                min_settled: count,
                days,
            })
        }
    })
}
