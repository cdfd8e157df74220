//! The review queue over the admin API.
//!
//! - `GET /admin/reviews` lists the reviews not yet resolved, oldest first;
//!   `?all=true` lists the resolved ones too.
//! - `POST /admin/reviews/{id}` with `{"outcome":"approved"}` or `{"outcome":"fraud"}`
//!   resolves one; `fraud` puts the request's keys of the facts its policy's
//!   `fraud_blocks` names on the store's block list at once; `"block":["dni"]` narrows
//!   that list (a fact the policy does not name is refused). 404 for an unknown id, 409 if
//!   someone resolved it first.

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
    /// The facts a fraud resolution of review `id` blocks: its policy's `fraud_blocks`
    /// (the default list if the policy is gone from the config), narrowed to `asked`.
    async fn fraud_blocks(
        &self,
        served: &Served,
        id: &str,
        asked: Option<Vec<String>>,
    ) -> Result<Vec<String>, Reply> {
        let review = served
            .review(id)
            .await
            .map_err(|_| error(503, "store_unavailable"))?;
        let policy = review
            .as_ref()
            .and_then(|r| served.config.policies.find(&r.policy))
            .map(|p| &served.config.policies[p]);
        let allowed: Vec<&str> = match policy {
            Some(p) => p.fraud_blocks.iter().map(|k| k.as_str()).collect(),
            None => crate::core::policy::DEFAULT_FRAUD_BLOCKS
                .iter()
                .map(|k| k.as_str())
                .collect(),
        };
        match asked {
            None => Ok(allowed.iter().map(|f| f.to_string()).collect()),
            Some(asked) => match asked.iter().find(|f| !allowed.contains(&f.as_str())) {
                Some(other) => Err(error(
                    400,
                    &format!(
                        "block: {other:?} is not among the facts this policy's fraud resolutions block ({})",
                        allowed.join(", ")
                    ),
                )),
                None => Ok(asked),
            },
        }
    }

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
            block: Option<Vec<String>>,
        }
        const EXPECTED: &str = "expected {\"outcome\":\"approved\"} or {\"outcome\":\"fraud\"[,\"block\":[\"dni\",...]]}";
        let body = match body_of::<Body>(session, EXPECTED).await {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(outcome) = Outcome::parse(&body.outcome) else {
            return error(400, EXPECTED);
        };
        let blocks = match outcome {
            Outcome::Approved => Vec::new(),
            Outcome::Fraud => match self.fraud_blocks(served, id, body.block).await {
                Ok(blocks) => blocks,
                Err(reply) => return reply,
            },
        };
        let resolution = Resolution {
            outcome,
            by: by.to_string(),
            at: served.runtime.now().as_second(),
            blocks,
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
                    Outcome::Fraud => review
                        .identity_keys()
                        .map(|(fact, _)| fact)
                        .filter(|fact| resolution.blocks.iter().any(|b| b == fact))
                        .collect(),
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
