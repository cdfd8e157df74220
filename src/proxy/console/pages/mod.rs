//! The console's pages as HTML, rendered on the server: every value escaped, no inline
//! script or style (the page's Content-Security-Policy allows only the console's own
//! files), labels on every control, times in the shop's zone with UTC on hover, amounts in
//! their currency as a Peruvian reader writes them (`S/ 1,234.50`).

use super::i18n::{self, fill, Lang, Msg};
use crate::state::store::queue::ReviewStatus;
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
    /// They work the queue (a reviewer or an admin), not only read it.
    pub works: bool,
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

mod history;
mod overview;
mod queue;
mod review;
pub use history::{Codes, KeyHistory, Orders};
pub use overview::{overview, Overview, Resolved};
pub use queue::{bulk_result, queue, Shown};
pub use review::{review, Around, Nav, Powers};

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
