//! The queue page: counts per status, the filters, one page of reviews, the way to the
//! next page; and the bulk decision over the rows a person ticks.

use super::{escape, keys, money, page, signed_in_bar, status_name, t, Viewer};
use crate::core::calendar::Calendar;
use crate::core::money::Amount;
use crate::proxy::console::i18n::{self, Lang, Msg};
use crate::state::store::queue::{ReviewPage, ReviewQuery, ReviewStatus, COUNT_CAP};
use crate::state::store::review::{Outcome, Review};
use std::fmt::Write;
/// The filters a queue page was asked for: the query, and its parameters as a link keeps
/// them (without the cursor).
pub struct Shown<'a> {
    pub query: &'a ReviewQuery,
    pub kept: &'a str,
}

/// The status tabs (with their counts) and the filter form.
fn filters(body: &mut String, lang: Lang, page_of: &ReviewPage, shown: &Shown<'_>) {
    body.push_str(r#"<nav class="counts" aria-label="status">"#);
    for (status, count) in &page_of.by_status {
        if *status == ReviewStatus::Resolved {
            continue;
        }
        let current = if shown.query.status == Some(*status) {
            r#" aria-current="page""#
        } else {
            ""
        };
        // Counts stop at the cap: past it the page says "at least".
        let count = if page_of.capped && *count >= COUNT_CAP {
            format!("≥ {count}")
        } else {
            count.to_string()
        };
        let _ = write!(
            body,
            r#"<a href="/console/?status={code}"{current}>{name}: <strong>{count}</strong></a>"#,
            code = status.as_str(),
            name = t(status_name(*status), lang),
        );
    }
    let _ = write!(
        body,
        r#"<a href="/console/?status=resolved">{}</a></nav>"#,
        t(&i18n::RESOLVED, lang)
    );
    let q = shown.query;
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let number = |v: Option<u32>| v.map_or(String::new(), |n| n.to_string());
    let money_bound = |v: Option<u64>| match (v, q.currency) {
        (Some(minor), Some(currency)) => Amount { minor, currency }.to_string(),
        _ => String::new(),
    };
    let _ = write!(
        body,
        r#"<form method="get" action="/console/" class="filters">"#
    );
    // A key filter (from a review's history) stays until cleared.
    if let Some((fact, hash)) = &q.key {
        let _ = write!(
            body,
            r#"<p class="key-filter">{label}: <code>{fact}:{short}</code> <a href="/console/">{clear}</a><input type="hidden" name="key" value="{fact}:{hash}"><input type="hidden" name="status" value="all"></p>"#,
            label = t(&i18n::KEY_FILTER, lang),
            fact = escape(fact),
            short = escape(hash.get(..12).unwrap_or(hash)),
            hash = escape(hash),
            clear = t(&i18n::CLEAR, lang),
        );
    } else if let Some(status) = q.status {
        let _ = write!(
            body,
            r#"<input type="hidden" name="status" value="{}">"#,
            status.as_str()
        );
    }
    let field = |body: &mut String, id: &str, label: &Msg, kind: &str, value: &str, extra: &str| {
        let _ = write!(
            body,
            r#"<span><label for="{id}">{label}</label><input id="{id}" name="{id}" type="{kind}" value="{value}"{extra}></span>"#,
            label = t(label, lang),
        );
    };
    body.push_str(r#"<div class="fields">"#);
    field(
        body,
        "route",
        &i18n::ROUTE,
        "text",
        &value(&q.route),
        r#" data-key="/""#,
    );
    field(body, "rule", &i18n::REASONS, "text", &value(&q.rule), "");
    let _ = write!(
        body,
        r#"<span><label for="order">{order}</label><select id="order" name="order"><option value="oldest">{oldest}</option><option value="newest"{newest_sel}>{newest}</option></select></span><span><button class="plain" type="submit">{filter}</button></span></div>"#,
        order = t(&i18n::SORT, lang),
        oldest = t(&i18n::OLDEST_FIRST, lang),
        newest = t(&i18n::NEWEST_FIRST, lang),
        newest_sel = if q.newest_first { " selected" } else { "" },
        filter = t(&i18n::FILTER, lang),
    );
    // The rarer filters are folded away unless one is set.
    let more_set = q.min_score.is_some()
        || q.max_score.is_some()
        || q.currency.is_some()
        || q.assignee.is_some()
        || q.older_than.is_some();
    let _ = write!(
        body,
        r#"<details{open}><summary>{more}</summary><div class="fields">"#,
        open = if more_set { " open" } else { "" },
        more = t(&i18n::MORE_FILTERS, lang),
    );
    field(
        body,
        "min_score",
        &i18n::MIN_SCORE,
        "number",
        &number(q.min_score),
        r#" min="0""#,
    );
    field(
        body,
        "max_score",
        &i18n::MAX_SCORE,
        "number",
        &number(q.max_score),
        r#" min="0""#,
    );
    let currency = q.currency.map_or(String::new(), |c| c.as_str().to_string());
    field(
        body,
        "currency",
        &i18n::CURRENCY,
        "text",
        &escape(&currency),
        r#" maxlength="3" size="4""#,
    );
    field(
        body,
        "min_amount",
        &i18n::MIN_AMOUNT,
        "text",
        &money_bound(q.min_amount),
        r#" inputmode="decimal""#,
    );
    field(
        body,
        "max_amount",
        &i18n::MAX_AMOUNT,
        "text",
        &money_bound(q.max_amount),
        r#" inputmode="decimal""#,
    );
    field(
        body,
        "assignee",
        &i18n::ASSIGNEE,
        "text",
        &value(&q.assignee),
        "",
    );
    let _ = write!(
        body,
        r#"<span><label for="older_than">{age}</label><select id="older_than" name="older_than"><option value="">{any}</option>"#,
        age = t(&i18n::WAITING_AT_LEAST, lang),
        any = t(&i18n::ANY_AGE, lang),
    );
    for (seconds, label) in [
        (3_600, &i18n::ONE_HOUR),
        (4 * 3_600, &i18n::FOUR_HOURS),
        (86_400, &i18n::ONE_DAY),
    ] {
        let selected = if q.older_than == Some(seconds) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            r#"<option value="{seconds}"{selected}>{}</option>"#,
            t(label, lang)
        );
    }
    let _ = write!(
        body,
        r#"</select></span><span><button class="plain" type="submit">{}</button></span></div></details></form>"#,
        t(&i18n::FILTER, lang),
    );
}

/// The queue: the counts per status, the filters, one page of reviews, the next link.
pub fn queue(
    lang: Lang,
    viewer: &Viewer<'_>,
    page_of: &ReviewPage,
    shown: &Shown<'_>,
    calendar: &Calendar,
    now: i64,
) -> String {
    let mut body = String::new();
    signed_in_bar(&mut body, lang, viewer);
    let _ = write!(
        body,
        r#"<nav class="counts" aria-label="{moves}"><a href="/console/overview">{overview}</a></nav><h2>{queue}</h2>"#,
        moves = t(&i18n::MOVES, lang),
        overview = t(&i18n::OVERVIEW, lang),
        queue = t(&i18n::QUEUE, lang),
    );
    filters(&mut body, lang, page_of, shown);
    let suffix = if shown.kept.is_empty() {
        String::new()
    } else {
        format!("?{}", shown.kept)
    };
    if viewer.works {
        let _ = write!(
            body,
            r#"<p><a href="/console/next{}" data-key="w">{}</a></p>"#,
            escape(&suffix),
            t(&i18n::TAKE_NEXT, lang)
        );
    }
    keys(&mut body, lang, &i18n::KEYS_QUEUE);
    if page_of.reviews.is_empty() {
        let _ = write!(body, "<p>{}</p>", t(&i18n::NONE_WAITING, lang));
        return page(lang, i18n::QUEUE.get(lang), &body);
    }
    let headings = [
        &i18n::RECEIVED,
        &i18n::ROUTE,
        &i18n::AMOUNT,
        &i18n::SCORE,
        &i18n::REASONS,
        &i18n::STATUS,
    ];
    // The table sits in the bulk form: each open row has a labelled checkbox.
    if viewer.works {
        let _ = write!(
            body,
            r#"<form method="post" action="/console/bulk" data-confirm="{confirm}" id="bulk"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="back" value="/console/{back}">"#,
            confirm = t(&i18n::CONFIRM_BULK, lang),
            csrf = escape(viewer.csrf),
            back = escape(&suffix),
        );
    }
    body.push_str("<table>\n<thead><tr>");
    if viewer.works {
        let _ = write!(
            body,
            r#"<th scope="col"><span class="hidden-label">{}</span></th>"#,
            t(&i18n::SELECT, lang)
        );
    }
    for (i, h) in headings.iter().enumerate() {
        let class = if i == 2 || i == 3 {
            r#" class="num""#
        } else {
            ""
        };
        let _ = write!(body, r#"<th scope="col"{class}>{}</th>"#, t(h, lang));
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    let shape = Row {
        lang,
        calendar,
        now,
        headings: &headings,
        select: viewer.works,
        suffix: &suffix,
    };
    for review in &page_of.reviews {
        row(&mut body, review, &shape);
    }
    body.push_str("</tbody>\n</table>\n");
    if viewer.works {
        let _ = write!(
            body,
            r#"<p class="bulk">{selected} <button type="submit" name="outcome" value="approved">{approve}</button> <button type="submit" name="outcome" value="fraud">{fraud}</button></p></form>"#,
            selected = t(&i18n::BULK_SELECTED, lang),
            approve = t(&i18n::APPROVE, lang),
            fraud = t(&i18n::FRAUD, lang),
        );
    }
    if let Some(next) = &page_of.next {
        let _ = write!(
            body,
            r#"<p><a rel="next" href="/console/?{}after={}">{}</a></p>"#,
            escape(&if shown.kept.is_empty() {
                String::new()
            } else {
                format!("{}&", shown.kept)
            }),
            escape(&next.to_text()),
            t(&i18n::NEXT_PAGE, lang)
        );
    }
    page(lang, i18n::QUEUE.get(lang), &body)
}

/// How the rows of one page are drawn.
struct Row<'a> {
    lang: Lang,
    calendar: &'a Calendar,
    now: i64,
    headings: &'a [&'a Msg; 6],
    /// A checkbox for the bulk decision on each open row.
    select: bool,
    /// The filters, for the review's link (its previous and next follow them).
    suffix: &'a str,
}

fn row(body: &mut String, review: &Review, shape: &Row<'_>) {
    let lang = shape.lang;
    let local = shape.calendar.local_text(review.at).unwrap_or_default();
    let (utc, machine) = jiff::Timestamp::from_second(review.at)
        .map(|t| (t.strftime("%Y-%m-%d %H:%M UTC").to_string(), t.to_string()))
        .unwrap_or_default();
    let amount = match (&review.amount, &review.currency) {
        (Some(a), Some(c)) => money(a, c),
        _ => "-".to_string(),
    };
    let score = review.score.map_or("-".to_string(), |s| s.to_string());
    let label = |i: usize| t(shape.headings[i], lang);
    let status = ReviewStatus::of(review, shape.now);
    let id = escape(&review.id);
    body.push_str(&format!(r#"<tr id="review-{id}">"#));
    if shape.select {
        if status == ReviewStatus::Resolved {
            body.push_str("<td></td>");
        } else {
            let _ = write!(
                body,
                r#"<td data-label="{}"><input type="checkbox" name="id" value="{id}" id="pick-{id}" aria-label="{}"></td>"#,
                t(&i18n::SELECT, lang),
                escape(&i18n::fill(&i18n::SELECT_REVIEW, lang, &[("time", &local)])),
            );
        }
    }
    let _ = writeln!(
        body,
        r#"<td data-label="{l0}"><a href="/console/reviews/{id}{suffix}" data-open><time datetime="{machine}" title="{utc}">{local}</time></a></td><td data-label="{l1}">{route}</td><td class="num" data-label="{l2}">{amount}</td><td class="num" data-label="{l3}">{score}</td><td data-label="{l4}">{reasons}</td><td data-label="{l5}">{status}</td></tr>"#,
        suffix = escape(shape.suffix),
        machine = escape(&machine),
        utc = escape(&utc),
        local = escape(&local),
        route = escape(&review.route),
        amount = escape(&amount),
        score = escape(&score),
        reasons = escape(&review.reasons.join(", ")),
        status = t(status_name(status), lang),
        l0 = label(0),
        l1 = label(1),
        l2 = label(2),
        l3 = label(3),
        l4 = label(4),
        l5 = label(5),
    );
}

/// What came of a bulk decision, review by review (`list` is HTML the caller escaped).
pub fn bulk_result(lang: Lang, outcome: Outcome, list: &str, back: &str) -> String {
    let outcome = match outcome {
        Outcome::Approved => i18n::APPROVE.get(lang),
        Outcome::Fraud => i18n::FRAUD.get(lang),
    };
    let title = i18n::fill(&i18n::BULK_TITLE, lang, &[("outcome", outcome)]);
    let body = format!(
        r#"<h2>{title}</h2>
{list}
<p><a href="{back}" data-key="q">{queue}</a></p>"#,
        title = escape(&title),
        back = escape(back),
        queue = t(&i18n::BACK, lang),
    );
    page(lang, &title, &body)
}
