//! What one request carries through the phases: the config it is served under, what the
//! decision learned, and, kept apart, what only a webhook route or the exchange with the
//! backend needs.
//!
//! Built once per request by `new_ctx`; nothing in it is shared between requests.

use super::failure::Failure;
use super::served::Served;
use crate::core::decision::Decision;
use crate::core::identity::key_list::KeyHashes;
use crate::core::net::geo::CountryCode;
use crate::core::policy::PolicyId;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::IdentityFacts;
use crate::core::request::route::RouteName;
use crate::core::rules::webhook::HeldClaim;
use crate::state::upstreams::Upstream;
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::time::Instant;

/// What one request learned on its way through the phases.
pub struct RequestCtx {
    /// The config and runtime this request is served under from start to end, whatever a
    /// reload swaps in meanwhile.
    pub(super) served: Arc<Served>,
    pub(super) request_id: RequestId,
    pub(super) started: Instant,
    pub(super) route: RouteName,
    /// The route's policy, once the route is known.
    pub(super) policy: Option<PolicyId>,
    pub(super) client: Option<ClientIp>,
    pub(super) country: Option<CountryCode>,
    pub(super) decision: Option<Decision>,
    /// Identity facts and their keyed hashes, read once for the rules and the log.
    pub(super) facts: Option<(IdentityFacts, KeyHashes)>,
    /// A 405's `Allow` header.
    pub(super) allow: Option<std::borrow::Cow<'static, str>>,
    /// Request headers dropped for a `_` in their names, for the log.
    pub(super) dropped_headers: Option<String>,
    /// The request asks for an upgrade its route does not allow: forwarded without it.
    pub(super) strip_upgrade: bool,
    /// Time spent waiting for the body, left out of the decision-latency histogram.
    pub(super) body_wait: std::time::Duration,
    /// Webhook routes: what became of the notification.
    pub(super) webhook: WebhookCtx,
    /// The exchange with the backend, once the request is forwarded.
    pub(super) upstream: UpstreamCtx,
    /// A payment code created or settled.
    pub(super) code: super::codes::CodeCtx,
    /// What a policy that captures evidence keeps of the exchange.
    pub(super) evidence: super::evidence::EvidenceCtx,
}

/// What a webhook route learned of its notification.
#[derive(Default)]
pub struct WebhookCtx {
    /// (profile, outcome) for the metrics.
    pub(super) outcome: Option<(&'static str, &'static str)>,
    /// The event claimed for delivery, to settle once the backend answered.
    pub(super) claim: Option<HeldClaim>,
    /// A delivered-before event forwarded on purpose.
    pub(super) duplicate: bool,
    /// The keyed hash of the verified event's id (hex), for the log.
    pub(super) event: Option<[u8; 32]>,
}

/// The exchange with the backend.
#[derive(Default)]
pub struct UpstreamCtx {
    pub(super) status: Option<u16>,
    /// The upstream this request was sent to (the last one, after a retry).
    pub(super) chosen: Option<Arc<Upstream>>,
    /// When the exchange must be over (`upstream.total_timeout_ms`).
    pub(super) deadline: Option<Instant>,
    /// Why the upstream did not answer, for the log.
    pub(super) error: Option<Failure>,
}

impl RequestCtx {
    pub(super) fn new(served: Arc<Served>) -> Self {
        RequestCtx {
            served,
            request_id: RequestId::new(),
            started: Instant::now(),
            route: RouteName::default_route(),
            policy: None,
            client: None,
            country: None,
            decision: None,
            facts: None,
            allow: None,
            dropped_headers: None,
            strip_upgrade: false,
            body_wait: std::time::Duration::ZERO,
            webhook: WebhookCtx::default(),
            upstream: UpstreamCtx::default(),
            code: Default::default(),
            evidence: Default::default(),
        }
    }
}

impl UpstreamCtx {
    /// An error once the exchange with the upstream has outlasted `upstream.total_timeout_ms`:
    /// a backend that keeps sending its body a little at a time is cut off (the client's
    /// connection is closed; a head that completes too late gets 504). Checked when the head
    /// is complete and at each piece of body; a silent backend is the read timeout's, and a
    /// head sent a byte at a time is bounded only by the read timeout per byte (Pingora reads
    /// the head whole).
    pub(super) fn past_deadline(&self) -> Result<()> {
        match self.deadline {
            Some(deadline) if Instant::now() > deadline => Err(Error::explain(
                ErrorType::ReadTimedout,
                "upstream.total_timeout_ms passed",
            )
            .into_up()),
            _ => Ok(()),
        }
    }
}

/// A request's id: 128 random bits as 32 hex digits, made without formatting machinery
/// or a heap allocation.
#[derive(Clone, Copy)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn new() -> Self {
        let mut text = [0u8; 32];
        hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut text)
            .expect("32 hex digits for 16 bytes");
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}
