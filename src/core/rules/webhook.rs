//! What a webhook route decides, in the order it must: the sender's network, the
//! signature over the raw body, the replay claim, and after delivery whether the event
//! counts as delivered.
//!
//! The glue reads the body and carries out the claim; everything else is decided here. A
//! verified first-time notification keeps the connection decision (and any shadow record
//! it carries); a duplicate is acknowledged with 200 (so the provider stops retrying) or
//! forwarded marked, as the route says; a copy being delivered right now gets 409 (the
//! provider retries later). An event counts as delivered only when the backend answered
//! 2xx: a failed delivery is released so that the provider's retry goes through.

use crate::core::decision::{Decision, Reason};
use crate::core::plan::{
    Claim, ClaimOp, Conclude, OnStoreError, Step, StoreAnswer, StoreFailure, StorePlan,
    WithoutStore,
};
use crate::core::webhook::{Notification, OnDuplicate, WebhookRule};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

/// How long a claimed event stays claimed if its delivery never settles.
pub const CLAIM_HOLD_SECONDS: i64 = 120;

/// A refusal, and the outcome label the metrics count it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub decision: Decision,
    pub outcome: &'static str,
}

impl Refusal {
    fn new(reason: Reason, outcome: &'static str) -> Self {
        Self {
            decision: Decision::deny(reason),
            outcome,
        }
    }
}

/// Whether the notification may come from the client's address at all.
pub fn admit_source(rule: &WebhookRule, client: Option<IpAddr>) -> Result<(), Refusal> {
    match (&rule.sources, client) {
        (Some(sources), Some(ip)) if !sources.contains(ip) => Err(Refusal::new(
            Reason::WebhookSourceNotAllowed,
            "source_not_allowed",
        )),
        _ => Ok(()),
    }
}

/// A verified notification, waiting for its replay claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPlan {
    store: StorePlan,
    window: Duration,
    event: String,
    on_duplicate: OnDuplicate,
    /// The decision the connection rules reached (under the policy's mode).
    connection: Decision,
    on_store_error: OnStoreError,
}

impl EventPlan {
    /// The event's id as the provider gave it (for its keyed hash in the log).
    pub fn event(&self) -> &str {
        &self.event
    }
}

/// Where a notification arrives: the policy that scopes its replay key and what it does
/// without the store, and the decision the connection rules reached (under its mode).
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    pub policy: &'a str,
    pub on_store_error: OnStoreError,
    pub connection: Decision,
}

/// Verify the signature (and timestamp) over the raw body and name the event: refused at
/// once, or a claim to ask the store for.
pub fn verify(
    rule: &WebhookRule,
    arrival: Arrival<'_>,
    notification: &Notification<'_>,
    now: i64,
) -> Step<EventPlan> {
    let verified = match rule
        .profile
        .verify(&rule.keys, notification, now, rule.tolerance)
    {
        Ok(verified) => verified,
        Err(e) => {
            return Step::Decided(Refusal::new(Reason::WebhookUnverified(e), e.code()).into())
        }
    };
    let Some(event) = rule.replay_key(&verified, notification) else {
        return Step::Decided(Refusal::new(Reason::MissingReplayKey, "missing_replay_key").into());
    };
    let key = format!(
        "w:{}:{}",
        arrival.policy,
        hex::encode(Sha256::digest(event.as_bytes()))
    );
    Step::Ask(EventPlan {
        store: StorePlan {
            now,
            claim: Some(ClaimOp {
                key,
                hold_until: now + CLAIM_HOLD_SECONDS,
            }),
            ..StorePlan::default()
        },
        window: rule.replay_window,
        event,
        on_duplicate: rule.on_duplicate,
        connection: arrival.connection,
        on_store_error: arrival.on_store_error,
    })
}

/// An event this request holds the claim on: it must be settled once the backend answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldClaim {
    pub key: String,
    pub window: Duration,
}

impl HeldClaim {
    /// Until when the event is remembered as delivered, given the backend's status (`None`
    /// if it never answered): only a 2xx delivers; anything else releases the claim.
    pub fn delivered_until(&self, upstream_status: Option<u16>, now: i64) -> Option<i64> {
        upstream_status
            .filter(|s| (200..300).contains(s))
            .map(|_| now + self.window.as_secs() as i64)
    }
}

/// What the route does with a verified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookVerdict {
    pub decision: Decision,
    pub outcome: &'static str,
    /// Set when this request holds the event's claim.
    pub held: Option<HeldClaim>,
    /// Delivered before and forwarded anyway, marked.
    pub duplicate: bool,
}

impl From<Refusal> for WebhookVerdict {
    fn from(refusal: Refusal) -> Self {
        WebhookVerdict {
            decision: refusal.decision,
            outcome: refusal.outcome,
            held: None,
            duplicate: false,
        }
    }
}

/// Turn the store's answer to the claim into the route's decision. Without an answer, a
/// policy that fails closed refuses the notification (503: the provider retries); one that
/// fails open forwards it unprotected against replays, noted `store_unavailable`.
impl Conclude for EventPlan {
    type Outcome = WebhookVerdict;

    /// The claim to carry out, in one store call.
    fn store_plan(&self) -> &StorePlan {
        &self.store
    }

    fn conclude(self, answer: Result<StoreAnswer, StoreFailure>) -> WebhookVerdict {
        let refused = |reason, outcome| WebhookVerdict::from(Refusal::new(reason, outcome));
        let EventPlan {
            store,
            window,
            connection,
            on_duplicate,
            on_store_error,
            ..
        } = self;
        let claim = match answer.map(|a| a.claim) {
            Ok(Some(claim)) => claim,
            Ok(None) | Err(StoreFailure) => {
                return match on_store_error.without_store(connection) {
                    WithoutStore::Refused(decision) => WebhookVerdict {
                        decision,
                        outcome: "store_unavailable",
                        held: None,
                        duplicate: false,
                    },
                    WithoutStore::Unprotected(decision) => WebhookVerdict {
                        decision,
                        outcome: "unprotected",
                        held: None,
                        duplicate: false,
                    },
                }
            }
        };
        let key = store.claim.map(|c| c.key).unwrap_or_default();
        match claim {
            Claim::New => WebhookVerdict {
                decision: connection,
                outcome: "verified",
                held: Some(HeldClaim { key, window }),
                duplicate: false,
            },
            Claim::InFlight => refused(Reason::NotificationInFlight, "in_flight"),
            Claim::Done => match on_duplicate {
                OnDuplicate::Ack => refused(Reason::DuplicateNotification, "duplicate"),
                OnDuplicate::Forward => WebhookVerdict {
                    decision: connection,
                    outcome: "duplicate",
                    held: None,
                    duplicate: true,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::decision::{Mode, Verdict};
    use crate::core::net::ip_list::IpList;
    use crate::core::webhook::{sign, Profile, WebhookError};

    const SECRET: &[u8] = b"pe_test_secret_key";
    const PAID: &[u8] =
        br#"{"eventType":"cip.paid","operationNumber":"1001","data":{"cip":"2538913"}}"#;

    fn rule(on_duplicate: OnDuplicate) -> WebhookRule {
        WebhookRule {
            profile: Profile::PagoEfectivo,
            keys: vec![SECRET.to_vec()],
            tolerance: 300,
            replay_window: Duration::from_secs(30 * 86_400),
            replay_key: WebhookRule::default_replay_key(&Profile::PagoEfectivo),
            on_duplicate,
            sources: None,
            max_body: 65_536,
            body_timeout: Duration::from_secs(5),
            settles: None,
        }
    }

    fn headers(body: &[u8], secret: &[u8]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in sign(&Profile::PagoEfectivo, secret, body, 0, "") {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    /// The notification verified by a policy `pe` that fails closed: refused (`Err`), or
    /// its claim plan.
    fn plan(body: &[u8], secret: &[u8]) -> Result<EventPlan, Box<WebhookVerdict>> {
        planned(
            body,
            secret,
            &rule(OnDuplicate::Ack),
            Decision::allow(),
            OnStoreError::Closed,
        )
    }

    fn planned(
        body: &[u8],
        secret: &[u8],
        rule: &WebhookRule,
        connection: Decision,
        on_store_error: OnStoreError,
    ) -> Result<EventPlan, Box<WebhookVerdict>> {
        let h = headers(body, secret);
        let n = Notification::new(&h, None, body);
        let arrival = Arrival {
            policy: "pe",
            on_store_error,
            connection,
        };
        match verify(rule, arrival, &n, 1_764_000_000) {
            Step::Ask(plan) => Ok(plan),
            Step::Decided(refused) => Err(Box::new(refused)),
        }
    }

    /// `PAID` verified under `rule`, on top of `connection`, concluded on `answer`.
    fn conclude(
        rule: &WebhookRule,
        answer: Result<StoreAnswer, StoreFailure>,
        connection: Decision,
        on_store_error: OnStoreError,
    ) -> WebhookVerdict {
        planned(PAID, SECRET, rule, connection, on_store_error)
            .unwrap()
            .conclude(answer)
    }

    fn answer(claim: Claim) -> Result<StoreAnswer, StoreFailure> {
        Ok(StoreAnswer {
            claim: Some(claim),
            ..StoreAnswer::default()
        })
    }

    #[test]
    fn a_verified_event_is_claimed_under_a_hash_of_its_operation() {
        let p = plan(PAID, SECRET).unwrap();
        let claim = p.store_plan().claim.clone().unwrap();
        assert!(claim.key.starts_with("w:pe:") && !claim.key.contains("1001"));
        assert_eq!(claim.hold_until, 1_764_000_000 + CLAIM_HOLD_SECONDS);
        assert!(p.store_plan().counters.is_empty() && p.store_plan().bindings.is_empty());
    }

    #[test]
    fn a_forged_notification_is_refused_before_any_claim() {
        let refusal = plan(PAID, b"not-the-secret").unwrap_err();
        assert_eq!(
            refusal.decision.denied_for(),
            Some(Reason::WebhookUnverified(WebhookError::BadSignature))
        );
        assert_eq!(refusal.outcome, "bad_signature");
        let nameless = br#"{"eventType":"cip.paid"}"#;
        let refusal = plan(nameless, SECRET).unwrap_err();
        assert_eq!(
            refusal.decision.denied_for(),
            Some(Reason::MissingReplayKey)
        );
    }

    #[test]
    fn a_first_delivery_keeps_the_connection_decision_and_holds_the_claim() {
        let shadowed = Decision::deny(Reason::CountryNotAllowed).in_mode(Mode::Shadow);
        let v = conclude(
            &rule(OnDuplicate::Ack),
            answer(Claim::New),
            shadowed.clone(),
            OnStoreError::Closed,
        );
        assert_eq!(v.decision, shadowed);
        assert_eq!(v.outcome, "verified");
        assert!(v.held.is_some() && !v.duplicate);
    }

    #[test]
    fn duplicates_are_acked_or_forwarded_marked_and_copies_in_flight_wait() {
        let acked = conclude(
            &rule(OnDuplicate::Ack),
            answer(Claim::Done),
            Decision::allow(),
            OnStoreError::Closed,
        );
        assert_eq!(
            acked.decision.denied_for(),
            Some(Reason::DuplicateNotification)
        );
        assert_eq!(acked.outcome, "duplicate");
        let forwarded = conclude(
            &rule(OnDuplicate::Forward),
            answer(Claim::Done),
            Decision::allow(),
            OnStoreError::Closed,
        );
        assert_eq!(forwarded.decision.verdict(), Verdict::Allow);
        assert!(forwarded.duplicate && forwarded.held.is_none());
        let busy = conclude(
            &rule(OnDuplicate::Ack),
            answer(Claim::InFlight),
            Decision::allow(),
            OnStoreError::Closed,
        );
        assert_eq!(
            busy.decision.denied_for(),
            Some(Reason::NotificationInFlight)
        );
        let down = conclude(
            &rule(OnDuplicate::Ack),
            Err(StoreFailure),
            Decision::allow(),
            OnStoreError::Closed,
        );
        assert_eq!(down.decision.denied_for(), Some(Reason::StoreUnavailable));
        let open = conclude(
            &rule(OnDuplicate::Ack),
            Err(StoreFailure),
            Decision::allow(),
            OnStoreError::Open,
        );
        assert_eq!(open.decision.verdict(), Verdict::Allow);
        assert_eq!(
            open.decision.primary_reason(),
            Some(Reason::StoreUnavailable)
        );
        assert!(open.held.is_none() && open.outcome == "unprotected");
    }

    #[test]
    fn only_a_2xx_delivers() {
        let held = HeldClaim {
            key: "w:pe:x".into(),
            window: Duration::from_secs(100),
        };
        assert_eq!(held.delivered_until(Some(200), 1000), Some(1100));
        assert_eq!(held.delivered_until(Some(204), 1000), Some(1100));
        for failed in [Some(500), Some(302), Some(409), None] {
            assert_eq!(held.delivered_until(failed, 1000), None, "{failed:?}");
        }
    }

    #[test]
    fn only_the_providers_networks_may_notify() {
        let mut r = rule(OnDuplicate::Ack);
        assert!(admit_source(&r, Some("198.51.100.7".parse().unwrap())).is_ok());
        let mut sources = IpList::new();
        sources.insert("203.0.113.0/24".parse().unwrap());
        r.sources = Some(sources);
        assert!(admit_source(&r, Some("203.0.113.9".parse().unwrap())).is_ok());
        let refusal = admit_source(&r, Some("198.51.100.7".parse().unwrap())).unwrap_err();
        assert_eq!(
            refusal.decision.denied_for(),
            Some(Reason::WebhookSourceNotAllowed)
        );
    }
}
