//! The review queue as the store keeps it: one record per request forwarded for review,
//! and what a person decided about it.
//!
//! A record holds what a reviewer needs and nothing in clear: the request id (the backend
//! saw it as `X-Request-Id`), when, which route and policy, the request's identity keys as
//! keyed hashes, the amount, the reasons and the score. Resolving one as `fraud` puts the
//! identity keys the resolution names (its policy's `fraud_blocks`, never the address:
//! addresses are shared) on the store's block list in the same step, so the next request with any of them is refused on every instance sharing
//! the store. Records are kept for [`KEEP_SECONDS`] after the request, resolved or not.

use serde::{Deserialize, Serialize};

/// How long a review record is kept: a year and a month, the audit trail's default.
pub const KEEP_SECONDS: i64 = 400 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The request id.
    pub id: String,
    /// When the request was decided, Unix seconds UTC.
    pub at: i64,
    pub route: String,
    pub policy: String,
    /// The request's identity keys: fact and keyed hash.
    pub keys: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

impl Review {
    /// The request's identity keys, fact and hash: every key but the address.
    pub fn identity_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys
            .iter()
            .filter(|(fact, _)| fact != "ip")
            .map(|(fact, hash)| (fact.as_str(), hash.as_str()))
    }

    pub fn expires_at(&self) -> i64 {
        self.at.saturating_add(KEEP_SECONDS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Approved,
    Fraud,
}

impl Outcome {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "approved" => Some(Outcome::Approved),
            "fraud" => Some(Outcome::Fraud),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Fraud => "fraud",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub outcome: Outcome,
    /// Who resolved it (the admin token's name).
    pub by: String,
    pub at: i64,
    /// For fraud: the facts whose keys go on the block list (the policy's
    /// `fraud_blocks`, or fewer if the resolution narrowed them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<String>,
}

/// What resolving a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Resolved now; the record as it stands.
    Now(Review),
    /// Someone resolved it before; nothing changed.
    Already(Review),
    Unknown,
}

/// `review` with `resolution`, and the block-list entries it adds (a fraud's identity
/// keys), unless someone resolved it before (`None`).
pub(super) fn resolve(
    review: &Review,
    resolution: &Resolution,
) -> Option<(Review, Vec<super::Block>)> {
    if review.resolution.is_some() {
        return None;
    }
    let blocked = match resolution.outcome {
        Outcome::Fraud => review
            .identity_keys()
            .filter(|(fact, _)| resolution.blocks.iter().any(|b| b == fact))
            .map(|(fact, hash)| super::Block {
                fact: fact.to_string(),
                hash: hash.to_string(),
                note: super::BlockNote {
                    since: resolution.at,
                    by: resolution.by.clone(),
                    reason: Some(format!("review {} resolved as fraud", review.id)),
                },
            })
            .collect(),
        Outcome::Approved => Vec::new(),
    };
    let resolved = Review {
        resolution: Some(resolution.clone()),
        ..review.clone()
    };
    Some((resolved, blocked))
}
