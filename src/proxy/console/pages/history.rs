//! The same customer's history on a review's page, one block per identity key: whether
//! the key is blocked, what it is bound to (accounts of a DNI, devices seen with it), its
//! orders and amounts and its payment codes (created, paid, expired, refunded) over the
//! last 1, 7 and 30 local days, and the other reviews that
//! carry it with their outcomes. Every key and bound member links to the queue filtered
//! by it, so that a reviewer walks from one case to its neighbours.
//!
//! Keys are shown by the first characters of their keyed hash (never a value): the hash
//! is what the store and the links know them by.

use super::{escape, money, status_name, t};
use crate::proxy::console::i18n::{self, fill, Lang, Msg};
use crate::state::store::blocks::BlockNote;
use crate::state::store::queue::ReviewStatus;
use crate::state::store::review::{Outcome, Review};
use std::fmt::Write;

/// Orders and amounts over a window of local days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Orders {
    /// 1, 7 or 30.
    pub days: u16,
    pub count: u64,
    /// Per currency: the code and the total in its decimal text (`"1234.50"`).
    pub amounts: Vec<(String, String)>,
}

/// Payment codes a key asked for over a window of local days, and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Codes {
    /// 1, 7 or 30.
    pub days: u16,
    pub created: u64,
    pub paid: u64,
    pub expired: u64,
    pub refunded: u64,
}

/// What the store holds about one identity key of a review.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    pub fact: String,
    pub hash: String,
    /// Its entry on the block list, if blocked.
    pub blocked: Option<BlockNote>,
    /// Bindings from this key: the other fact, and the keyed hashes bound to it.
    pub bound: Vec<(String, Vec<String>)>,
    /// Orders over the last 1, 7 and 30 days (empty when the store keeps none).
    pub orders: Vec<Orders>,
    /// Payment codes over the last 1, 7 and 30 days (empty when the key has none).
    pub codes: Vec<Codes>,
    /// Other reviews carrying the key, newest first (a few), and how many in all.
    pub reviews: Vec<Review>,
    pub review_count: usize,
}

/// The name of a fact, as a heading or a label.
pub fn fact_name(fact: &str) -> &'static Msg {
    match fact {
        "dni" => &i18n::FACT_DNI,
        "email" => &i18n::FACT_EMAIL,
        "phone" => &i18n::FACT_PHONE,
        "account" => &i18n::FACT_ACCOUNT,
        "device" => &i18n::FACT_DEVICE,
        _ => &i18n::FACT_ADDRESS,
    }
}

/// "accounts", "cuentas", "账户": what a key is bound to.
fn fact_plural(fact: &str) -> &'static Msg {
    match fact {
        "dni" => &i18n::PLURAL_DNI,
        "email" => &i18n::PLURAL_EMAIL,
        "phone" => &i18n::PLURAL_PHONE,
        "account" => &i18n::PLURAL_ACCOUNT,
        _ => &i18n::PLURAL_DEVICE,
    }
}

/// The queue filtered by one key, every status.
fn key_link(fact: &str, hash: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("key", &format!("{fact}:{hash}"))
        .append_pair("status", "all")
        .finish();
    format!("/console/?{}", escape(&query))
}

/// A keyed hash as people compare them: its first 12 characters.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn outcome(review: &Review, lang: Lang, now_status: ReviewStatus) -> String {
    match review.resolution.as_ref().map(|r| r.outcome) {
        Some(Outcome::Approved) => t(&i18n::APPROVED, lang),
        Some(Outcome::Fraud) => t(&i18n::FRAUD, lang),
        None => t(status_name(now_status), lang),
    }
}

/// The history section of review `this` (whose own record is left out of the lists).
pub fn section(
    body: &mut String,
    lang: Lang,
    keys: &[KeyHistory],
    this: &str,
    calendar: &crate::core::calendar::Calendar,
    now: i64,
) {
    if keys.is_empty() {
        return;
    }
    let _ = write!(body, r#"<h3>{}</h3>"#, t(&i18n::HISTORY, lang));
    for key in keys {
        let _ = write!(
            body,
            r#"<section class="key" aria-label="{name}"><h4>{name} <a href="{link}"><code>{short}</code></a></h4><ul>"#,
            name = t(fact_name(&key.fact), lang),
            link = key_link(&key.fact, &key.hash),
            short = escape(short(&key.hash)),
        );
        if let Some(note) = &key.blocked {
            let when = calendar.local_text(note.since).unwrap_or_default();
            let text = fill(
                &i18n::BLOCKED_SINCE,
                lang,
                &[("time", &when), ("name", &note.by)],
            );
            let _ = write!(body, r#"<li class="blocked">{}</li>"#, escape(&text));
        }
        for orders in &key.orders {
            let amounts: Vec<String> = orders
                .amounts
                .iter()
                .map(|(currency, total)| money(total, currency))
                .collect();
            let amounts = if amounts.is_empty() {
                "-".to_string()
            } else {
                amounts.join(", ")
            };
            let which = if orders.days == 1 {
                &i18n::ORDERS_TODAY
            } else {
                &i18n::ORDERS_IN_DAYS
            };
            let text = fill(
                which,
                lang,
                &[
                    ("days", &orders.days.to_string()),
                    ("count", &orders.count.to_string()),
                    ("amounts", &amounts),
                ],
            );
            let _ = write!(body, "<li>{}</li>", escape(&text));
        }
        for codes in &key.codes {
            let which = if codes.days == 1 {
                &i18n::CODES_TODAY
            } else {
                &i18n::CODES_IN_DAYS
            };
            let text = fill(
                which,
                lang,
                &[
                    ("days", &codes.days.to_string()),
                    ("created", &codes.created.to_string()),
                    ("paid", &codes.paid.to_string()),
                    ("expired", &codes.expired.to_string()),
                    ("refunded", &codes.refunded.to_string()),
                ],
            );
            let _ = write!(body, r#"<li class="codes">{}</li>"#, escape(&text));
        }
        for (other, members) in &key.bound {
            let _ = write!(
                body,
                "<li>{}: ",
                escape(&fill(
                    &i18n::BOUND_TO,
                    lang,
                    &[
                        ("fact", fact_plural(other).get(lang)),
                        ("count", &members.len().to_string())
                    ],
                ))
            );
            for member in members {
                let _ = write!(
                    body,
                    r#"<a href="{}"><code>{}</code></a> "#,
                    key_link(other, member),
                    escape(short(member))
                );
            }
            body.push_str("</li>");
        }
        let others: Vec<&Review> = key.reviews.iter().filter(|r| r.id != this).collect();
        if others.is_empty() {
            let _ = write!(body, "<li>{}</li>", t(&i18n::NO_OTHER_REVIEWS, lang));
        } else {
            let text = fill(
                &i18n::OTHER_REVIEWS,
                lang,
                &[("count", &key.review_count.saturating_sub(1).to_string())],
            );
            let _ = write!(body, "<li>{}<ul>", escape(&text));
            for other in others {
                let amount = match (&other.amount, &other.currency) {
                    (Some(a), Some(c)) => money(a, c),
                    _ => "-".into(),
                };
                let _ = write!(
                    body,
                    r#"<li><a href="/console/reviews/{id}">{when}</a> {amount}: {outcome}</li>"#,
                    id = escape(&other.id),
                    when = escape(&calendar.local_text(other.at).unwrap_or_default()),
                    amount = escape(&amount),
                    outcome = outcome(other, lang, ReviewStatus::of(other, now)),
                );
            }
            body.push_str("</ul></li>");
        }
        body.push_str("</ul></section>\n");
    }
}
