//! A route's policy as the config compiles it: plain data (lists, specs, rules), no live
//! state. The limiters and the store it is checked against live in the runtime, which is
//! built from the policies and outlives a config swap.

use crate::core::decision::Mode;
use crate::core::net::geo::Geofence;
use crate::core::net::ip_list::IpList;
use crate::core::plan::OnStoreError;
use crate::core::request::facts::KeyKind;
use crate::core::rules::identity::IdentityRules;
use crate::core::rules::rate::RateSpec;
use crate::core::webhook::WebhookRule;
use std::sync::Arc;

/// Which policy: an index into the compiled [`Policies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyId(usize);

impl PolicyId {
    pub fn index(self) -> usize {
        self.0
    }

    /// An id without a table, for unit tests of what routes to it.
    #[cfg(test)]
    pub(crate) fn for_test(index: usize) -> Self {
        Self(index)
    }
}

/// What a route's requests are checked against.
#[derive(Debug)]
pub struct Policy {
    pub name: Arc<str>,
    /// Addresses that skip the rate limit.
    pub ip_allow: IpList,
    pub ip_block: IpList,
    pub geofence: Option<Geofence>,
    pub rate_limit: Option<RateSpec>,
    /// A limit on each client network as a whole (local to this process).
    pub network_rate_limit: Option<RateSpec>,
    /// Rules on who is paying; they need the request's facts (often its body).
    pub identity: Option<IdentityRules>,
    /// Makes the route a webhook route: notifications are verified before anything else.
    pub webhook: Option<WebhookRule>,
    pub mode: Mode,
    /// What a request gets when the store does not answer.
    pub on_store_error: OnStoreError,
    /// The facts a review resolved as fraud puts on the block list (a resolution may
    /// narrow them): by default dni, email, account and device, not the phone, which
    /// families share.
    pub fraud_blocks: Vec<KeyKind>,
    /// The facts whose masked hint a review record keeps (none unless configured).
    pub review_hints: Vec<KeyKind>,
    /// Keep the payment codes the backend creates on this policy's routes.
    pub payment_codes: Option<crate::core::rules::code_life::CodeCapture>,
    /// Keep the exchanges on this policy's routes as encrypted evidence.
    pub evidence: Option<crate::core::evidence::EvidenceCapture>,
}

/// What a fraud resolution blocks when the policy does not say.
pub const DEFAULT_FRAUD_BLOCKS: [KeyKind; 4] = [
    KeyKind::Dni,
    KeyKind::Email,
    KeyKind::Account,
    KeyKind::Device,
];

/// Every compiled policy, addressed by [`PolicyId`].
#[derive(Debug, Default)]
pub struct Policies(Vec<Policy>);

impl Policies {
    /// Add a policy and return its id.
    pub fn push(&mut self, policy: Policy) -> PolicyId {
        self.0.push(policy);
        PolicyId(self.0.len() - 1)
    }

    /// The id of the policy named `name`.
    pub fn find(&self, name: &str) -> Option<PolicyId> {
        self.0.iter().position(|p| &*p.name == name).map(PolicyId)
    }

    pub fn iter(&self) -> impl Iterator<Item = (PolicyId, &Policy)> {
        self.0.iter().enumerate().map(|(i, p)| (PolicyId(i), p))
    }

    /// Each policy, to adjust a compiled config before it is served (a replay keys its
    /// block lists).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Policy> {
        self.0.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<PolicyId> for Policies {
    type Output = Policy;

    fn index(&self, id: PolicyId) -> &Policy {
        &self.0[id.0]
    }
}
