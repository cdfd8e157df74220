//! The vocabulary of outcomes: a [`Verdict`], the [`Reason`]s behind it, and the
//! [`Decision`] that carries both through the phases of one request.
//!
//! A decision can only be made through its constructors, so a denial always has the reason
//! that settled it. Reasons are stable codes (they appear in responses, the decision log and
//! metric labels); which HTTP status a denial gets is the response mapping's business
//! (`proxy::response`), not the core's.

use crate::core::calendar::Period;
use crate::core::request::facts::{FactProblem, KeyKind};
use crate::core::webhook::WebhookError;
use std::sync::Arc;
use std::time::Duration;

/// Whether a policy's decisions are carried out or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    /// Nothing is denied or marked; what would have been is logged and counted.
    Shadow,
}

/// What a rule does when it fires: refuse the request, or forward it marked for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deny,
    Review,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// Why a decision came out the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    IpAllowListed,
    IpBlocked,
    CountryNotAllowed,
    CountryBlocked,
    CountryUnknown,
    RateLimited,
    /// The client's network (an IPv4 /24, an IPv6 /48 by default) is over its rate.
    NetworkRateLimited,
    MalformedPath,
    MalformedForwardedFor,
    HeadersTooLarge,
    /// The path belongs to routes that do not take the method (or the method is CONNECT).
    MethodNotAllowed,
    /// The request asks to upgrade the connection on a route that does not allow it:
    /// after a 101 the bytes would pass uninspected.
    UpgradeRefused,
    /// Both `Content-Length` and `Transfer-Encoding`: hops could frame the body differently.
    ConflictingFraming,
    /// A transfer coding other than `chunked` alone (`gzip, chunked`): the framework would
    /// drop the coding and forward the body as if it had none.
    UnsupportedTransferCoding,
    /// Refused by the HTTP parser before any rule could run.
    MalformedRequest,
    /// The body could not be read as the route's selectors need (code from the parser).
    MalformedBody(&'static str),
    UnsupportedContentType,
    BodyTooLarge,
    BodyTimeout,
    BadFact(FactProblem),
    KeyBlocked(KeyKind),
    /// On the store's runtime block list (`garita block add`, a fraud resolution): the
    /// same answer as a config list's block, told apart in the log (`...:runtime`), since
    /// a replay of the log has the config's lists but not the store's.
    RuntimeBlocked(KeyKind),
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
    /// The risk rules that fired add up to the policy's review or deny threshold.
    RiskScore,
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
            Reason::NetworkRateLimited => "network_rate_limited",
            Reason::MalformedPath => "malformed_path",
            Reason::MalformedForwardedFor => "malformed_forwarded_for",
            Reason::HeadersTooLarge => "headers_too_large",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::UpgradeRefused => "upgrade_refused",
            Reason::ConflictingFraming => "conflicting_framing",
            Reason::UnsupportedTransferCoding => "unsupported_transfer_coding",
            Reason::MalformedRequest => "malformed_request",
            Reason::MalformedBody(code) => code,
            Reason::UnsupportedContentType => "unsupported_content_type",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyTimeout => "body_timeout",
            Reason::BadFact(problem) => problem.code(),
            Reason::KeyBlocked(_) | Reason::RuntimeBlocked(_) => "identity_blocked",
            Reason::KeyRateLimited(_) => "identity_rate_limited",
            Reason::QuotaExceeded(..) => "quota_exceeded",
            Reason::BindingExceeded(..) => "binding_exceeded",
            Reason::StoreUnavailable => "store_unavailable",
            Reason::WebhookUnverified(e) => e.code(),
            Reason::WebhookSourceNotAllowed => "webhook_source_not_allowed",
            Reason::MissingReplayKey => "missing_replay_key",
            Reason::DuplicateNotification => "duplicate_notification",
            Reason::NotificationInFlight => "notification_in_flight",
            Reason::RiskScore => "risk_score",
        }
    }

    /// The fact kind a rule was keyed on, if any.
    pub fn fact(self) -> Option<KeyKind> {
        match self {
            Reason::KeyBlocked(k)
            | Reason::RuntimeBlocked(k)
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
            Reason::RuntimeBlocked(k) => format!("{}:{}:runtime", self.code(), k.as_str()),
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
                | Reason::UnsupportedTransferCoding
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
}

/// The numbers behind a rate-limit denial, for `Retry-After` and the `RateLimit` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitState {
    pub policy: Arc<str>,
    pub burst: u32,
    pub window_seconds: u64,
    pub retry_after: Duration,
}

/// A risk rule that fired on a request, and what it weighed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: Arc<str>,
    pub weight: u32,
    /// A shadow rule: logged with its weight, but not added to the score.
    pub shadow: bool,
    /// What it saw (a total or a count), where the rule is judged on counters.
    pub seen: Option<u64>,
}

/// What the risk rules made of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Risk {
    /// The weights of the enforced rules that fired, added up.
    pub score: u32,
    pub fired: Vec<Fired>,
    /// Shop-wide anomaly rules judged on this request (by index in the policy's risk
    /// rules), and whether the anomaly holds: the glue keeps the gauge.
    pub shop_anomalies: Vec<(usize, bool)>,
}

/// Allow, review or deny, with the reasons. Made only through its constructors: a denial
/// always carries the reason that settled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    verdict: Verdict,
    /// In the order they were found; the last one settled the decision.
    reasons: Vec<Reason>,
    rate_limit: Option<RateLimitState>,
    /// In shadow mode: what the decision would have been.
    shadow: Option<Verdict>,
    /// Boxed: most requests meet no risk rule, and decisions are moved around a lot.
    risk: Option<Box<Risk>>,
}

impl Decision {
    pub fn allow() -> Self {
        Self {
            verdict: Verdict::Allow,
            reasons: Vec::new(),
            rate_limit: None,
            shadow: None,
            risk: None,
        }
    }

    pub fn deny(reason: Reason) -> Self {
        Self {
            verdict: Verdict::Deny,
            reasons: vec![reason],
            rate_limit: None,
            shadow: None,
            risk: None,
        }
    }

    /// Record what the risk rules made of the request.
    pub fn set_risk(&mut self, risk: Risk) {
        self.risk = Some(Box::new(risk));
    }

    pub fn risk(&self) -> Option<&Risk> {
        self.risk.as_deref()
    }

    /// A denial by a rate limit or quota, with the numbers for the response headers.
    pub fn deny_limited(reason: Reason, state: RateLimitState) -> Self {
        Self {
            rate_limit: Some(state),
            ..Self::deny(reason)
        }
    }

    /// Mark for review (unless already denied), adding the reason.
    pub fn review(&mut self, reason: Reason) {
        if self.verdict == Verdict::Allow {
            self.verdict = Verdict::Review;
        }
        self.reasons.push(reason);
    }

    /// Record a reason that changes nothing (an allow-listed address).
    pub fn note(&mut self, reason: Reason) {
        self.reasons.push(reason);
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// What a shadow policy would have done, if it let this request through.
    pub fn shadow(&self) -> Option<Verdict> {
        self.shadow
    }

    pub fn rate_limit(&self) -> Option<&RateLimitState> {
        self.rate_limit.as_ref()
    }

    /// The reason that settled the decision: the last one added.
    pub fn primary_reason(&self) -> Option<Reason> {
        self.reasons.last().copied()
    }

    /// For a denial: the reason that settled it.
    pub fn denied_for(&self) -> Option<Reason> {
        match self.verdict {
            Verdict::Deny => self.primary_reason(),
            _ => None,
        }
    }

    pub fn is_denied(&self) -> bool {
        self.verdict == Verdict::Deny
    }

    /// As logs and metrics name it: `allow`, `review`, `deny`, `shadow_deny` /
    /// `shadow_review` for what a shadow policy let through, or `duplicate` for a webhook
    /// delivered before and acknowledged (a provider's routine retry is no denial: a
    /// deny-rate alert must not fire on it).
    pub fn label(&self) -> &'static str {
        if self.denied_for() == Some(Reason::DuplicateNotification) {
            return "duplicate";
        }
        match self.shadow {
            Some(Verdict::Deny) => "shadow_deny",
            Some(Verdict::Review) => "shadow_review",
            _ => self.verdict.as_str(),
        }
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

    /// Keep the sterner of this decision's shadow record and an earlier one (a shadow
    /// policy that let the connection through already).
    pub fn keep_sterner_shadow(&mut self, earlier: Option<Verdict>) {
        if earlier > self.shadow {
            self.shadow = earlier;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_carries_its_reason_and_review_never_softens_it() {
        let mut d = Decision::deny(Reason::IpBlocked);
        assert_eq!(d.denied_for(), Some(Reason::IpBlocked));
        d.review(Reason::CountryUnknown);
        assert!(d.is_denied());
        let mut a = Decision::allow();
        assert_eq!(a.denied_for(), None);
        a.note(Reason::IpAllowListed);
        assert_eq!(a.verdict(), Verdict::Allow);
        a.review(Reason::KeyRateLimited(KeyKind::Dni));
        assert_eq!(a.verdict(), Verdict::Review);
        assert_eq!(a.reasons().len(), 2);
    }

    #[test]
    fn shadow_mode_records_instead_of_acting_but_not_on_malformed_requests() {
        let d = Decision::deny(Reason::IpBlocked).in_mode(Mode::Shadow);
        assert_eq!(
            (d.verdict(), d.shadow()),
            (Verdict::Allow, Some(Verdict::Deny))
        );
        let m = Decision::deny(Reason::MalformedPath).in_mode(Mode::Shadow);
        assert_eq!((m.verdict(), m.shadow()), (Verdict::Deny, None));
        let mut r = Decision::allow();
        r.review(Reason::KeyBlocked(KeyKind::Email));
        let mut r = r.in_mode(Mode::Shadow);
        assert_eq!(r.shadow(), Some(Verdict::Review));
        r.keep_sterner_shadow(Some(Verdict::Deny));
        assert_eq!(r.shadow(), Some(Verdict::Deny));
        r.keep_sterner_shadow(None);
        assert_eq!(r.shadow(), Some(Verdict::Deny));
    }
}
