//! Why a review is here, in words: one sentence per risk rule that fired, made from the
//! rule as the policy defines it and what the rule saw when it fired ("this email placed
//! 5 orders under S/ 50.00 within 60 minutes").
//!
//! The review record keeps each fired rule's name, weight and what it saw (a total in
//! minor units, or a count); the rule's thresholds are read from the running config. What
//! it approximates: a rule changed or removed since the request was decided is described
//! as it stands now (or said to be gone), not as it was then.

use super::i18n::{self, fill, Lang, Msg};
use super::pages::money;
use crate::core::money::{Amount, Currency, PerCurrency};
use crate::core::policy::Policy;
use crate::core::request::facts::KeyKind;
use crate::core::rules::risk::amounts::{Scope, SumWindow};
use crate::core::rules::risk::score::{Check, RiskRule};
use crate::state::store::review::{FiredRule, Review};

/// "this DNI", "este correo", "该邮箱": whose behaviour a rule counted.
fn whose(kind: KeyKind) -> &'static Msg {
    match kind {
        KeyKind::Dni => &i18n::THIS_DNI,
        KeyKind::Email => &i18n::THIS_EMAIL,
        KeyKind::Phone => &i18n::THIS_PHONE,
        KeyKind::Account => &i18n::THIS_ACCOUNT,
        KeyKind::Device => &i18n::THIS_DEVICE,
        KeyKind::Ip => &i18n::THIS_ADDRESS,
    }
}

/// A number of minor units in `currency`, as the console writes money.
fn minor(units: u64, currency: Currency) -> String {
    let amount = Amount {
        minor: units,
        currency,
    };
    money(&amount.to_string(), currency.as_str())
}

/// A threshold in the review's currency, or `-` when the rule has none in it.
fn threshold(of: &PerCurrency, currency: Option<Currency>) -> String {
    currency
        .and_then(|c| of.get(c).map(|t| minor(t, c)))
        .unwrap_or_else(|| "-".into())
}

fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The sentence for one fired rule of `review`, in `lang`.
pub fn sentence(lang: Lang, policy: Option<&Policy>, review: &Review, fired: &FiredRule) -> String {
    let rule: Option<&RiskRule> = policy
        .and_then(|p| p.identity.as_ref())
        .and_then(|i| i.risk.as_ref())
        .and_then(|r| r.rules.iter().find(|r| *r.name == *fired.rule));
    let Some(rule) = rule else {
        return fill(&i18n::RULE_GONE, lang, &[("rule", &fired.rule)]);
    };
    let currency = review.currency.as_deref().and_then(Currency::parse);
    let seen = |units: u64| currency.map_or_else(|| units.to_string(), |c| minor(units, c));
    let amount = match (&review.amount, currency) {
        (Some(a), Some(c)) => money(a, c.as_str()),
        _ => "-".into(),
    };
    let count = fired.seen.unwrap_or(0).to_string();
    match &rule.check {
        Check::LargeOrder(r) => fill(
            &i18n::RULE_LARGE_ORDER,
            lang,
            &[
                ("amount", &amount),
                ("threshold", &threshold(&r.at_least, currency)),
            ],
        ),
        Check::Sum(r) => {
            let total = seen(fired.seen.unwrap_or(0));
            let limit = threshold(&r.above, currency);
            let who = whose(r.fact).get(lang);
            let values = [
                ("who", who),
                ("total", total.as_str()),
                ("threshold", &limit),
            ];
            match r.window {
                SumWindow::Hour => fill(&i18n::RULE_SUM_HOUR, lang, &values),
                SumWindow::Days(1) => fill(&i18n::RULE_SUM_TODAY, lang, &values),
                SumWindow::Days(n) => {
                    let days = n.to_string();
                    let mut with_days = values.to_vec();
                    with_days.push(("days", &days));
                    fill(&i18n::RULE_SUM_DAYS, lang, &with_days)
                }
            }
        }
        Check::Structuring(r) => fill(
            &i18n::RULE_STRUCTURING,
            lang,
            &[
                ("who", whose(r.fact).get(lang)),
                ("count", &count),
                ("below", &threshold(&r.below, currency)),
                ("minutes", &(r.within.as_secs() / 60).to_string()),
            ],
        ),
        Check::Anomaly(r) => {
            let total = seen(fired.seen.unwrap_or(0));
            let percent = r.percent.to_string();
            let days = r.days.to_string();
            let who = match r.scope {
                Scope::Shop => i18n::THE_SHOP.get(lang),
                Scope::Key(kind) => whose(kind).get(lang),
            };
            fill(
                &i18n::RULE_ANOMALY,
                lang,
                &[
                    ("who", who),
                    ("total", &total),
                    ("percent", &percent),
                    ("days", &days),
                ],
            )
        }
        Check::FirstOrder(r) => fill(
            &i18n::RULE_FIRST_ORDER,
            lang,
            &[("who", whose(r.fact).get(lang))],
        ),
        Check::NewDevice(r) => fill(
            &i18n::RULE_NEW_DEVICE,
            lang,
            &[("who", whose(r.fact).get(lang))],
        ),
        Check::FirstLargeOrder(r) => fill(
            &i18n::RULE_FIRST_LARGE_ORDER,
            lang,
            &[
                ("who", whose(r.fact).get(lang)),
                ("threshold", &threshold(&r.at_least, currency)),
            ],
        ),
        Check::Hours(r) => fill(
            &i18n::RULE_HOURS,
            lang,
            &[("from", &clock(r.from)), ("to", &clock(r.to))],
        ),
        Check::UnpaidCodes(r) => fill(
            &i18n::RULE_UNPAID_CODES,
            lang,
            &[
                ("who", whose(r.fact).get(lang)),
                ("count", &count),
                ("days", &r.days.to_string()),
            ],
        ),
        Check::Refunds(r) => fill(
            &i18n::RULE_REFUNDS,
            lang,
            &[
                ("who", whose(r.fact).get(lang)),
                ("count", &count),
                ("days", &r.days.to_string()),
            ],
        ),
        Check::PaidRatio(r) => fill(
            &i18n::RULE_PAID_RATIO,
            lang,
            &[
                ("who", whose(r.fact).get(lang)),
                ("share", &count),
                ("percent", &r.percent.to_string()),
                ("days", &r.days.to_string()),
            ],
        ),
        Check::CountryMismatch(_) => fill(
            &i18n::RULE_COUNTRY,
            lang,
            &[
                ("client", review.client_country.as_deref().unwrap_or("-")),
                ("billing", review.billing_country.as_deref().unwrap_or("-")),
            ],
        ),
    }
}
