//! The decision core: facts about one request in, allow / review / deny out.
//!
//! No Pingora type crosses this boundary, so every rule is tested and benchmarked without
//! sockets. The checks run cheapest first and stop at the first denial: the block lists,
//! then the geofence, then the per-address rate limit (which an allow-listed address skips).
//! A request that cannot even be read into facts (a path that does not normalise, a
//! forwarding header a trusted proxy mangled, an oversized head) is denied with a malformed-request reason,
//! so that it is logged and counted like any other decision.

use crate::client_ip::ClientIp;
use crate::geo::{CountryCode, CountryDb, GeoRefusal, Geofence};
use crate::ip_list::IpList;
use crate::rate_limit::{IpRateLimiter, RateOutcome};
use crate::route::PolicyId;
use std::sync::Arc;
use std::time::Duration;

/// What a route's requests are checked against.
#[derive(Debug)]
pub struct RoutePolicy {
    pub name: Arc<str>,
    /// Addresses that skip the rate limit.
    pub ip_allow: IpList,
    pub ip_block: IpList,
    pub geofence: Option<Geofence>,
    pub rate_limit: Option<IpRateLimiter>,
}

/// What is known about a request before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionFacts {
    pub client: ClientIp,
    pub country: Option<CountryCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Review,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Review => "review",
            Verdict::Deny => "deny",
        }
    }
}

/// Why a decision came out the way it did. The codes are stable: they appear in responses,
/// the decision log and metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    IpAllowListed,
    IpBlocked,
    CountryNotAllowed,
    CountryBlocked,
    CountryUnknown,
    RateLimited,
    MalformedPath,
    MalformedForwardedFor,
    HeadersTooLarge,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::IpAllowListed => "ip_allowlisted",
            Reason::IpBlocked => "ip_blocked",
            Reason::CountryNotAllowed => "country_not_allowed",
            Reason::CountryBlocked => "country_blocked",
            Reason::CountryUnknown => "country_unknown",
            Reason::RateLimited => "rate_limited",
            Reason::MalformedPath => "malformed_path",
            Reason::MalformedForwardedFor => "malformed_forwarded_for",
            Reason::HeadersTooLarge => "headers_too_large",
        }
    }

    /// The HTTP status a denial for this reason is answered with.
    pub fn status(self) -> u16 {
        match self {
            Reason::IpAllowListed => 200,
            Reason::IpBlocked
            | Reason::CountryNotAllowed
            | Reason::CountryBlocked
            | Reason::CountryUnknown => 403,
            Reason::RateLimited => 429,
            Reason::MalformedPath | Reason::MalformedForwardedFor => 400,
            Reason::HeadersTooLarge => 431,
        }
    }
}

/// The numbers behind a rate-limit denial, for `Retry-After` and the `RateLimit` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitState {
    pub policy: Arc<str>,
    pub burst: u32,
    pub window_seconds: u64,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub rate_limit: Option<RateLimitState>,
}

impl Decision {
    pub fn allow() -> Self {
        Self {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            rate_limit: None,
        }
    }

    pub fn deny(reason: Reason) -> Self {
        Self {
            verdict: Verdict::Deny,
            reasons: vec![reason],
            rate_limit: None,
        }
    }

    /// The reason that settled the decision: the last one added.
    pub fn primary_reason(&self) -> Option<Reason> {
        self.reasons.last().copied()
    }

    pub fn is_denied(&self) -> bool {
        self.verdict == Verdict::Deny
    }
}

/// The compiled policies plus the state they consult (GeoIP database, rate limiters).
#[derive(Debug)]
pub struct Gate {
    policies: Vec<RoutePolicy>,
    geo: Option<CountryDb>,
}

impl Gate {
    pub fn new(policies: Vec<RoutePolicy>, geo: Option<CountryDb>) -> Self {
        Self { policies, geo }
    }

    pub fn policies(&self) -> &[RoutePolicy] {
        &self.policies
    }

    pub fn geo(&self) -> Option<&CountryDb> {
        self.geo.as_ref()
    }

    pub fn facts(&self, client: ClientIp) -> ConnectionFacts {
        ConnectionFacts {
            client,
            country: self.geo.as_ref().and_then(|db| db.country(client.addr)),
        }
    }

    pub fn decide(&self, policy: PolicyId, facts: &ConnectionFacts) -> Decision {
        let policy = &self.policies[policy];
        let ip = facts.client.addr;
        if policy.ip_block.contains(ip) {
            return Decision::deny(Reason::IpBlocked);
        }
        let mut decision = Decision::allow();
        let allow_listed = policy.ip_allow.contains(ip);
        if allow_listed {
            decision.reasons.push(Reason::IpAllowListed);
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
        if let (Some(limiter), false) = (&policy.rate_limit, allow_listed) {
            if let RateOutcome::Limited { retry_after } = limiter.check(ip) {
                let spec = limiter.spec();
                let mut denied = Decision::deny(Reason::RateLimited);
                denied.rate_limit = Some(RateLimitState {
                    policy: policy.name.clone(),
                    burst: spec.burst.get(),
                    window_seconds: spec.window_seconds(),
                    retry_after,
                });
                return denied;
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::UnknownCountry;
    use crate::rate_limit::RateSpec;
    use std::net::IpAddr;
    use std::num::NonZeroU32;

    fn list(entries: &[&str]) -> IpList {
        let mut l = IpList::new();
        for e in entries {
            l.insert(IpList::parse_entry(e).unwrap());
        }
        l
    }

    fn gate() -> Gate {
        let limiter = IpRateLimiter::new(RateSpec {
            requests: NonZeroU32::new(1).unwrap(),
            per: Duration::from_secs(60),
            burst: NonZeroU32::new(2).unwrap(),
            ipv6_prefix: 64,
            max_keys: 100,
        });
        Gate::new(
            vec![RoutePolicy {
                name: Arc::from("payments"),
                ip_allow: list(&["192.0.2.100"]),
                ip_block: list(&["203.0.113.0/24"]),
                geofence: Some(Geofence::AllowOnly {
                    countries: [CountryCode::parse_config("PE").unwrap()].into(),
                    unknown: UnknownCountry::Deny,
                }),
                rate_limit: limiter,
            }],
            None,
        )
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
        let d = gate().decide(0, &facts("203.0.113.5", Some("PE")));
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.primary_reason(), Some(Reason::IpBlocked));
    }

    #[test]
    fn geofence_denies_other_and_unknown_countries() {
        let g = gate();
        assert_eq!(
            g.decide(0, &facts("198.51.100.1", Some("US")))
                .primary_reason(),
            Some(Reason::CountryNotAllowed)
        );
        assert_eq!(
            g.decide(0, &facts("10.0.0.1", None)).primary_reason(),
            Some(Reason::CountryUnknown)
        );
    }

    #[test]
    fn rate_limit_denies_after_the_burst_but_not_allow_listed_addresses() {
        let g = gate();
        let peruvian = facts("192.0.2.1", Some("PE"));
        assert_eq!(g.decide(0, &peruvian).verdict, Verdict::Allow);
        assert_eq!(g.decide(0, &peruvian).verdict, Verdict::Allow);
        let third = g.decide(0, &peruvian);
        assert_eq!(third.primary_reason(), Some(Reason::RateLimited));
        let state = third.rate_limit.unwrap();
        assert_eq!((state.burst, state.window_seconds), (2, 120));
        let office = facts("192.0.2.100", Some("PE"));
        for _ in 0..5 {
            let d = g.decide(0, &office);
            assert_eq!(d.verdict, Verdict::Allow);
            assert_eq!(d.reasons, vec![Reason::IpAllowListed]);
        }
    }
}
