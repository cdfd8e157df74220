//! Connection rules: what is decided before any body is read.
//!
//! Cheapest first, stopping at the first denial: the block list, the geofence, then the
//! per-address burst limit, which an allow-listed address skips (block lists and the
//! geofence still apply to it).

use crate::core::decision::{Decision, RateLimitState, Reason};
use crate::core::net::geo::{CountryCode, GeoRefusal};
use crate::core::policy::Policy;
use crate::core::request::client_ip::ClientIp;
use crate::core::rules::rate::{BurstLimiter, LimiterKey, RateOutcome};

/// What is known about a request before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFacts {
    pub client: ClientIp,
    pub country: Option<CountryCode>,
}

/// Decide on the connection facts; `limiter` is the policy's per-address limiter, if it
/// has a rate limit.
pub fn decide(
    policy: &Policy,
    facts: &ConnectionFacts,
    limiter: Option<&dyn BurstLimiter>,
) -> Decision {
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
    if let (Some(limiter), false) = (limiter, allow_listed) {
        let spec = limiter.spec();
        let key = LimiterKey::for_ip(ip, spec.ipv6_prefix);
        if let RateOutcome::Limited { retry_after } = limiter.check_key(key) {
            return Decision::deny_limited(
                Reason::RateLimited,
                RateLimitState {
                    policy: policy.name.clone(),
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
    use std::time::Duration;

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
                ipv6_prefix: 64,
                max_keys: 100,
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
            identity: None,
            webhook: None,
            mode: Mode::Enforce,
            on_store_error: crate::core::policy::OnStoreError::Closed,
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
    fn block_list_beats_everything() {
        let d = decide(
            &policy(),
            &facts("203.0.113.5", Some("PE")),
            Some(&budget(9)),
        );
        assert_eq!(d.denied_for(), Some(Reason::IpBlocked));
    }

    #[test]
    fn geofence_denies_other_and_unknown_countries() {
        let p = policy();
        let d = decide(&p, &facts("198.51.100.1", Some("US")), None);
        assert_eq!(d.denied_for(), Some(Reason::CountryNotAllowed));
        let d = decide(&p, &facts("10.0.0.1", None), None);
        assert_eq!(d.denied_for(), Some(Reason::CountryUnknown));
    }

    #[test]
    fn the_limiter_denies_with_its_numbers_but_not_allow_listed_addresses() {
        let p = policy();
        let limiter = budget(2);
        let peruvian = facts("192.0.2.1", Some("PE"));
        for _ in 0..2 {
            assert_eq!(
                decide(&p, &peruvian, Some(&limiter)).verdict(),
                Verdict::Allow
            );
        }
        let third = decide(&p, &peruvian, Some(&limiter));
        assert_eq!(third.denied_for(), Some(Reason::RateLimited));
        let state = third.rate_limit().unwrap();
        assert_eq!((state.burst, state.window_seconds), (2, 120));
        let office = facts("192.0.2.100", Some("PE"));
        for _ in 0..5 {
            let d = decide(&p, &office, Some(&limiter));
            assert_eq!(d.verdict(), Verdict::Allow);
            assert_eq!(d.reasons(), [Reason::IpAllowListed]);
        }
    }
}
