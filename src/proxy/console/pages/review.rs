//! One review's page: what was ordered, why each rule sent it here in words, the masked
//! hints and countries, the same customer's history from the store, who holds it, its
//! notes, and the forms to decide it.

use super::history::{self, KeyHistory};
use super::{escape, keys, money, page, signed_in_bar, status_name, t, Viewer};
use crate::core::calendar::Calendar;
use crate::core::policy::Policy;
use crate::proxy::console::explain;
use crate::proxy::console::i18n::{self, fill, Lang};
use crate::state::store::queue::ReviewStatus;
use crate::state::store::review::Review;
use std::fmt::Write;

/// What a review is read beside: its policy as it stands, and each identity key's
/// history from the store.
pub struct Around<'a> {
    pub policy: Option<&'a Policy>,
    pub history: &'a [KeyHistory],
    pub nav: &'a Nav,
}

/// Where the person goes from here, under the filters they came with.
pub struct Nav {
    /// The review before this one in the queue's order.
    pub previous: Option<String>,
    /// The oldest review nobody holds.
    pub next: String,
    pub queue: String,
}
/// What the person looking at a review may do with it.
pub struct Powers<'a> {
    /// They may decide it: a reviewer or an admin (an admin if it was escalated), and
    /// nobody else holds it.
    pub decide: bool,
    /// They may add a note or escalate it.
    pub note: bool,
    /// The facts a fraud decision blocks, each a checkbox, ticked.
    pub fraud_blocks: &'a [&'a str],
}

/// One review: what it is, who holds it, its notes, and the forms to decide it.
pub fn review(
    lang: Lang,
    viewer: &Viewer<'_>,
    item: &Review,
    powers: &Powers<'_>,
    around: &Around<'_>,
    calendar: &Calendar,
    now: i64,
) -> String {
    let local = |at: i64| calendar.local_text(at).unwrap_or_default();
    let mut body = String::new();
    let title = fill(&i18n::REVIEW, lang, &[("id", &item.id)]);
    signed_in_bar(&mut body, lang, viewer);
    let _ = write!(
        body,
        r#"<nav class="counts" aria-label="{moves}"><a href="{queue}" data-key="q">{back}</a>{previous}<a href="{next}" rel="next">{next_text}</a></nav>
<h2>{title}</h2>
<dl>"#,
        moves = t(&i18n::MOVES, lang),
        queue = escape(&around.nav.queue),
        back = t(&i18n::BACK, lang),
        previous = around
            .nav
            .previous
            .as_ref()
            .map_or(String::new(), |p| format!(
                r#"<a href="{}" rel="prev" data-key="p">{}</a>"#,
                escape(p),
                t(&i18n::PREVIOUS_REVIEW, lang)
            )),
        next = escape(&around.nav.next),
        next_text = t(&i18n::NEXT_REVIEW, lang),
        title = escape(&title),
    );
    let amount = match (&item.amount, &item.currency) {
        (Some(a), Some(c)) => money(a, c),
        _ => "-".to_string(),
    };
    let score = item.score.map_or("-".to_string(), |s| s.to_string());
    for (label, value) in [
        (&i18n::RECEIVED, local(item.at)),
        (&i18n::ROUTE, item.route.clone()),
        (&i18n::POLICY, item.policy.clone()),
        (&i18n::AMOUNT, amount),
        (
            &i18n::ORDER,
            item.order.clone().unwrap_or_else(|| "-".into()),
        ),
        (&i18n::SCORE, score),
        (&i18n::REASONS, item.reasons.join(", ")),
        (
            &i18n::CLIENT_COUNTRY,
            item.client_country.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            &i18n::BILLING_COUNTRY,
            item.billing_country.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            &i18n::STATUS,
            status_name(ReviewStatus::of(item, now))
                .get(lang)
                .to_string(),
        ),
    ] {
        let _ = write!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            t(label, lang),
            escape(&value)
        );
    }
    body.push_str("</dl>\n");
    why(&mut body, lang, item, around.policy);
    hints(&mut body, lang, item);
    history::section(&mut body, lang, around.history, &item.id, calendar, now);
    if let Some(resolution) = &item.resolution {
        let outcome = match resolution.outcome {
            crate::state::store::review::Outcome::Approved => i18n::APPROVE.get(lang),
            crate::state::store::review::Outcome::Fraud => i18n::FRAUD.get(lang),
        };
        let text = fill(
            &i18n::DECIDED,
            lang,
            &[("name", &resolution.by), ("outcome", outcome)],
        );
        let _ = write!(body, r#"<p role="status">{}</p>"#, escape(&text));
    } else if let Some(claim) = item.claim.as_ref().filter(|c| c.until > now) {
        let time = local(claim.until);
        let text = if claim.by == viewer.name {
            fill(&i18n::YOU_HOLD, lang, &[("time", &time)])
        } else {
            fill(
                &i18n::HELD_BY,
                lang,
                &[("name", &claim.by), ("time", &time)],
            )
        };
        let _ = write!(body, r#"<p role="status">{}</p>"#, escape(&text));
    }
    if let Some(escalation) = &item.escalation {
        let text = fill(&i18n::ESCALATED_BY, lang, &[("name", &escalation.by)]);
        let _ = write!(body, "<p>{}</p>", escape(&text));
    }
    let _ = write!(body, "<h3>{}</h3>", t(&i18n::NOTES, lang));
    if !item.notes.is_empty() {
        body.push_str("<ul>");
        for note in &item.notes {
            let _ = write!(
                body,
                "<li><strong>{}</strong> {}: {}</li>",
                escape(&note.by),
                escape(&local(note.at)),
                escape(&note.text)
            );
        }
        body.push_str("</ul>\n");
    }
    if item.resolution.is_none() {
        forms(&mut body, lang, viewer, item, powers);
    }
    page(lang, &title, &body)
}

/// Each enforced rule that fired: its weight and a sentence on what it saw.
fn why(body: &mut String, lang: Lang, item: &Review, policy: Option<&Policy>) {
    if item.fired.is_empty() {
        return;
    }
    let _ = write!(
        body,
        r#"<h3>{}</h3>
<table class="why"><thead><tr><th scope="col">{}</th><th scope="col" class="num">{}</th><th scope="col">{}</th></tr></thead><tbody>"#,
        t(&i18n::WHY, lang),
        t(&i18n::RULE, lang),
        t(&i18n::WEIGHT, lang),
        t(&i18n::WHAT_IT_SAW, lang),
    );
    for fired in &item.fired {
        let _ = write!(
            body,
            r#"<tr><td data-label="{}">{}</td><td class="num" data-label="{}">+{}</td><td data-label="{}">{}</td></tr>"#,
            t(&i18n::RULE, lang),
            escape(&fired.rule),
            t(&i18n::WEIGHT, lang),
            fired.weight,
            t(&i18n::WHAT_IT_SAW, lang),
            escape(&explain::sentence(lang, policy, item, fired)),
        );
    }
    body.push_str("</tbody></table>\n");
}

/// The masked hints the policy keeps (`•••••912`): never a whole value.
fn hints(body: &mut String, lang: Lang, item: &Review) {
    if item.hints.is_empty() {
        return;
    }
    let _ = write!(
        body,
        r#"<h3>{}</h3><dl class="hints">"#,
        t(&i18n::HINTS, lang)
    );
    for (fact, hint) in &item.hints {
        let _ = write!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            t(history::fact_name(fact), lang),
            escape(hint)
        );
    }
    body.push_str("</dl>\n");
}

/// The note, decision and escalation forms the person may use.
fn forms(body: &mut String, lang: Lang, viewer: &Viewer<'_>, item: &Review, powers: &Powers<'_>) {
    if !powers.note {
        return;
    }
    if powers.decide {
        keys(body, lang, &i18n::KEYS_REVIEW);
    } else {
        let _ = write!(
            body,
            r#"<p role="status">{}</p>"#,
            t(&i18n::ESCALATED_TO_ADMINS, lang)
        );
    }
    let action = format!("/console/reviews/{}", escape(&item.id));
    let csrf = escape(viewer.csrf);
    let _ = write!(
        body,
        r#"<form method="post" action="{action}/notes"><input type="hidden" name="csrf" value="{csrf}"><label for="note">{add}</label><p>{hint}</p><textarea id="note" name="text" rows="3" cols="60" maxlength="2000" required data-key="t"></textarea><p><button class="plain" type="submit">{add}</button></p></form>"#,
        add = t(&i18n::ADD_NOTE, lang),
        hint = t(&i18n::NOTE_HINT, lang),
    );
    if powers.decide {
        let _ = write!(
            body,
            r#"<form method="post" action="{action}/decide"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="outcome" value="approved"><button type="submit" data-key="a">{approve}</button></form>
<form method="post" action="{action}/decide" data-confirm="{confirm}"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="outcome" value="fraud"><fieldset><legend>{blocks}</legend>"#,
            approve = t(&i18n::APPROVE, lang),
            blocks = t(&i18n::BLOCK_THESE, lang),
            confirm = t(&i18n::CONFIRM_FRAUD, lang),
        );
        for fact in powers.fraud_blocks {
            let fact = escape(fact);
            let _ = write!(
                body,
                r#"<label><input type="checkbox" name="block" value="{fact}" checked> {fact}</label>"#
            );
        }
        let _ = write!(
            body,
            r#"</fieldset><button type="submit" data-key="f">{}</button></form>"#,
            t(&i18n::FRAUD, lang),
        );
    }
    if item.escalation.is_none() {
        let _ = write!(
            body,
            r#"<form method="post" action="{action}/escalate"><input type="hidden" name="csrf" value="{csrf}"><button class="plain" type="submit" data-key="e">{}</button></form>"#,
            t(&i18n::ESCALATE, lang),
        );
    }
}
