//! Working through the queue: the filters a person set, carried from page to page;
//! "next" (the oldest review nobody holds under those filters, which opening then
//! claims), "previous" (the review before this one in the queue's order), and a bulk
//! decision over the rows a person ticked.
//!
//! A bulk decision is each review decided on its own, as its page would decide it (the
//! same refusals: held by someone else, escalated to admins, decided meanwhile), and a
//! fraud decision in bulk blocks every fact each review's policy names for fraud: there is
//! no row-by-row unticking, and the confirmation says so.

use super::i18n::{self, fill};
use super::reviews::{decide, Decided, View};
use super::{field, html, pages, see_other, Reply};
use crate::config::Role;
use crate::proxy::admin::queue::parse_query;
use crate::state::store::queue::{Cursor, ReviewQuery, ReviewStatus};
use crate::state::store::review::{Outcome, Review};
use std::fmt::Write;

/// The most reviews one bulk decision takes (a page of the queue).
const BULK_MAX: usize = 50;

/// The queue's filters as the URL carries them.
pub(super) struct Filters {
    pub query: ReviewQuery,
    /// The filters as a link keeps them: without the cursor, the language or blanks.
    pub kept: String,
}

impl Filters {
    /// The filters of a URL's query; what is wrong with them otherwise.
    pub fn from_query(raw: &str) -> Result<Self, String> {
        let kept: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(raw.as_bytes())
                    .filter(|(n, v)| n != "lang" && n != "after" && !v.is_empty()),
            )
            .finish();
        let with_after: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(raw.as_bytes()).filter(|(n, _)| n != "lang"))
            .finish();
        let mut query = parse_query(&with_after)?;
        if !raw.contains("limit=") {
            query.limit = 50;
        }
        Ok(Filters { query, kept })
    }

    /// `?` and the kept filters, or nothing.
    pub fn suffix(&self) -> String {
        if self.kept.is_empty() {
            String::new()
        } else {
            format!("?{}", self.kept)
        }
    }
}

/// The oldest review nobody holds under `filters`: its page, or the queue if none.
pub(super) async fn next(view: &View<'_>, filters: &Filters, extra: &[(&str, String)]) -> Reply {
    let query = ReviewQuery {
        status: Some(ReviewStatus::Waiting),
        all_statuses: false,
        newest_first: false,
        after: None,
        limit: 1,
        ..filters.query.clone()
    };
    match view.served.review_page(&query).await {
        Ok(page) => match page.reviews.first() {
            Some(review) => see_other(
                &format!("/console/reviews/{}{}", review.id, filters.suffix()),
                extra,
            ),
            None => see_other(&format!("/console/{}", filters.suffix()), extra),
        },
        Err(_) => html(503, String::new(), extra),
    }
}

/// The review before `this` in the queue's order under `filters`, if any.
pub(super) async fn previous(view: &View<'_>, filters: &Filters, this: &Review) -> Option<String> {
    let query = ReviewQuery {
        newest_first: !filters.query.newest_first,
        after: Some(Cursor::of(this)),
        limit: 1,
        ..filters.query.clone()
    };
    let page = view.served.review_page(&query).await.ok()?;
    page.reviews.first().map(|r| r.id.clone())
}

/// Decide the ticked reviews (`id` fields) one by one; a page says what came of each.
pub(super) async fn bulk(view: &View<'_>, body: &[u8], extra: &[(&str, String)]) -> Reply {
    let who = &view.signed_in;
    let csrf = field(body, "csrf").unwrap_or_default();
    if !who.csrf_matches(&csrf) {
        let text = i18n::BAD_FORM.get(view.lang);
        return html(403, pages::login(view.lang, Some(text)), extra);
    }
    if who.role < Role::Reviewer {
        return html(403, pages::escape(i18n::FORBIDDEN.get(view.lang)), extra);
    }
    let Some(outcome) = field(body, "outcome").as_deref().and_then(Outcome::parse) else {
        return html(400, String::new(), extra);
    };
    let mut ids: Vec<String> = form_urlencoded::parse(body)
        .filter(|(n, _)| n == "id")
        .map(|(_, v)| v.into_owned())
        .collect();
    ids.dedup();
    if ids.is_empty() || ids.len() > BULK_MAX {
        let text = fill(
            &i18n::BULK_HOW_MANY,
            view.lang,
            &[("max", &BULK_MAX.to_string())],
        );
        return html(400, pages::escape(&text), extra);
    }
    let back = field(body, "back").filter(|b| b.starts_with("/console/") && !b.contains("//"));
    let mut lines = Vec::with_capacity(ids.len());
    for id in &ids {
        let what = match view.served.review(id).await {
            Ok(Some(review)) => match decide(view, &review, outcome, None).await {
                Decided::Now => fill(&i18n::BULK_DONE, view.lang, &[]),
                Decided::Already(by) => fill(&i18n::BULK_ALREADY, view.lang, &[("name", &by)]),
                Decided::Refused(why) => why.get(view.lang).to_string(),
                Decided::Unknown => i18n::UNKNOWN_REVIEW.get(view.lang).to_string(),
                Decided::StoreDown => i18n::STORE_DOWN.get(view.lang).to_string(),
            },
            Ok(None) => i18n::UNKNOWN_REVIEW.get(view.lang).to_string(),
            Err(_) => i18n::STORE_DOWN.get(view.lang).to_string(),
        };
        lines.push((id.clone(), what));
    }
    let mut body = String::new();
    let _ = write!(body, "<ul>");
    for (id, what) in &lines {
        let _ = write!(
            body,
            r#"<li><a href="/console/reviews/{id}">{id}</a>: {what}</li>"#,
            id = pages::escape(id),
            what = pages::escape(what),
        );
    }
    body.push_str("</ul>");
    let back = back.unwrap_or_else(|| "/console/".into());
    html(
        200,
        pages::bulk_result(view.lang, outcome, &body, &back),
        extra,
    )
}
