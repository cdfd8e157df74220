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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    /// The shop's reference of the order (a non-identifying fact, `facts.order`), for the
    /// reviewer and the event the shop gets back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    /// Each enforced risk rule that fired, with what it saw: the console's sentences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fired: Vec<FiredRule>,
    /// The client address's country, as the GeoIP database read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_country: Option<String>,
    /// Masked hints of the facts the policy's `review_hints` names: fact and hint
    /// (`["dni", "•••••912"]`), never a whole value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Who holds it while they look at it, and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<ReviewClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// What reviewers wrote about it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

/// A risk rule that sent the request here: its name in its policy, what it added to the
/// score, and what it saw (a total in minor units or a count, for rules on counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRule {
    pub rule: String,
    pub weight: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<u64>,
}

/// A review held by someone looking at it, so that two people do not work one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewClaim {
    pub by: String,
    /// Unix seconds; past it the claim no longer holds.
    pub until: i64,
}

/// A review handed on to those who may decide it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub by: String,
    pub at: i64,
}

/// A reviewer's note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub by: String,
    pub at: i64,
    pub text: String,
}

/// Longest note kept, in bytes.
pub const MAX_NOTE_BYTES: usize = 2_000;
/// Most notes one review keeps.
pub const MAX_NOTES: usize = 50;

/// A change to an unresolved review, short of resolving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewChange {
    /// Hold it until `until` (or, held by the same person, hold it longer).
    Claim {
        by: String,
        until: i64,
    },
    /// Let go of it (only its holder does).
    Release {
        by: String,
    },
    Escalate(Escalation),
    Note(Note),
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Done; the record as it stands now.
    Now(Review),
    /// Held by someone else until then; nothing changed.
    HeldBy(Review),
    /// Resolved already; nothing changed.
    Resolved(Review),
    /// Nothing changed: the note was too long or there were too many.
    Refused(Review),
    Unknown,
}

/// `review` with `change` applied at `now`, or why not. Every store applies changes
/// through this one function (Redis with a compare-and-set on the record it read).
pub fn apply(review: &Review, change: &ReviewChange, now: i64) -> Changed {
    if review.resolution.is_some() {
        return Changed::Resolved(review.clone());
    }
    let held_by_other = |by: &str| {
        review
            .claim
            .as_ref()
            .is_some_and(|c| c.until > now && c.by != by)
    };
    let mut next = review.clone();
    match change {
        ReviewChange::Claim { by, until } => {
            if held_by_other(by) {
                return Changed::HeldBy(review.clone());
            }
            next.claim = Some(ReviewClaim {
                by: by.clone(),
                until: *until,
            });
        }
        ReviewChange::Release { by } => {
            if held_by_other(by) {
                return Changed::HeldBy(review.clone());
            }
            next.claim = None;
        }
        ReviewChange::Escalate(escalation) => {
            if held_by_other(&escalation.by) {
                return Changed::HeldBy(review.clone());
            }
            next.claim = None;
            next.escalation = Some(escalation.clone());
        }
        ReviewChange::Note(note) => {
            if note.text.trim().is_empty()
                || note.text.len() > MAX_NOTE_BYTES
                || review.notes.len() >= MAX_NOTES
            {
                return Changed::Refused(review.clone());
            }
            next.notes.push(note.clone());
        }
    }
    Changed::Now(next)
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
        claim: None,
        ..review.clone()
    };
    Some((resolved, blocked))
}
