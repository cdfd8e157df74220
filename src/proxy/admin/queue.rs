//! Working the review queue over the admin API (what the console calls too).
//!
//! - `GET /admin/queue?...`: one page of the queue with its counts. Filters: `status`
//!   (`waiting`, `claimed`, `escalated`, `resolved`, `all`; none: every open review),
//!   `key` (`dni:{keyed hash}`: the reviews carrying that identity key), `route`,
//!   `policy`, `rule` (a reason code or a risk rule's name), `min_score`, `max_score`,
//!   `currency` with `min_amount` / `max_amount` (decimal, in that currency),
//!   `older_than` / `newer_than` (seconds), `assignee`, `order=newest`, `after` (the
//!   `next` of the page before), `limit` (at most 200, default 50).
//! - `GET /admin/reviews/{id}`: one review.
//! - `POST /admin/reviews/{id}/claim` (`{"minutes":N}`, default 10, at most 60),
//!   `/release`, `/escalate`, `/notes` (`{"text":"..."}`): 200 and the review; 409
//!   `held` with who holds it and until when, or `already_resolved` with the decision;
//!   404 for an unknown id. Each is an audit line (a note's length, never its text).

use super::{body_of, error, json, AdminApp, Reply};
use crate::core::money::Currency;
use crate::proxy::served::Served;
use crate::state::store::queue::{Cursor, ReviewQuery, ReviewStatus};
use crate::state::store::review::{Changed, Escalation, Note, ReviewChange};
use pingora::protocols::http::ServerSession;
use serde::Serialize;

/// How long a claim holds when the call does not say, and at most.
const CLAIM_MINUTES: (i64, i64) = (10, 60);

/// A queue query from the URL's parameters, or what is wrong with them.
pub(crate) fn parse_query(query: &str) -> Result<ReviewQuery, String> {
    let mut q = ReviewQuery {
        limit: 50,
        ..ReviewQuery::default()
    };
    let (mut min_amount, mut max_amount) = (None, None);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        let number = |what: &str| {
            value
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{name}: expected {what}, got {value:?}"))
        };
        match &*name {
            "status" if value == "all" => q.all_statuses = true,
            "key" => {
                let (fact, hash) = value
                    .split_once(':')
                    .filter(|(f, h)| !f.is_empty() && !h.is_empty())
                    .ok_or_else(|| format!("key: expected fact:hash, got {value:?}"))?;
                q.key = Some((fact.to_string(), hash.to_string()));
            }
            "status" => {
                q.status = Some(
                    ReviewStatus::parse(&value)
                        .ok_or_else(|| format!("status: unknown status {value:?}"))?,
                )
            }
            "route" => q.route = Some(value),
            "policy" => q.policy = Some(value),
            "rule" => q.rule = Some(value),
            "assignee" => q.assignee = Some(value),
            "min_score" => q.min_score = Some(number("a score")? as u32),
            "max_score" => q.max_score = Some(number("a score")? as u32),
            "older_than" => q.older_than = Some(number("seconds")?),
            "newer_than" => q.newer_than = Some(number("seconds")?),
            "limit" => q.limit = number("a number of reviews")? as usize,
            "currency" => {
                q.currency = Some(
                    Currency::parse(&value.to_ascii_uppercase())
                        .ok_or_else(|| format!("currency: unknown currency {value:?}"))?,
                )
            }
            "min_amount" => min_amount = Some(value),
            "max_amount" => max_amount = Some(value),
            "order" => q.newest_first = value == "newest",
            "after" => {
                q.after = Some(Cursor::parse(&value).ok_or("after: not a cursor")?);
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    for (text, slot) in [
        (min_amount, &mut q.min_amount),
        (max_amount, &mut q.max_amount),
    ] {
        let Some(text) = text else { continue };
        let currency = q.currency.ok_or("an amount bound needs its currency")?;
        *slot = Some(
            currency
                .amount(&text)
                .ok_or_else(|| format!("not an amount in {}: {text:?}", currency.as_str()))?
                .minor,
        );
    }
    Ok(q)
}

/// A change to a review, as the audit trail records it.
#[derive(Serialize)]
struct ChangedEvent<'a> {
    review: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note_bytes: Option<usize>,
}

impl AdminApp {
    pub(super) async fn queue(&self, served: &Served, query: &str) -> Reply {
        let query = match parse_query(query) {
            Ok(query) => query,
            Err(why) => return error(400, &why),
        };
        match served.review_page(&query).await {
            Ok(page) => json(
                200,
                &serde_json::json!({
                    "reviews": page.reviews,
                    "next": page.next.map(|c| c.to_text()),
                    "total": page.total,
                    "capped": page.capped,
                    "by_status": page.by_status.iter()
                        .map(|(s, n)| (s.as_str(), *n))
                        .collect::<std::collections::BTreeMap<_, _>>(),
                }),
            ),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    pub(super) async fn one_review(&self, served: &Served, id: &str) -> Reply {
        match served.review(id).await {
            Ok(Some(review)) => json(200, &serde_json::json!({ "review": review })),
            Ok(None) => error(404, "unknown_review"),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    pub(super) async fn change_review(
        &self,
        session: &mut ServerSession,
        served: &Served,
        (id, action): (&str, &str),
        by: &str,
    ) -> Reply {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Body {
            minutes: Option<i64>,
            text: Option<String>,
        }
        let body: Body = match action {
            "claim" | "notes" => {
                match body_of(session, "expected {\"minutes\":N} or {\"text\":\"...\"}").await {
                    Ok(body) => body,
                    Err(_) if action == "claim" => Body::default(),
                    Err(reply) => return reply,
                }
            }
            _ => Body::default(),
        };
        let now = served.runtime.now().as_second();
        let by = by.to_string();
        let (change, event) = match action {
            "claim" => {
                let minutes = body
                    .minutes
                    .unwrap_or(CLAIM_MINUTES.0)
                    .clamp(1, CLAIM_MINUTES.1);
                let until = now + minutes * 60;
                (
                    ReviewChange::Claim { by, until },
                    ("review_claimed", Some(until), None),
                )
            }
            "release" => (
                ReviewChange::Release { by },
                ("review_released", None, None),
            ),
            "escalate" => (
                ReviewChange::Escalate(Escalation { by, at: now }),
                ("review_escalated", None, None),
            ),
            "notes" => {
                let text = body.text.unwrap_or_default();
                let bytes = text.len();
                (
                    ReviewChange::Note(Note { by, at: now, text }),
                    ("review_noted", None, Some(bytes)),
                )
            }
            _ => return error(404, "not_found"),
        };
        match served.change_review(id, &change).await {
            Err(_) => error(503, "store_unavailable"),
            Ok(Changed::Unknown) => error(404, "unknown_review"),
            Ok(Changed::HeldBy(review)) => {
                let claim = review.claim.as_ref();
                json(
                    409,
                    &serde_json::json!({
                        "error": "held",
                        "by": claim.map(|c| c.by.as_str()),
                        "until": claim.map(|c| c.until),
                    }),
                )
            }
            Ok(Changed::Resolved(review)) => json(
                409,
                &serde_json::json!({ "error": "already_resolved", "review": review }),
            ),
            Ok(Changed::Refused(_)) => {
                error(400, "a note of 1 to 2000 bytes, at most 50 on a review")
            }
            Ok(Changed::Now(review)) => {
                let (name, until, note_bytes) = event;
                self.audit(
                    name,
                    match &change {
                        ReviewChange::Claim { by, .. } | ReviewChange::Release { by } => by,
                        ReviewChange::Escalate(e) => &e.by,
                        ReviewChange::Note(n) => &n.by,
                    },
                    ChangedEvent {
                        review: &review.id,
                        until,
                        note_bytes,
                    },
                );
                json(200, &serde_json::json!({ "review": review }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_parameters_become_a_query_or_say_what_is_wrong() {
        let q = parse_query("status=waiting&route=cips&rule=large_order&min_score=40&currency=pen&min_amount=10.50&order=newest&limit=500&after=100.abc").unwrap();
        assert_eq!(q.status, Some(ReviewStatus::Waiting));
        assert_eq!(
            (q.route.as_deref(), q.rule.as_deref()),
            (Some("cips"), Some("large_order"))
        );
        assert_eq!((q.min_score, q.min_amount), (Some(40), Some(1050)));
        assert!(q.newest_first);
        assert_eq!(q.page_size(), 200, "a page is at most 200");
        assert_eq!(
            q.after,
            Some(Cursor {
                at: 100,
                id: "abc".into()
            })
        );
        assert_eq!(parse_query("").unwrap().limit, 50);
        for bad in [
            "status=lost",
            "min_amount=5",
            "currency=dollars",
            "limit=-1",
            "after=x",
            "colour=red",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
