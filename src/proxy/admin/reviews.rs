//! The review queue over the admin API.
//!
//! - `GET /admin/reviews` lists the reviews not yet resolved, oldest first;
//!   `?all=true` lists the resolved ones too.
//! - `POST /admin/reviews/{id}` with `{"outcome":"approved"}` or `{"outcome":"fraud"}`
//!   resolves one; `fraud` puts the request's identity keys on the store's block list at
//!   once (404 for an unknown id, 409 if someone resolved it first).

use super::{body_of, error, json, AdminApp, Reply};
use crate::proxy::served::Served;
use crate::state::store::review::{Outcome, Resolution, Resolved};
use pingora::protocols::http::ServerSession;
use serde::Serialize;

/// A resolution, as the audit trail records it.
#[derive(Serialize)]
struct ResolvedEvent<'a> {
    review: &'a str,
    outcome: &'static str,
    route: &'a str,
    policy: &'a str,
    /// The facts whose keys went on the block list.
    blocked: Vec<&'a str>,
}

impl AdminApp {
    pub(super) async fn list_reviews(&self, served: &Served, all: bool) -> Reply {
        match served.reviews(!all).await {
            Ok(reviews) => json(200, &serde_json::json!({ "reviews": reviews })),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    pub(super) async fn resolve_review(
        &self,
        session: &mut ServerSession,
        served: &Served,
        id: &str,
        by: &str,
    ) -> Reply {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            outcome: String,
        }
        const EXPECTED: &str = "expected {\"outcome\":\"approved\"} or {\"outcome\":\"fraud\"}";
        let outcome = match body_of::<Body>(session, EXPECTED).await {
            Ok(body) => match Outcome::parse(&body.outcome) {
                Some(outcome) => outcome,
                None => return error(400, EXPECTED),
            },
            Err(reply) => return reply,
        };
        let resolution = Resolution {
            outcome,
            by: by.to_string(),
            at: served.runtime.now().as_second(),
        };
        match served.resolve_review(id, &resolution).await {
            Err(_) => error(503, "store_unavailable"),
            Ok(Resolved::Unknown) => error(404, "unknown_review"),
            Ok(Resolved::Already(review)) => json(
                409,
                &serde_json::json!({ "error": "already_resolved", "review": review }),
            ),
            Ok(Resolved::Now(review)) => {
                let blocked = match outcome {
                    Outcome::Fraud => review.identity_keys().map(|(fact, _)| fact).collect(),
                    Outcome::Approved => Vec::new(),
                };
                self.audit(
                    "review_resolved",
                    by,
                    ResolvedEvent {
                        review: &review.id,
                        outcome: outcome.as_str(),
                        route: &review.route,
                        policy: &review.policy,
                        blocked,
                    },
                );
                json(200, &serde_json::json!({ "review": review }))
            }
        }
    }
}
