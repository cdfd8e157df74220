//! The decision core: facts about one request in, allow / review / deny out.
//!
//! No Pingora type crosses this boundary, so every rule is tested and benchmarked without
//! sockets. The checks run cheapest first and stop at the first denial: the block lists,
//! then the geofence, then the per-address rate limit (which an allow-listed address skips).
//! A request that cannot even be read into facts (a path that does not normalise, a
//! forwarding header a trusted proxy mangled, an oversized head) is denied with a malformed-request reason,
//! so that it is logged and counted like any other decision.

use crate::core::calendar::Period;
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::{CountryCode, CountryDb, GeoRefusal, Geofence};
use crate::core::net::ip_list::IpList;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::{FactProblem, IdentityFacts, KeyKind};
use crate::core::request::route::PolicyId;
use crate::core::rules::identity::{IdentityEnv, IdentityRules};
use crate::core::webhook::{WebhookError, WebhookRule};
use crate::state::rate_limit::{Limiter, RateOutcome};
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
    pub rate_limit: Option<Limiter>,
    /// Rules on who is paying; they need the request's facts (often its body).
    pub identity: Option<IdentityRules>,
    /// Makes the route a webhook route: notifications are verified before anything else.
    pub webhook: Option<WebhookRule>,
    pub mode: Mode,
}

/// Whether a policy's decisions are carried out or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    /// Nothing is denied or marked; what would have been is logged and counted.
    Shadow,
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
    /// The path belongs to routes that do not take the method (or the method is CONNECT).
    MethodNotAllowed,
    /// Both `Content-Length` and `Transfer-Encoding`: hops could frame the body differently.
    ConflictingFraming,
    /// Refused by the HTTP parser before any rule could run.
    MalformedRequest,
    /// The body could not be read as the route's selectors need (code from the parser).
    MalformedBody(&'static str),
    UnsupportedContentType,
    BodyTooLarge,
    BodyTimeout,
    BadFact(FactProblem),
    KeyBlocked(KeyKind),
    KeyRateLimited(KeyKind),
    QuotaExceeded(KeyKind, Period),
    BindingExceeded(KeyKind, KeyKind),
    StoreUnavailable,
    WebhookUnverified(WebhookError),
    WebhookSourceNotAllowed,
    MissingReplayKey,
    /// Delivered before: answered 200 so the provider stops retrying.
    DuplicateNotification,
    /// Another copy is being delivered right now: 409, the provider retries later.
    NotificationInFlight,
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
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::ConflictingFraming => "conflicting_framing",
            Reason::MalformedRequest => "malformed_request",
            Reason::MalformedBody(code) => code,
            Reason::UnsupportedContentType => "unsupported_content_type",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyTimeout => "body_timeout",
            Reason::BadFact(problem) => problem.code(),
            Reason::KeyBlocked(_) => "identity_blocked",
            Reason::KeyRateLimited(_) => "identity_rate_limited",
            Reason::QuotaExceeded(..) => "quota_exceeded",
            Reason::BindingExceeded(..) => "binding_exceeded",
            Reason::StoreUnavailable => "store_unavailable",
            Reason::WebhookUnverified(e) => e.code(),
            Reason::WebhookSourceNotAllowed => "webhook_source_not_allowed",
            Reason::MissingReplayKey => "missing_replay_key",
            Reason::DuplicateNotification => "duplicate_notification",
            Reason::NotificationInFlight => "notification_in_flight",
        }
    }

    /// The fact kind a rule was keyed on, if any.
    pub fn fact(self) -> Option<KeyKind> {
        match self {
            Reason::KeyBlocked(k)
            | Reason::KeyRateLimited(k)
            | Reason::QuotaExceeded(k, _)
            | Reason::BindingExceeded(k, _) => Some(k),
            _ => None,
        }
    }

    /// The code with the fact and rule detail, for the decision log:
    /// `quota_exceeded:dni:day`, `binding_exceeded:dni->account`.
    pub fn detail(self) -> String {
        match self {
            Reason::QuotaExceeded(k, p) => format!("{}:{}:{}", self.code(), k.as_str(), p.as_str()),
            Reason::BindingExceeded(from, to) => {
                format!("{}:{}->{}", self.code(), from.as_str(), to.as_str())
            }
            _ => match self.fact() {
                Some(k) => format!("{}:{}", self.code(), k.as_str()),
                None => self.code().to_string(),
            },
        }
    }

    /// Requests that cannot be judged or forwarded safely, and unverified or replayed
    /// webhooks: denied even in shadow mode.
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            Reason::MalformedPath
                | Reason::MalformedForwardedFor
                | Reason::HeadersTooLarge
                | Reason::MethodNotAllowed
                | Reason::ConflictingFraming
                | Reason::MalformedRequest
                | Reason::MalformedBody(_)
                | Reason::UnsupportedContentType
                | Reason::BodyTooLarge
                | Reason::BodyTimeout
                | Reason::StoreUnavailable
                | Reason::WebhookUnverified(_)
                | Reason::WebhookSourceNotAllowed
                | Reason::MissingReplayKey
                | Reason::DuplicateNotification
                | Reason::NotificationInFlight
        )
    }

    /// The HTTP status a denial for this reason is answered with.
    pub fn status(self) -> u16 {
        match self {
            Reason::IpAllowListed => 200,
            Reason::IpBlocked
            | Reason::CountryNotAllowed
            | Reason::CountryBlocked
            | Reason::CountryUnknown => 403,
            Reason::RateLimited | Reason::KeyRateLimited(_) | Reason::QuotaExceeded(..) => 429,
            Reason::KeyBlocked(_) | Reason::BindingExceeded(..) => 403,
            Reason::MalformedPath
            | Reason::MalformedForwardedFor
            | Reason::ConflictingFraming
            | Reason::MalformedRequest
            | Reason::MalformedBody(_)
            // 400 rather than 415: to a client it is one more way its body was unreadable.
            | Reason::UnsupportedContentType
            | Reason::BadFact(_) => 400,
            Reason::HeadersTooLarge => 431,
            Reason::MethodNotAllowed => 405,
            Reason::BodyTooLarge => 413,
            Reason::BodyTimeout => 408,
            Reason::StoreUnavailable => 503,
            Reason::WebhookUnverified(_) => 401,
            Reason::WebhookSourceNotAllowed => 403,
            Reason::MissingReplayKey => 400,
            Reason::DuplicateNotification => 200,
            Reason::NotificationInFlight => 409,
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
    /// In shadow mode: what the decision would have been.
    pub shadow: Option<Verdict>,
}

impl Decision {
    pub fn allow() -> Self {
        Self {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            rate_limit: None,
            shadow: None,
        }
    }

    pub fn deny(reason: Reason) -> Self {
        Self {
            verdict: Verdict::Deny,
            reasons: vec![reason],
            rate_limit: None,
            shadow: None,
        }
    }

    /// The reason that settled the decision: the last one added.
    pub fn primary_reason(&self) -> Option<Reason> {
        self.reasons.last().copied()
    }

    pub fn is_denied(&self) -> bool {
        self.verdict == Verdict::Deny
    }

    /// Under a shadow policy, let the request through but remember what would have happened.
    /// Malformed requests are refused all the same.
    pub fn in_mode(mut self, mode: Mode) -> Self {
        let malformed = self.reasons.iter().any(|r| r.is_malformed());
        if mode == Mode::Shadow && self.verdict != Verdict::Allow && !malformed {
            self.shadow = Some(self.verdict);
            self.verdict = Verdict::Allow;
            self.rate_limit = None;
        }
        self
    }
}

/// The compiled policies plus the state they consult (GeoIP database, rate limiters).
#[derive(Debug)]
pub struct Gate {
    policies: Vec<RoutePolicy>,
    geo: Option<CountryDb>,
    identity: IdentityEnv,
}

impl Gate {
    pub fn new(policies: Vec<RoutePolicy>, geo: Option<CountryDb>, identity: IdentityEnv) -> Self {
        Self {
            policies,
            geo,
            identity,
        }
    }

    pub fn identity_env(&self) -> &IdentityEnv {
        &self.identity
    }

    /// The webhook rule of a policy, if it is a webhook route.
    pub fn webhook_rule(&self, policy: PolicyId) -> Option<&WebhookRule> {
        self.policies[policy].webhook.as_ref()
    }

    /// The identity rules of a policy, if it has any.
    pub fn identity_rules(&self, policy: PolicyId) -> Option<&IdentityRules> {
        self.policies[policy].identity.as_ref()
    }

    /// The second step, once the facts are read: identity rules on top of `decision`,
    /// then the policy's mode.
    pub fn decide_identity(
        &self,
        policy: PolicyId,
        facts: &IdentityFacts,
        hashes: &KeyHashes,
        decision: Decision,
    ) -> Decision {
        let policy = &self.policies[policy];
        // A shadow policy may have let the connection through already; what it would have
        // done is not forgotten: the record keeps the sterner of the two.
        let earlier = decision.shadow;
        let decision = match (&policy.identity, decision.is_denied()) {
            (Some(rules), false) => {
                rules.decide(&policy.name, facts, hashes, decision, &self.identity)
            }
            _ => decision,
        };
        let mut decision = decision.in_mode(policy.mode);
        let severity = |v: Option<Verdict>| match v {
            Some(Verdict::Deny) => 2,
            Some(Verdict::Review) => 1,
            _ => 0,
        };
        if severity(earlier) > severity(decision.shadow) {
            decision.shadow = earlier;
        }
        decision
    }

    /// A decision made outside the rules (malformed input) under the policy's mode.
    pub fn with_mode(&self, policy: PolicyId, decision: Decision) -> Decision {
        decision.in_mode(self.policies[policy].mode)
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
    use crate::core::net::geo::UnknownCountry;
    use crate::state::rate_limit::RateSpec;
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
        let limiter = Limiter::new(RateSpec {
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
                identity: None,
                webhook: None,
                mode: Mode::Enforce,
            }],
            None,
            IdentityEnv::in_memory(Arc::new(crate::core::calendar::SystemClock)),
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
