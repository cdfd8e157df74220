//! The console's pages as HTML, rendered on the server: every value escaped, no inline
//! script or style (the page's Content-Security-Policy allows only the console's own
//! files), labels on every control, times in the shop's zone with UTC on hover, amounts in
//! their currency as a Peruvian reader writes them (`S/ 1,234.50`).

use super::i18n::{self, fill, Lang, Msg};
use crate::core::calendar::Calendar;
use crate::state::store::queue::{ReviewPage, ReviewQuery, ReviewStatus};
use crate::state::store::review::Review;
use std::fmt::Write;

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn t(msg: &Msg, lang: Lang) -> String {
    escape(msg.get(lang))
}

/// `1234.5` in `PEN` as `S/ 1,234.50`; other currencies by their code.
pub fn money(amount: &str, currency: &str) -> String {
    let symbol = match currency {
        "PEN" => "S/",
        "USD" => "US$",
        other => other,
    };
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        "" => format!("{symbol} {grouped}"),
        f => format!("{symbol} {grouped}.{f}"),
    }
}

/// A whole page around `body`.
fn page(lang: Lang, title: &str, body: &str) -> String {
    let mut langs = String::new();
    for other in Lang::ALL {
        let _ = write!(
            langs,
            r#"<a href="?lang={}" hreflang="{}" lang="{}">{}</a>"#,
            other.code(),
            other.tag(),
            other.tag(),
            other.name()
        );
    }
    format!(
        r#"<!doctype html>
<html lang="{tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
</head>
<body>
<header><h1>{console}</h1><nav class="langs" aria-label="{language}">{langs}</nav></header>
<main>
{body}
</main>
</body>
</html>
"#,
        tag = lang.tag(),
        title = escape(title),
        console = t(&i18n::TITLE, lang),
        language = t(&i18n::LANGUAGE, lang),
    )
}

/// The sign-in page, with what went wrong, if anything.
pub fn login(lang: Lang, problem: Option<&str>) -> String {
    let problem = problem.map_or(String::new(), |p| {
        format!(r#"<p class="error" role="alert">{}</p>"#, escape(p))
    });
    let body = format!(
        r#"<h2>{sign_in}</h2>
{problem}
<form method="post" action="/console/login">
<label for="token">{token}</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p><button type="submit">{sign_in}</button></p>
</form>"#,
        sign_in = t(&i18n::SIGN_IN, lang),
        token = t(&i18n::TOKEN, lang),
    );
    page(lang, i18n::SIGN_IN.get(lang), &body)
}

fn status_name(status: ReviewStatus) -> &'static Msg {
    match status {
        ReviewStatus::Waiting => &i18n::WAITING,
        ReviewStatus::Claimed => &i18n::CLAIMED,
        ReviewStatus::Escalated => &i18n::ESCALATED,
        ReviewStatus::Resolved => &i18n::RESOLVED,
    }
}

/// Who is signed in, and the form that signs them out.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub csrf: &'a str,
}

/// The page's keyboard shortcuts, listed where people see them.
fn keys(body: &mut String, lang: Lang, which: &Msg) {
    let _ = write!(
        body,
        r#"<p class="keys"><strong>{}:</strong> {}</p>"#,
        t(&i18n::KEYS, lang),
        t(which, lang)
    );
}

/// Who is signed in, and the sign-out form (which carries the session's CSRF token).
fn signed_in_bar(body: &mut String, lang: Lang, viewer: &Viewer<'_>) {
    let _ = write!(
        body,
        r#"<p>{who}</p>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{csrf}"><button class="plain" type="submit">{sign_out}</button></form>
"#,
        who = escape(&fill(
            &i18n::SIGNED_IN_AS,
            lang,
            &[("name", viewer.name), ("role", viewer.role)]
        )),
        csrf = escape(viewer.csrf),
        sign_out = t(&i18n::SIGN_OUT, lang),
    );
}

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
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let _ = write!(
        body,
        r#"<form method="get" action="/console/" class="counts"><label for="route">{route}</label><input id="route" name="route" type="text" value="{route_v}" data-key="/"><label for="rule">{reasons}</label><input id="rule" name="rule" type="text" value="{rule_v}"><label for="order">{order}</label><select id="order" name="order"><option value="oldest">{oldest}</option><option value="newest"{newest_sel}>{newest}</option></select><button class="plain" type="submit">{filter}</button></form>"#,
        route = t(&i18n::ROUTE, lang),
        route_v = value(&shown.query.route),
        reasons = t(&i18n::REASONS, lang),
        rule_v = value(&shown.query.rule),
        order = t(&i18n::SORT, lang),
        oldest = t(&i18n::OLDEST_FIRST, lang),
        newest = t(&i18n::NEWEST_FIRST, lang),
        newest_sel = if shown.query.newest_first {
            " selected"
        } else {
            ""
        },
        filter = t(&i18n::FILTER, lang),
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
    let _ = write!(body, "<h2>{}</h2>", t(&i18n::QUEUE, lang));
    filters(&mut body, lang, page_of, shown);
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
    body.push_str("<table>\n<thead><tr>");
    for (i, h) in headings.iter().enumerate() {
        let class = if i == 2 || i == 3 {
            r#" class="num""#
        } else {
            ""
        };
        let _ = write!(body, r#"<th scope="col"{class}>{}</th>"#, t(h, lang));
    }
    body.push_str("</tr></thead>\n<tbody>\n");
    for review in &page_of.reviews {
        row(&mut body, review, lang, calendar, now, &headings);
    }
    body.push_str("</tbody>\n</table>\n");
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

fn row(
    body: &mut String,
    review: &Review,
    lang: Lang,
    calendar: &Calendar,
    now: i64,
    headings: &[&Msg; 6],
) {
    let local = calendar.local_text(review.at).unwrap_or_default();
    let utc = jiff::Timestamp::from_second(review.at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let amount = match (&review.amount, &review.currency) {
        (Some(a), Some(c)) => money(a, c),
        _ => "-".to_string(),
    };
    let score = review.score.map_or("-".to_string(), |s| s.to_string());
    let label = |i: usize| t(headings[i], lang);
    let _ = writeln!(
        body,
        r#"<tr id="review-{id}"><td data-label="{l0}"><a href="/console/reviews/{id}" data-open><time datetime="{at}" title="{utc}">{local}</time></a></td><td data-label="{l1}">{route}</td><td class="num" data-label="{l2}">{amount}</td><td class="num" data-label="{l3}">{score}</td><td data-label="{l4}">{reasons}</td><td data-label="{l5}">{status}</td></tr>"#,
        id = escape(&review.id),
        at = escape(&utc),
        utc = escape(&utc),
        local = escape(&local),
        route = escape(&review.route),
        amount = escape(&amount),
        score = escape(&score),
        reasons = escape(&review.reasons.join(", ")),
        status = t(status_name(ReviewStatus::of(review, now)), lang),
        l0 = label(0),
        l1 = label(1),
        l2 = label(2),
        l3 = label(3),
        l4 = label(4),
        l5 = label(5),
    );
}

/// What the person looking at a review may do with it.
pub struct Powers<'a> {
    /// They may work it (a reviewer or an admin) and nobody else holds it.
    pub decide: bool,
    /// The facts a fraud decision blocks, each a checkbox, ticked.
    pub fraud_blocks: &'a [&'a str],
}

/// One review: what it is, who holds it, its notes, and the forms to decide it.
pub fn review(
    lang: Lang,
    viewer: &Viewer<'_>,
    item: &Review,
    powers: &Powers<'_>,
    calendar: &Calendar,
    now: i64,
) -> String {
    let local = |at: i64| calendar.local_text(at).unwrap_or_default();
    let mut body = String::new();
    let title = fill(&i18n::REVIEW, lang, &[("id", &item.id)]);
    signed_in_bar(&mut body, lang, viewer);
    let _ = write!(
        body,
        r#"<p><a href="/console/" data-key="q">{back}</a></p>
<h2>{title}</h2>
<dl>"#,
        back = t(&i18n::BACK, lang),
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
    if powers.decide && item.resolution.is_none() {
        keys(&mut body, lang, &i18n::KEYS_REVIEW);
        let action = format!("/console/reviews/{}", escape(&item.id));
        let csrf = escape(viewer.csrf);
        let _ = write!(
            body,
            r#"<form method="post" action="{action}/notes"><input type="hidden" name="csrf" value="{csrf}"><label for="note">{add}</label><p>{hint}</p><textarea id="note" name="text" rows="3" cols="60" maxlength="2000" required data-key="t"></textarea><p><button class="plain" type="submit">{add}</button></p></form>
<form method="post" action="{action}/decide"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="outcome" value="approved"><button type="submit" data-key="a">{approve}</button></form>
<form method="post" action="{action}/decide" data-confirm="{confirm}"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="outcome" value="fraud"><fieldset><legend>{blocks}</legend>"#,
            add = t(&i18n::ADD_NOTE, lang),
            hint = t(&i18n::NOTE_HINT, lang),
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
            r#"</fieldset><button type="submit" data-key="f">{fraud}</button></form>
<form method="post" action="{action}/escalate"><input type="hidden" name="csrf" value="{csrf}"><button class="plain" type="submit" data-key="e">{escalate}</button></form>
"#,
            fraud = t(&i18n::FRAUD, lang),
            escalate = t(&i18n::ESCALATE, lang),
        );
    }
    page(lang, &title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_amounts_read_as_in_peru() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(money("1234.50", "PEN"), "S/ 1,234.50");
        assert_eq!(money("1234567.5", "USD"), "US$ 1,234,567.5");
        assert_eq!(money("950", "CLP"), "CLP 950");
        assert_eq!(money("100000", "PEN"), "S/ 100,000");
    }

    #[test]
    fn the_sign_in_page_speaks_the_persons_language_and_runs_no_inline_script() {
        for lang in Lang::ALL {
            let html = login(lang, Some("<script>alert(1)</script>"));
            assert!(html.contains(&format!(r#"<html lang="{}">"#, lang.tag())));
            assert!(html.contains(&escape(i18n::SIGN_IN.get(lang))));
            assert!(
                html.contains(r#"<label for="token">"#),
                "a labelled control"
            );
            assert!(!html.contains("<script>alert"), "the problem is escaped");
            assert_eq!(
                html.matches("<script").count(),
                1,
                "only the console's own file"
            );
            assert!(!html.contains("style="), "no inline style");
        }
    }
}
