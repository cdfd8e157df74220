//! One review in the console: opening it claims it for the person (a reviewer or an
//! admin, when nobody else holds it), and its forms note, escalate or decide it, each
//! checked against the session's CSRF token and the person's role, and written to the
//! audit trail with their name, as the admin API writes them.

use super::i18n::{self, Lang};
use super::session::Session;
use super::work::Filters;
use super::{field, html, pages, see_other, Audit, Reply};
use crate::config::Role;
use crate::proxy::served::Served;
use crate::state::store::review::{
    Changed, Escalation, Note, Outcome, Resolution, Resolved, Review, ReviewChange,
};

/// How long opening a review holds it.
const CLAIM_SECONDS: i64 = 10 * 60;

pub(super) struct View<'a> {
    pub lang: Lang,
    pub signed_in: &'a Session,
    pub served: &'a Served,
    pub now: i64,
    pub audit: &'a Audit<'a>,
}

/// The facts a fraud decision on `review` blocks: its policy's, among the keys it has.
fn fraud_blocks<'r>(served: &Served, review: &'r Review) -> Vec<&'r str> {
    let allowed: Vec<&str> = served
        .config
        .policies
        .find(&review.policy)
        .map(|p| {
            served.config.policies[p]
                .fraud_blocks
                .iter()
                .map(|k| k.as_str())
                .collect()
        })
        .unwrap_or_else(|| {
            crate::core::policy::DEFAULT_FRAUD_BLOCKS
                .iter()
                .map(|k| k.as_str())
                .collect()
        });
    review
        .identity_keys()
        .map(|(fact, _)| fact)
        .filter(|fact| allowed.contains(fact))
        .collect()
}

fn not_found(view: &View<'_>, extra: &[(&str, String)]) -> Reply {
    let text = i18n::UNKNOWN_REVIEW.get(view.lang);
    html(404, pages::escape(text), extra)
}

pub(super) async fn show(
    view: &View<'_>,
    id: &str,
    filters: &Filters,
    extra: &[(&str, String)],
) -> Reply {
    let Ok(found) = view.served.review(id).await else {
        return html(503, String::new(), extra);
    };
    let Some(mut review) = found else {
        return not_found(view, extra);
    };
    let who = &view.signed_in;
    let works = who.role >= Role::Reviewer;
    let held_by_other = review
        .claim
        .as_ref()
        .is_some_and(|c| c.until > view.now && c.by != *who.name);
    // An escalated review waits for an admin: a reviewer reads it and may add a note.
    let for_admins = review.escalation.is_some() && who.role < Role::Admin;
    if works && review.resolution.is_none() && !held_by_other && !for_admins {
        let claim = ReviewChange::Claim {
            by: who.name.to_string(),
            until: view.now + CLAIM_SECONDS,
        };
        if let Ok(Changed::Now(claimed)) = view.served.change_review(id, &claim).await {
            (view.audit)(
                "review_claimed",
                &who.name,
                serde_json::json!({ "review": id, "until": view.now + CLAIM_SECONDS }),
            );
            review = claimed;
        }
    }
    let powers = pages::Powers {
        decide: works && !held_by_other && !for_admins,
        note: works && !held_by_other,
        fraud_blocks: &fraud_blocks(view.served, &review),
    };
    let viewer = pages::Viewer {
        name: &who.name,
        role: who.role.as_str(),
        csrf: &who.csrf,
        works,
    };
    let previous = super::work::previous(view, filters, &review).await;
    let nav = pages::Nav {
        previous: previous.map(|p| format!("/console/reviews/{p}{}", filters.suffix())),
        next: format!("/console/next{}", filters.suffix()),
        queue: format!("/console/{}", filters.suffix()),
    };
    let calendar = &view.served.config.identity.calendar;
    let policies = &view.served.config.policies;
    let history = super::customer::history(view.served, &review).await;
    let around = pages::Around {
        policy: policies.find(&review.policy).map(|id| &policies[id]),
        history: &history,
        nav: &nav,
    };
    html(
        200,
        pages::review(
            view.lang, &viewer, &review, &powers, &around, calendar, view.now,
        ),
        extra,
    )
}

/// What came of one decision.
pub(super) enum Decided {
    Now,
    /// Someone decided it first: their name.
    Already(String),
    /// Not this person's to decide: why.
    Refused(&'static i18n::Msg),
    Unknown,
    StoreDown,
}

/// Decide `review` as the signed-in person: `ticked` narrows a fraud decision's blocks
/// (`None`: every fact the policy blocks for fraud). An escalated review is an admin's to
/// decide, and one held by someone else is theirs. Audited by name, as the admin API does.
pub(super) async fn decide(
    view: &View<'_>,
    review: &Review,
    outcome: Outcome,
    ticked: Option<&[String]>,
) -> Decided {
    let who = &view.signed_in;
    if review.escalation.is_some() && review.resolution.is_none() && who.role < Role::Admin {
        return Decided::Refused(&i18n::ESCALATED_TO_ADMINS);
    }
    if review
        .claim
        .as_ref()
        .is_some_and(|c| c.until > view.now && c.by != *who.name)
        && review.resolution.is_none()
    {
        return Decided::Refused(&i18n::HELD_BY_SOMEONE);
    }
    let blocks: Vec<String> = match outcome {
        Outcome::Approved => Vec::new(),
        Outcome::Fraud => fraud_blocks(view.served, review)
            .into_iter()
            .filter(|f| ticked.is_none_or(|t| t.iter().any(|t| t == f)))
            .map(String::from)
            .collect(),
    };
    let by = who.name.to_string();
    let resolution = Resolution {
        outcome,
        by: by.clone(),
        at: view.now,
        blocks: blocks.clone(),
    };
    match view.served.resolve_review(&review.id, &resolution).await {
        Ok(Resolved::Now(done)) => {
            (view.audit)(
                "review_resolved",
                &by,
                serde_json::json!({
                    "review": done.id,
                    "outcome": outcome.as_str(),
                    "route": done.route,
                    "policy": done.policy,
                    "blocked": blocks,
                }),
            );
            Decided::Now
        }
        Ok(Resolved::Already(first)) => {
            Decided::Already(first.resolution.map(|r| r.by).unwrap_or_default())
        }
        Ok(Resolved::Unknown) => Decided::Unknown,
        Err(_) => Decided::StoreDown,
    }
}

pub(super) async fn change(
    view: &View<'_>,
    id: &str,
    action: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> Reply {
    let who = &view.signed_in;
    let csrf = field(body, "csrf").unwrap_or_default();
    if !who.csrf_matches(&csrf) {
        let text = i18n::BAD_FORM.get(view.lang);
        return html(403, pages::login(view.lang, Some(text)), extra);
    }
    if who.role < Role::Reviewer {
        return html(403, pages::escape(i18n::FORBIDDEN.get(view.lang)), extra);
    }
    let back = format!("/console/reviews/{id}");
    let by = who.name.to_string();
    match action {
        "decide" => {
            let outcome = match field(body, "outcome").as_deref().and_then(Outcome::parse) {
                Some(outcome) => outcome,
                None => return html(400, String::new(), extra),
            };
            let Ok(Some(review)) = view.served.review(id).await else {
                return not_found(view, extra);
            };
            let ticked: Vec<String> = form_urlencoded::parse(body)
                .filter(|(n, _)| n == "block")
                .map(|(_, v)| v.into_owned())
                .collect();
            match decide(view, &review, outcome, Some(&ticked)).await {
                Decided::Now | Decided::Already(_) => see_other(&back, extra),
                Decided::Refused(why) => html(403, pages::escape(why.get(view.lang)), extra),
                Decided::Unknown => not_found(view, extra),
                Decided::StoreDown => html(503, String::new(), extra),
            }
        }
        "notes" | "escalate" => {
            let change = if action == "notes" {
                ReviewChange::Note(Note {
                    by: by.clone(),
                    at: view.now,
                    text: field(body, "text").unwrap_or_default(),
                })
            } else {
                ReviewChange::Escalate(Escalation {
                    by: by.clone(),
                    at: view.now,
                })
            };
            match view.served.change_review(id, &change).await {
                Ok(Changed::Now(_)) => {
                    let event = if action == "notes" {
                        "review_noted"
                    } else {
                        "review_escalated"
                    };
                    (view.audit)(event, &by, serde_json::json!({ "review": id }));
                    see_other(&back, extra)
                }
                Ok(Changed::Unknown) => not_found(view, extra),
                Ok(_) => see_other(&back, extra),
                Err(_) => html(503, String::new(), extra),
            }
        }
        _ => html(404, String::new(), extra),
    }
}
