//! Identity rules: what a payment route does with who is paying.
//!
//! In order, stopping at the first denial: problems with the facts themselves (a missing
//! or malformed document, an email that is not one), key block lists, per-key burst limits
//! (in process), bindings (one DNI to at most N accounts...) and calendar quotas (per local
//! hour and day, in the store). Each rule either denies or marks the request for review;
//! review reasons accumulate and the request is forwarded marked.
//!
//! What it approximates: burst limits are per instance; a binding records an association
//! even when a later rule denies the request (the attempt did happen); quotas count only
//! requests that pass every enforced quota (see [`crate::state::store::Store::acquire`]).

use crate::core::calendar::{Calendar, Clock, Period};
use crate::core::decision::{Decision, RateLimitState, Reason, Verdict};
use crate::core::identity::key_list::{KeyHasher, KeyHashes, KeyList};
use crate::core::request::body::BodyKind;
use crate::core::request::facts::{FactProblem, FactSelectors, IdentityFacts, KeyKind};
use crate::state::rate_limit::{Limiter, LimiterKey, RateOutcome};
use crate::state::store::{Acquired, Binding, Counter, Store};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deny,
    Review,
}

/// What a problem with a fact does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnProblem {
    Reject,
    Review,
    Ignore,
}

#[derive(Debug)]
pub struct KeyBlock {
    pub kind: KeyKind,
    pub list: KeyList,
}

#[derive(Debug)]
pub struct Quota {
    pub period: Period,
    pub limit: u64,
}

#[derive(Debug)]
pub struct KeyLimit {
    pub kind: KeyKind,
    pub burst: Option<Limiter>,
    pub quotas: Vec<Quota>,
    pub action: Action,
}

#[derive(Debug)]
pub struct BindingRule {
    pub from: KeyKind,
    pub to: KeyKind,
    pub max: u64,
    /// How long an association counts; `None` is forever.
    pub window: Option<Duration>,
    pub action: Action,
}

/// A policy's identity rules, compiled.
#[derive(Debug)]
pub struct IdentityRules {
    pub selectors: FactSelectors,
    pub body_kind: Option<BodyKind>,
    pub max_body: usize,
    pub body_timeout: Duration,
    pub on_missing_document: OnProblem,
    pub on_invalid_document: OnProblem,
    pub on_invalid_fact: OnProblem,
    pub blocks: Vec<KeyBlock>,
    pub block_action: Action,
    pub limits: Vec<KeyLimit>,
    pub bindings: Vec<BindingRule>,
}

/// What identity rules consult besides the request: the store, the clock, the calendar and
/// the keyed hash that stands in for identifiers.
#[derive(Clone)]
pub struct IdentityEnv {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub calendar: Calendar,
    pub hasher: KeyHasher,
}

impl IdentityEnv {
    /// An in-memory store, a Lima calendar and a random hash secret, on the given clock.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Arc::new(crate::state::store::MemoryStore::new()),
            clock,
            calendar: Calendar::new("America/Lima").expect("bundled time zone"),
            hasher: KeyHasher::random(),
        }
    }
}

impl std::fmt::Debug for IdentityEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityEnv")
            .field("calendar", &self.calendar.name())
            .finish()
    }
}

/// Apply `action` for `reason`: deny replaces the decision (and returns true: stop),
/// review marks it and carries on.
fn flag(decision: &mut Decision, reason: Reason, action: Action) -> bool {
    match action {
        Action::Deny => {
            *decision = Decision::deny(reason);
            true
        }
        Action::Review => {
            decision.verdict = Verdict::Review;
            decision.reasons.push(reason);
            false
        }
    }
}

impl IdentityRules {
    /// Apply the rules to `facts`, on top of the connection-level `decision`.
    pub fn decide(
        &self,
        policy: &str,
        facts: &IdentityFacts,
        hashes: &KeyHashes,
        mut decision: Decision,
        env: &IdentityEnv,
    ) -> Decision {
        for problem in &facts.problems {
            let on = match problem {
                FactProblem::MissingDocument => self.on_missing_document,
                FactProblem::InvalidDocument(_) => self.on_invalid_document,
                _ => self.on_invalid_fact,
            };
            let action = match on {
                OnProblem::Reject => Action::Deny,
                OnProblem::Review => Action::Review,
                OnProblem::Ignore => continue,
            };
            if flag(&mut decision, Reason::BadFact(*problem), action) {
                return decision;
            }
        }

        for block in &self.blocks {
            if facts
                .key(block.kind)
                .is_some_and(|v| block.list.contains(&v))
                && flag(
                    &mut decision,
                    Reason::KeyBlocked(block.kind),
                    self.block_action,
                )
            {
                return decision;
            }
        }

        for limit in &self.limits {
            let (Some(burst), Some(h)) = (&limit.burst, hashes.get(limit.kind)) else {
                continue;
            };
            let key = LimiterKey::Identity(u128::from_str_radix(h, 16).unwrap_or(0));
            if let RateOutcome::Limited { retry_after } = burst.check_key(key) {
                let mut denied = Decision::deny(Reason::KeyRateLimited(limit.kind));
                let spec = burst.spec();
                let state = RateLimitState {
                    policy: Arc::from(format!("{policy}-{}", limit.kind.as_str())),
                    burst: spec.burst.get(),
                    window_seconds: spec.window_seconds(),
                    retry_after,
                };
                if limit.action == Action::Deny {
                    denied.rate_limit = Some(state);
                    return denied;
                }
                flag(
                    &mut decision,
                    Reason::KeyRateLimited(limit.kind),
                    Action::Review,
                );
            }
        }

        let now = env.clock.now();
        let now_secs = now.as_second();
        for rule in &self.bindings {
            let (Some(from), Some(to)) = (hashes.get(rule.from), hashes.get(rule.to)) else {
                continue;
            };
            let key = format!(
                "b:{policy}:{}:{from}:{}",
                rule.from.as_str(),
                rule.to.as_str()
            );
            let expires = rule.window.map(|w| now_secs + w.as_secs() as i64);
            match env.store.bind(&key, to, rule.max, expires, now_secs) {
                Ok(Binding::Within { .. }) => {}
                Ok(Binding::Exceeded { .. }) => {
                    if flag(
                        &mut decision,
                        Reason::BindingExceeded(rule.from, rule.to),
                        rule.action,
                    ) {
                        return decision;
                    }
                }
                Err(e) => {
                    log::error!("{e}");
                    return Decision::deny(Reason::StoreUnavailable);
                }
            }
        }

        let mut counters = Vec::new();
        let mut meta = Vec::new();
        for limit in &self.limits {
            let Some(h) = hashes.get(limit.kind) else {
                continue;
            };
            for quota in &limit.quotas {
                let window = env.calendar.window(quota.period, now);
                counters.push(Counter {
                    key: format!(
                        "q:{policy}:{}:{h}:{}:{}",
                        limit.kind.as_str(),
                        quota.period.as_str(),
                        window.id
                    ),
                    limit: quota.limit,
                    // A minute's grace so clocks a little apart agree on the window.
                    expires_at: window.ends_at.as_second() + 60,
                    enforced: limit.action == Action::Deny,
                });
                meta.push((limit.kind, quota.period, window.ends_at));
            }
        }
        if counters.is_empty() {
            return decision;
        }
        match env.store.acquire(&counters, now_secs) {
            Ok(Acquired::Refused { index }) => {
                let (kind, period, ends_at) = meta[index];
                let mut denied = Decision::deny(Reason::QuotaExceeded(kind, period));
                let wait = (ends_at.as_second() - now_secs).max(1) as u64;
                denied.rate_limit = Some(RateLimitState {
                    policy: Arc::from(format!("{policy}-{}-{}", kind.as_str(), period.as_str())),
                    burst: u32::try_from(counters[index].limit).unwrap_or(u32::MAX),
                    window_seconds: match period {
                        Period::Hour => 3600,
                        Period::Day => 86_400,
                    },
                    retry_after: Duration::from_secs(wait),
                });
                denied
            }
            Ok(Acquired::Granted(counts)) => {
                for ((counter, count), (kind, period, _)) in counters.iter().zip(counts).zip(&meta)
                {
                    if !counter.enforced && count > counter.limit {
                        flag(
                            &mut decision,
                            Reason::QuotaExceeded(*kind, *period),
                            Action::Review,
                        );
                    }
                }
                decision
            }
            Err(e) => {
                log::error!("{e}");
                Decision::deny(Reason::StoreUnavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::calendar::ManualClock;
    use crate::core::identity::document::{document, DocumentKind};
    use crate::core::request::body::Selector;

    fn rules(limits: Vec<KeyLimit>, bindings: Vec<BindingRule>) -> IdentityRules {
        IdentityRules {
            selectors: FactSelectors {
                dni: Some(Selector::parse("json:/dni").unwrap()),
                ..FactSelectors::default()
            },
            body_kind: Some(BodyKind::Json),
            max_body: 1024,
            body_timeout: Duration::from_secs(1),
            on_missing_document: OnProblem::Reject,
            on_invalid_document: OnProblem::Review,
            on_invalid_fact: OnProblem::Ignore,
            blocks: Vec::new(),
            block_action: Action::Deny,
            limits,
            bindings,
        }
    }

    fn facts(dni: &str, account: Option<&str>) -> IdentityFacts {
        IdentityFacts {
            document: Some(document(DocumentKind::Dni, dni).unwrap()),
            account: account.map(str::to_string),
            ..IdentityFacts::default()
        }
    }

    /// Decide as the proxy does: hash the facts once, then apply the rules.
    fn decide(r: &IdentityRules, f: &IdentityFacts, env: &IdentityEnv) -> Decision {
        r.decide(
            "p",
            f,
            &KeyHashes::of(f, &env.hasher),
            Decision::allow(),
            env,
        )
    }

    fn env(at: &str) -> (IdentityEnv, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(at.parse().unwrap()));
        (IdentityEnv::in_memory(clock.clone()), clock)
    }

    fn daily(limit: u64, action: Action) -> KeyLimit {
        KeyLimit {
            kind: KeyKind::Dni,
            burst: None,
            quotas: vec![Quota {
                period: Period::Day,
                limit,
            }],
            action,
        }
    }

    #[test]
    fn a_daily_quota_of_n_lets_exactly_n_through_until_lima_midnight() {
        let (env, clock) = env("2026-11-25T04:00:00Z"); // 23:00 on the 24th in Lima
        let r = rules(vec![daily(3, Action::Deny)], vec![]);
        let f = facts("45678912", None);
        let verdicts: Vec<Verdict> = (0..5).map(|_| decide(&r, &f, &env).verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Deny,
                Verdict::Deny
            ]
        );
        let denied = decide(&r, &f, &env);
        assert_eq!(
            denied.primary_reason(),
            Some(Reason::QuotaExceeded(KeyKind::Dni, Period::Day))
        );
        assert_eq!(
            denied.rate_limit.unwrap().retry_after,
            Duration::from_secs(3600)
        );
        clock.set("2026-11-25T04:59:59Z".parse().unwrap());
        assert!(decide(&r, &f, &env).is_denied());
        clock.set("2026-11-25T05:00:00Z".parse().unwrap());
        assert_eq!(decide(&r, &f, &env).verdict, Verdict::Allow);
    }

    #[test]
    fn review_limits_mark_without_refusing() {
        let (env, _) = env("2026-11-25T12:00:00Z");
        let r = rules(vec![daily(1, Action::Review)], vec![]);
        let f = facts("45678912", None);
        assert_eq!(decide(&r, &f, &env).verdict, Verdict::Allow);
        let second = decide(&r, &f, &env);
        assert_eq!(second.verdict, Verdict::Review);
        assert_eq!(
            second.reasons,
            vec![Reason::QuotaExceeded(KeyKind::Dni, Period::Day)]
        );
    }

    #[test]
    fn a_refused_binding_does_not_use_up_the_quota() {
        let (env, _) = env("2026-11-25T12:00:00Z");
        let binding = BindingRule {
            from: KeyKind::Dni,
            to: KeyKind::Account,
            max: 1,
            window: None,
            action: Action::Deny,
        };
        let r = rules(vec![daily(2, Action::Deny)], vec![binding]);
        assert_eq!(
            decide(&r, &facts("45678912", Some("a")), &env).verdict,
            Verdict::Allow
        );
        let other = decide(&r, &facts("45678912", Some("b")), &env);
        assert_eq!(
            other.primary_reason(),
            Some(Reason::BindingExceeded(KeyKind::Dni, KeyKind::Account))
        );
        // Still one request left today for the bound account.
        assert_eq!(
            decide(&r, &facts("45678912", Some("a")), &env).verdict,
            Verdict::Allow
        );
        assert!(decide(&r, &facts("45678912", Some("a")), &env).is_denied());
    }

    #[test]
    fn fact_problems_follow_the_policy() {
        let (env, _) = env("2026-11-25T12:00:00Z");
        let r = rules(vec![], vec![]);
        let missing = IdentityFacts {
            problems: vec![FactProblem::MissingDocument],
            ..IdentityFacts::default()
        };
        assert_eq!(
            decide(&r, &missing, &env).primary_reason(),
            Some(Reason::BadFact(FactProblem::MissingDocument))
        );
        let invalid = IdentityFacts {
            problems: vec![FactProblem::InvalidDocument(
                crate::core::identity::document::DocumentError::BadFormat,
            )],
            ..IdentityFacts::default()
        };
        assert_eq!(decide(&r, &invalid, &env).verdict, Verdict::Review);
        let bad_email = IdentityFacts {
            problems: vec![FactProblem::InvalidEmail],
            ..IdentityFacts::default()
        };
        assert_eq!(decide(&r, &bad_email, &env).verdict, Verdict::Allow);
    }

    #[test]
    fn a_shadowed_connection_denial_outweighs_a_later_review() {
        use crate::core::decision::{Gate, Mode, RoutePolicy};
        use crate::core::net::ip_list::IpList;
        use crate::core::request::client_ip::ClientIp;
        let (env, _) = env("2026-11-25T12:00:00Z");
        let mut ip_block = IpList::new();
        ip_block.insert("192.0.2.0/24".parse().unwrap());
        let gate = Gate::new(
            vec![RoutePolicy {
                name: Arc::from("p"),
                ip_allow: IpList::new(),
                ip_block,
                geofence: None,
                rate_limit: None,
                identity: Some(rules(vec![], vec![])),
                webhook: None,
                mode: Mode::Shadow,
            }],
            None,
            env,
        );
        let ip = "192.0.2.1".parse().unwrap();
        let connection = gate.with_mode(
            0,
            gate.decide(0, &gate.facts(ClientIp { addr: ip, peer: ip })),
        );
        assert_eq!(
            (connection.verdict, connection.shadow),
            (Verdict::Allow, Some(Verdict::Deny))
        );
        // An invalid document is a review under these rules.
        let facts = IdentityFacts {
            problems: vec![FactProblem::InvalidDocument(
                crate::core::identity::document::DocumentError::BadFormat,
            )],
            ..IdentityFacts::default()
        };
        let hashes = KeyHashes::of(&facts, &gate.identity_env().hasher);
        let d = gate.decide_identity(0, &facts, &hashes, connection);
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(d.shadow, Some(Verdict::Deny));
        assert_eq!(d.reasons[0], Reason::IpBlocked);
    }

    #[test]
    fn shadow_mode_lets_rules_through_but_not_malformed_requests() {
        let denied = Decision::deny(Reason::KeyBlocked(KeyKind::Dni))
            .in_mode(crate::core::decision::Mode::Shadow);
        assert_eq!(denied.verdict, Verdict::Allow);
        assert_eq!(denied.shadow, Some(Verdict::Deny));
        let malformed = Decision::deny(Reason::MalformedBody("duplicate_key"))
            .in_mode(crate::core::decision::Mode::Shadow);
        assert_eq!(malformed.verdict, Verdict::Deny);
    }
}
