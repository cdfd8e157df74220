//! Connection rules: what is decided before any body is read.
//!
//! Cheapest first, stopping at the first denial: the block list, the geofence, then the
//! per-address burst limit and the limit on the address's whole network (an IPv4 /24 or
//! IPv6 /48 by default), both of which an allow-listed address skips (block lists and the
//! geofence still apply to it). The network limit is what holds back a flood from many
//! addresses of one network, which per-address limits cannot. A local limit is asked at
//! once; a shared one (`scope = "shared"`, per-address only) becomes a one-operation plan
//! for the store, concluded by [`RatePlan`]'s [`Conclude`].

use crate::core::decision::{Decision, RateLimitState, Reason, Verdict};
use crate::core::identity::key_list::KeyHasher;
use crate::core::net::geo::{CountryCode, GeoRefusal};
use crate::core::plan::{
    Conclude, OnStoreError, Rate, StoreAnswer, StoreFailure, StorePlan, WithoutStore,
};
use crate::core::policy::Policy;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::KeyKind;
use crate::core::rules::rate::{BurstLimiter, LimiterKey, RateOutcome, RateScope, RateSpec};
use std::sync::Arc;
use std::time::Duration;

/// What is known about a request before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFacts {
    pub client: ClientIp,
    pub country: Option<CountryCode>,
}

/// The policy's local limiters a request is counted against: per address, per network.
#[derive(Clone, Copy, Default)]
pub struct Limiters<'a> {
    pub address: Option<&'a dyn BurstLimiter>,
    pub network: Option<&'a dyn BurstLimiter>,
}

impl<'a> Limiters<'a> {
    /// Only a per-address limiter.
    pub fn address(limiter: &'a dyn BurstLimiter) -> Self {
        Self {
            address: Some(limiter),
            network: None,
        }
    }
}

/// Either the decision, or the shared rate to ask the store about first.
pub type Step = crate::core::plan::Step<RatePlan>;

/// A connection decision waiting for the store's count of a shared rate.
#[derive(Debug)]
pub struct RatePlan {
    decision: Decision,
    store: StorePlan,
    spec: RateSpec,
    policy: Arc<str>,
    on_store_error: OnStoreError,
}

impl Conclude for RatePlan {
    type Outcome = Decision;

    fn store_plan(&self) -> &StorePlan {
        &self.store
    }

    /// The decision, given the store's answer (or its failure, then the policy's
    /// `on_store_error`).
    fn conclude(self, answer: Result<StoreAnswer, StoreFailure>) -> Decision {
        let decision = self.decision;
        match answer.map(|a| a.rates.first().copied()) {
            Ok(Some(Rate::Limited { retry_after_ms })) => Decision::deny_limited(
                Reason::RateLimited,
                RateLimitState {
                    policy: self.policy,
                    burst: self.spec.burst.get(),
                    window_seconds: self.spec.window_seconds(),
                    retry_after: Duration::from_millis(retry_after_ms),
                },
            ),
            Ok(Some(Rate::Allowed { .. })) => decision,
            Ok(None) | Err(StoreFailure) => match self.on_store_error.without_store(decision) {
                WithoutStore::Refused(d) | WithoutStore::Unprotected(d) => d,
            },
        }
    }
}

/// The key of a client's shared per-address rate: the address (IPv6 by the limit's
/// prefix) under the keyed hash.
fn shared_key(policy: &str, ip: std::net::IpAddr, prefix: u8, hasher: &KeyHasher) -> String {
    let text = match LimiterKey::for_ip(ip, 32, prefix) {
        LimiterKey::V4(v4) => std::net::Ipv4Addr::from(v4).to_string(),
        LimiterKey::V6(v6) => format!("{}/{prefix}", std::net::Ipv6Addr::from(v6)),
        other => format!("{other:?}"),
    };
    format!("r:{policy}:ip:{}", hasher.hash(KeyKind::Ip, &text))
}

/// Decide on the connection facts with the policy's local `limiters`. A shared limit is
/// planned for the store, keyed with `hasher`, at the time `now_ms` gives (read only then).
pub fn decide_or_plan(
    policy: &Policy,
    facts: &ConnectionFacts,
    limiters: Limiters<'_>,
    hasher: &KeyHasher,
    now_ms: impl FnOnce() -> i64,
) -> Step {
    let decision = decide(policy, facts, limiters);
    let shared = policy
        .rate_limit
        .filter(|spec| spec.scope == RateScope::Shared);
    match shared {
        Some(spec)
            if decision.verdict() == Verdict::Allow
                && !decision.reasons().contains(&Reason::IpAllowListed) =>
        {
            let key = shared_key(&policy.name, facts.client.addr, spec.ipv6_prefix, hasher);
            let now_ms = now_ms();
            Step::Ask(RatePlan {
                decision,
                store: StorePlan {
                    now: now_ms.div_euclid(1000),
                    rates: vec![spec.gcra(key, now_ms, true)],
                    ..StorePlan::default()
                },
                spec,
                policy: policy.name.clone(),
                on_store_error: policy.on_store_error,
            })
        }
        _ => Step::Decided(decision),
    }
}

/// Decide on the connection facts with a local limiter only (a shared limit is left to
/// [`decide_or_plan`]).
pub fn decide(policy: &Policy, facts: &ConnectionFacts, limiters: Limiters<'_>) -> Decision {
    let ip = facts.client.addr;
    if policy.ip_block.contains(ip) {
        return Decision::deny(Reason::IpBlocked);
    }
    let mut decision = Decision::allow();
    let allow_listed = policy.ip_allow.contains(ip);
    if allow_listed {
        decision.note(Reason::IpAllowListed);
    }
    if let Some(fence) = &policy.geofence {
        if let Err(refusal) = fence.check(facts.country) {
            return Decision::deny(match refusal {
                GeoRefusal::NotAllowed => Reason::CountryNotAllowed,
                GeoRefusal::Blocked => Reason::CountryBlocked,
                GeoRefusal::Unknown => Reason::CountryUnknown,
            });
        }
    }
    if allow_listed {
        return decision;
    }
    for (limiter, reason) in [
        (limiters.address, Reason::RateLimited),
        (limiters.network, Reason::NetworkRateLimited),
    ] {
        let Some(limiter) = limiter else { continue };
        let spec = limiter.spec();
        let key = LimiterKey::for_ip(ip, spec.ipv4_prefix, spec.ipv6_prefix);
        if let RateOutcome::Limited { retry_after } = limiter.check_key(key) {
            let name = match reason {
                Reason::NetworkRateLimited => format!("{}-network", policy.name).into(),
                _ => policy.name.clone(),
            };
            return Decision::deny_limited(
                reason,
                RateLimitState {
                    policy: name,
                    burst: spec.burst.get(),
                    window_seconds: spec.window_seconds(),
                    retry_after,
                },
            );
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::decision::{Mode, Verdict};
    use crate::core::net::geo::{Geofence, UnknownCountry};
    use crate::core::net::ip_list::IpList;
    use crate::core::rules::rate::RateSpec;
    use std::net::IpAddr;
    use std::num::NonZeroU32;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A burst limiter that lets `room` requests through in all, whatever the key.
    struct Budget {
        spec: RateSpec,
        room: AtomicU32,
    }

    impl BurstLimiter for Budget {
        fn spec(&self) -> &RateSpec {
            &self.spec
        }

        fn check_key(&self, _key: LimiterKey) -> RateOutcome {
            match self
                .room
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_sub(1))
            {
                Ok(_) => RateOutcome::Allowed,
                Err(_) => RateOutcome::Limited {
                    retry_after: Duration::from_secs(60),
                },
            }
        }
    }

    fn budget(room: u32) -> Budget {
        Budget {
            spec: RateSpec {
                requests: NonZeroU32::new(1).unwrap(),
                per: Duration::from_secs(60),
                burst: NonZeroU32::new(2).unwrap(),
                ipv4_prefix: 32,
                ipv6_prefix: 64,
                max_keys: 100,
                scope: RateScope::Local,
            },
            room: AtomicU32::new(room),
        }
    }

    fn list(entries: &[&str]) -> IpList {
        let mut l = IpList::new();
        for e in entries {
            l.insert(IpList::parse_entry(e).unwrap());
        }
        l
    }

    fn policy() -> Policy {
        Policy {
            name: "payments".into(),
            ip_allow: list(&["192.0.2.100"]),
            ip_block: list(&["203.0.113.0/24"]),
            geofence: Some(Geofence::AllowOnly {
                countries: [CountryCode::parse_config("PE").unwrap()].into(),
                unknown: UnknownCountry::Deny,
            }),
            rate_limit: None,
            network_rate_limit: None,
            identity: None,
            webhook: None,
            mode: Mode::Enforce,
            on_store_error: OnStoreError::Closed,
            fraud_blocks: crate::core::policy::DEFAULT_FRAUD_BLOCKS.to_vec(),
            review_hints: Vec::new(),
            payment_codes: None,
            evidence: None,
        }
    }

    fn facts(ip: &str, country: Option<&str>) -> ConnectionFacts {
        let addr: IpAddr = ip.parse().unwrap();
        ConnectionFacts {
            client: ClientIp { addr, peer: addr },
            country: country.and_then(CountryCode::parse_config),
        }
    }

    #[test]
    fn a_shared_rate_is_planned_for_the_store_and_concluded_from_its_answer() {
        let mut p = policy();
        p.geofence = None;
        let mut spec = budget(0).spec;
        spec.scope = RateScope::Shared;
        p.rate_limit = Some(spec);
        let hasher = KeyHasher::new(b"test");
        let plan = match decide_or_plan(
            &p,
            &facts("192.0.2.1", None),
            Limiters::default(),
            &hasher,
            || 5_000,
        ) {
            Step::Ask(plan) => plan,
            Step::Decided(d) => panic!("decided without the store: {d:?}"),
        };
        let op = &plan.store_plan().rates[0];
        assert!(op.key.starts_with("r:payments:ip:") && !op.key.contains("192.0.2.1"));
        assert_eq!((op.interval_ms, op.burst, op.now_ms), (60_000, 2, 5_000));
        let limited = plan.conclude(Ok(StoreAnswer {
            rates: vec![Rate::Limited {
                retry_after_ms: 1_500,
            }],
            ..StoreAnswer::default()
        }));
        assert_eq!(limited.denied_for(), Some(Reason::RateLimited));
        assert_eq!(
            limited.rate_limit().unwrap().retry_after,
            Duration::from_millis(1_500)
        );
        // Allow-listed and blocked addresses never reach the store.
        let office = decide_or_plan(
            &p,
            &facts("192.0.2.100", None),
            Limiters::default(),
            &hasher,
            || 0,
        );
        assert!(matches!(office, Step::Decided(d) if d.verdict() == Verdict::Allow));
        let blocked = decide_or_plan(
            &p,
            &facts("203.0.113.9", None),
            Limiters::default(),
            &hasher,
            || 0,
        );
        assert!(matches!(blocked, Step::Decided(d) if d.is_denied()));
    }

    #[test]
    fn block_list_beats_everything() {
        let d = decide(
            &policy(),
            &facts("203.0.113.5", Some("PE")),
            Limiters::address(&budget(9)),
        );
        assert_eq!(d.denied_for(), Some(Reason::IpBlocked));
    }

    #[test]
    fn geofence_denies_other_and_unknown_countries() {
        let p = policy();
        let d = decide(&p, &facts("198.51.100.1", Some("US")), Limiters::default());
        assert_eq!(d.denied_for(), Some(Reason::CountryNotAllowed));
        let d = decide(&p, &facts("10.0.0.1", None), Limiters::default());
        assert_eq!(d.denied_for(), Some(Reason::CountryUnknown));
    }

    #[test]
    fn the_limiter_denies_with_its_numbers_but_not_allow_listed_addresses() {
        let p = policy();
        let limiter = budget(2);
        let peruvian = facts("192.0.2.1", Some("PE"));
        for _ in 0..2 {
            assert_eq!(
                decide(&p, &peruvian, Limiters::address(&limiter)).verdict(),
                Verdict::Allow
            );
        }
        let third = decide(&p, &peruvian, Limiters::address(&limiter));
        assert_eq!(third.denied_for(), Some(Reason::RateLimited));
        let state = third.rate_limit().unwrap();
        assert_eq!((state.burst, state.window_seconds), (2, 120));
        let office = facts("192.0.2.100", Some("PE"));
        for _ in 0..5 {
            let d = decide(&p, &office, Limiters::address(&limiter));
            assert_eq!(d.verdict(), Verdict::Allow);
            assert_eq!(d.reasons(), [Reason::IpAllowListed]);
        }
    }

    #[test]
    fn the_network_limit_counts_after_the_address_limit_and_says_which() {
        let p = policy();
        let address = budget(10);
        let network = budget(1);
        let limiters = Limiters {
            address: Some(&address),
            network: Some(&network),
        };
        let peruvian = facts("192.0.2.1", Some("PE"));
        assert_eq!(decide(&p, &peruvian, limiters).verdict(), Verdict::Allow);
        let second = decide(&p, &peruvian, limiters);
        assert_eq!(second.denied_for(), Some(Reason::NetworkRateLimited));
        assert_eq!(&*second.rate_limit().unwrap().policy, "payments-network");
        // The allow list skips both.
        let office = facts("192.0.2.100", Some("PE"));
        assert_eq!(decide(&p, &office, limiters).verdict(), Verdict::Allow);
    }
}
