//! The overview page: the last day's decisions per hour by verdict and the rules that
//! fired most, drawn as SVG on the server (presentation attributes only: the page's
//! Content-Security-Policy allows no inline style or script), each chart with its numbers
//! in a table beside it for screen readers and for copying; the reviews waiting and
//! decided today with the fraud share; amount-anomaly alarms; upstream and store health.

use super::{escape, page, signed_in_bar, t, Viewer};
use crate::core::calendar::Calendar;
use crate::observe::hourly::LastDay;
use crate::proxy::console::i18n::{self, fill, Lang, Msg};
use std::fmt::Write;

/// Reviews decided today, by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub approved: usize,
    pub fraud: usize,
}

/// What the overview shows.
pub struct Overview {
    /// When it was read (Unix seconds): the chart's last hour is this one's.
    pub now: i64,
    pub day: LastDay,
    /// Open reviews, and whether the count stopped at its cap.
    pub waiting: Option<(usize, bool)>,
    pub resolved: Option<Resolved>,
    /// Amount-anomaly alarms on: `policy/rule/currency`.
    pub anomalies: Vec<String>,
    /// Each upstream, and whether it is in the rotation.
    pub upstreams: Vec<(String, bool)>,
    /// The store's kind, and whether it answered.
    pub store: (&'static str, bool),
    /// Review events waiting for the shop.
    pub outbox: i64,
}

/// The verdicts drawn, with their colours (each at least 4.5:1 on white).
const VERDICTS: [(&str, &Msg, &str); 3] = [
    ("allow", &i18n::ALLOWED, "#2e6b30"),
    ("review", &i18n::REVIEWED, "#9a4a00"),
    ("deny", &i18n::DENIED, "#a3201b"),
];
const WIDTH: u32 = 720;
const HEIGHT: u32 = 200;
const BOTTOM: u32 = 20;

/// The local hour of `at`, `HH`.
fn hour_label(calendar: &Calendar, at: i64) -> String {
    let text = calendar.local_text(at).unwrap_or_default();
    text.get(11..13).unwrap_or("").to_string()
}

/// Stacked bars of decisions per hour, with a table of the same numbers.
fn hours_chart(body: &mut String, lang: Lang, day: &LastDay, now: i64, calendar: &Calendar) {
    let _ = write!(
        body,
        "<h3 id=\"per-hour\">{}</h3>",
        t(&i18n::PER_HOUR, lang)
    );
    if day.hours.is_empty() {
        let _ = write!(body, "<p>{}</p>", t(&i18n::NO_HOURS_YET, lang));
        return;
    }
    let count = |row: &crate::observe::hourly::Totals, v: &str| row.get(v).copied().unwrap_or(0);
    let max = day
        .hours
        .iter()
        .map(|(_, row)| VERDICTS.iter().map(|(v, _, _)| count(row, v)).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / 24;
    let plot = HEIGHT - BOTTOM;
    let _ = write!(
        body,
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="per-hour"><title>{title}</title><line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#4a5260"/>"##,
        title = t(&i18n::PER_HOUR, lang),
    );
    // 24 slots, the current hour on the right.
    let this_hour = now - now.rem_euclid(3_600);
    let slot_of = |hour: i64| 23 - ((this_hour - hour) / 3_600).clamp(0, 23) as u32;
    for back in (0..24).step_by(3) {
        let hour = this_hour - (23 - back) * 3_600;
        let _ = write!(
            body,
            r##"<text x="{x}" y="{ty}" font-size="12" fill="#1b1f24">{hh}</text>"##,
            x = back as u32 * slot + 2,
            ty = HEIGHT - 4,
            hh = hour_label(calendar, hour),
        );
    }
    for (hour, row) in &day.hours {
        let x = slot_of(*hour) * slot + 2;
        let mut y = plot;
        for (verdict, name, colour) in VERDICTS {
            let n = count(row, verdict);
            if n == 0 {
                continue;
            }
            let h = ((n * u64::from(plot - 12)) / max).max(1) as u32;
            y -= h;
            let _ = write!(
                body,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{colour}"><title>{hh}:00 {name}: {n}</title></rect>"#,
                w = slot - 4,
                hh = hour_label(calendar, *hour),
                name = t(name, lang),
            );
        }
    }
    let _ = write!(
        body,
        r##"<text x="{x}" y="12" font-size="12" fill="#1b1f24" text-anchor="end">{max}</text></svg><ul class="legend">"##,
        x = WIDTH - 2,
    );
    for (_, name, colour) in VERDICTS {
        let _ = write!(
            body,
            r#"<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{colour}"/></svg> {}</li>"#,
            t(name, lang)
        );
    }
    let _ = write!(
        body,
        r#"</ul><details><summary>{}</summary><table><thead><tr><th scope="col">{}</th>"#,
        t(&i18n::AS_TABLE, lang),
        t(&i18n::HOUR, lang)
    );
    for (_, name, _) in VERDICTS {
        let _ = write!(
            body,
            r#"<th scope="col" class="num">{}</th>"#,
            t(name, lang)
        );
    }
    body.push_str("</tr></thead><tbody>");
    for (hour, row) in &day.hours {
        let _ = write!(
            body,
            "<tr><td>{}</td>",
            escape(&calendar.local_text(*hour).unwrap_or_default())
        );
        for (verdict, _, _) in VERDICTS {
            let _ = write!(body, r#"<td class="num">{}</td>"#, count(row, verdict));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></details>\n");
}

/// The rules that fired most over the span, as bars, with their numbers.
fn rules_chart(body: &mut String, lang: Lang, day: &LastDay) {
    let _ = write!(body, "<h3 id=\"rules\">{}</h3>", t(&i18n::TOP_RULES, lang));
    let mut rules: Vec<(&String, &u64)> = day.rules.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    rules.truncate(10);
    if rules.is_empty() {
        let _ = write!(body, "<p>{}</p>", t(&i18n::NO_RULES_FIRED, lang));
        return;
    }
    let max = *rules[0].1;
    let row = 24;
    let height = row * rules.len() as u32;
    let _ = write!(
        body,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-labelledby="rules"><title>{}</title>"#,
        t(&i18n::TOP_RULES, lang)
    );
    for (i, (name, n)) in rules.iter().enumerate() {
        let y = i as u32 * row;
        let w = ((**n * 320) / max.max(1)).max(1);
        let shown = name.replace('/', " · ");
        let _ = write!(
            body,
            r##"<text x="0" y="{ty}" font-size="13" fill="#1b1f24">{label}</text><rect x="330" y="{ry}" width="{w}" height="16" fill="#0b5cad"><title>{label}: {n}</title></rect><text x="{nx}" y="{ty}" font-size="13" fill="#1b1f24">{n}</text>"##,
            ty = y + 16,
            ry = y + 4,
            label = escape(&shown),
            nx = 336 + w,
        );
    }
    body.push_str("</svg>\n");
}

fn fact(body: &mut String, label: &Msg, lang: Lang, value: &str) {
    let _ = write!(
        body,
        "<dt>{}</dt><dd>{}</dd>",
        t(label, lang),
        escape(value)
    );
}

pub fn overview(lang: Lang, viewer: &Viewer<'_>, o: &Overview, calendar: &Calendar) -> String {
    let mut body = String::new();
    signed_in_bar(&mut body, lang, viewer);
    let since = o
        .day
        .since
        .and_then(|at| calendar.local_text(at))
        .unwrap_or_else(|| "-".into());
    let _ = write!(
        body,
        r#"<nav class="counts" aria-label="{moves}"><a href="/console/" data-key="q">{back}</a></nav><h2>{title}</h2><p>{since}</p>"#,
        moves = t(&i18n::MOVES, lang),
        back = t(&i18n::BACK, lang),
        title = t(&i18n::OVERVIEW, lang),
        since = escape(&fill(&i18n::COUNTED_SINCE, lang, &[("time", &since)])),
    );
    body.push_str("<dl>");
    let waiting = match o.waiting {
        Some((n, true)) => format!("≥ {n}"),
        Some((n, false)) => n.to_string(),
        None => "-".into(),
    };
    fact(&mut body, &i18n::WAITING, lang, &waiting);
    let resolved = o.resolved.map_or("-".to_string(), |r| {
        let all = r.approved + r.fraud;
        let share = (r.fraud * 100).checked_div(all).unwrap_or(0);
        fill(
            &i18n::RESOLVED_TODAY_VALUE,
            lang,
            &[
                ("count", &all.to_string()),
                ("approved", &r.approved.to_string()),
                ("fraud", &r.fraud.to_string()),
                ("share", &share.to_string()),
            ],
        )
    });
    fact(&mut body, &i18n::RESOLVED_TODAY, lang, &resolved);
    let anomalies = if o.anomalies.is_empty() {
        i18n::NO_ANOMALY.get(lang).to_string()
    } else {
        o.anomalies.join(", ").replace('/', " · ")
    };
    fact(&mut body, &i18n::AMOUNT_ANOMALY, lang, &anomalies);
    for (addr, up) in &o.upstreams {
        let state = if *up { &i18n::UP } else { &i18n::DOWN };
        let text = format!("{addr}: {}", state.get(lang));
        fact(&mut body, &i18n::UPSTREAM, lang, &text);
    }
    let store = if o.store.1 { &i18n::UP } else { &i18n::DOWN };
    fact(
        &mut body,
        &i18n::STORE,
        lang,
        &format!("{}: {}", o.store.0, store.get(lang)),
    );
    fact(
        &mut body,
        &i18n::EVENTS_WAITING,
        lang,
        &o.outbox.to_string(),
    );
    body.push_str("</dl>\n");
    hours_chart(&mut body, lang, &o.day, o.now, calendar);
    rules_chart(&mut body, lang, &o.day);
    page(lang, i18n::OVERVIEW.get(lang), &body)
}
