//! The outbox: events garita owes the shop's backend (a review's resolution), kept in the
//! store from the moment they happen until the shop has taken one with a 2xx, so that
//! none is lost while the shop is down or garita restarts.
//!
//! An event is written in the same step as what it reports (the resolution), so there is
//! never a resolution without its event. A sender takes the events that are due with a
//! lease (another instance sharing the store does not take them meanwhile), and settles
//! each: delivered (forgotten) or to be tried again after a backoff. What it approximates:
//! delivery is at least once (a sender that dies after the shop answered sends the event
//! again once its lease ends); the shop tells repeats apart by the event's id.

use super::review::Review;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: i64 = 5;
pub const MAX_BACKOFF: i64 = 3600;

/// One event owed to the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Unique: the shop's receiver drops repeats by it (`webhook-id`).
    pub id: String,
    /// The JSON body sent, exactly.
    pub body: String,
    /// When the event happened, Unix seconds.
    pub created: i64,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// Not sent before then (a retry's backoff, or a sender's lease).
    pub next_at: i64,
    /// Why the last delivery failed, for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl OutboxEvent {
    /// The event a resolved review owes the shop: `review.resolved`, with the request id
    /// the backend saw as `X-Request-Id`, the order's reference, the outcome, who and when.
    pub fn resolved(review: &Review) -> Option<OutboxEvent> {
        let resolution = review.resolution.as_ref()?;
        let body = serde_json::json!({
            "type": "review.resolved",
            "request_id": review.id,
            "order": review.order,
            "outcome": resolution.outcome.as_str(),
            "by": resolution.by,
            "at": resolution.at,
        })
        .to_string();
        Some(OutboxEvent {
            id: format!("review-resolved-{}", review.id),
            body,
            created: resolution.at,
            attempts: 0,
            next_at: resolution.at,
            last_error: None,
        })
    }

    /// How long to wait after the `attempts`-th failed delivery.
    pub fn backoff(attempts: u32) -> i64 {
        FIRST_BACKOFF
            .saturating_mul(1i64 << attempts.saturating_sub(1).min(20))
            .min(MAX_BACKOFF)
    }

    /// The event after a delivery failed at `now`: tried again after the backoff.
    pub fn failed(&self, now: i64, error: &str) -> OutboxEvent {
        let attempts = self.attempts.saturating_add(1);
        OutboxEvent {
            attempts,
            next_at: now + Self::backoff(attempts),
            last_error: Some(error.chars().take(200).collect()),
            ..self.clone()
        }
    }
}

/// The engine's outbox: the events by id, and in the order they are due.
#[derive(Default)]
pub(super) struct OutboxBook {
    events: HashMap<String, OutboxEvent>,
    due: BTreeSet<(i64, String)>,
}

impl OutboxBook {
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    /// Keep `event` (replacing one with its id).
    pub(super) fn put(&mut self, event: OutboxEvent) {
        self.forget(&event.id);
        self.due.insert((event.next_at, event.id.clone()));
        self.events.insert(event.id.clone(), event);
    }

    pub(super) fn forget(&mut self, id: &str) {
        if let Some(old) = self.events.remove(id) {
            self.due.remove(&(old.next_at, old.id));
        }
    }

    /// Up to `limit` events due by `now`, oldest due first, each leased until
    /// `lease_until` (not due again before then); as they were before the lease.
    pub(super) fn take(&mut self, now: i64, lease_until: i64, limit: usize) -> Vec<OutboxEvent> {
        let due: Vec<String> = self
            .due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for id in due {
            if let Some(event) = self.events.get(&id).cloned() {
                self.put(OutboxEvent {
                    next_at: lease_until,
                    ..event.clone()
                });
                out.push(event);
            }
        }
        out
    }

    /// After a delivery: forgotten if `delivered`, else kept as `event` says; `false` if
    /// the event was not held (settled meanwhile), and then nothing is kept.
    pub(super) fn settle(&mut self, event: &OutboxEvent, delivered: bool) -> bool {
        let held = self.events.contains_key(&event.id);
        if delivered {
            self.forget(&event.id);
        } else if held {
            self.put(event.clone());
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::store::review::{Outcome, Resolution};

    #[test]
    fn a_resolution_owes_one_event_and_retries_back_off() {
        let mut review = Review {
            id: "abc".into(),
            order: Some("ORD-7".into()),
            ..Review::default()
        };
        assert_eq!(
            OutboxEvent::resolved(&review),
            None,
            "unresolved: nothing owed"
        );
        review.resolution = Some(Resolution {
            outcome: Outcome::Fraud,
            by: "ana".into(),
            at: 1000,
            blocks: vec!["dni".into()],
        });
        let event = OutboxEvent::resolved(&review).unwrap();
        let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["type"], "review.resolved");
        assert_eq!(body["request_id"], "abc");
        assert_eq!(body["order"], "ORD-7");
        assert_eq!(body["outcome"], "fraud");
        assert_eq!(
            (body["by"].as_str(), body["at"].as_i64()),
            (Some("ana"), Some(1000))
        );
        assert_eq!(event.next_at, 1000);
        let waits: Vec<i64> = (1..=12).map(OutboxEvent::backoff).collect();
        assert_eq!(&waits[..5], [5, 10, 20, 40, 80]);
        assert_eq!(waits[11], MAX_BACKOFF);
        let again = event.failed(1000, "answered 500");
        assert_eq!((again.attempts, again.next_at), (1, 1005));
        assert_eq!(again.last_error.as_deref(), Some("answered 500"));
    }
}
