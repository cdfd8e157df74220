//! Webhook verification: is this notification really from the payment provider, and is it
//! fresh?
//!
//! Every profile checks an HMAC over the exact raw body bytes (plus, for some, an id and a
//! timestamp), compares in constant time (`Mac::verify_slice`), and accepts any of the
//! route's active secrets, so a secret can be rotated without a window of failures.
//! Schemes that sign a timestamp are held to a tolerance in both directions: a captured
//! notification cannot be replayed later, nor one with a clock far ahead prepared early.
//! Replays inside the window are caught by the claim that `core::rules::webhook` plans.
//!
//! Profiles (the providers' documented schemes):
//! - `pagoefectivo`: `PE-Signature` = hex HMAC-SHA256(body). No timestamp, no event id.
//! - `stripe`: `Stripe-Signature: t=..,v1=..[,v1=..]`, hex HMAC-SHA256 of `{t}.{body}`, keyed
//!   with the whole `whsec_...` string.
//! - `standard-webhooks` (Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`
//!   (`v1,<base64>` separated by spaces) over `{id}.{timestamp}.{body}`, keyed with the
//!   base64-decoded secret after `whsec_`.
//! - `checkout`: `Cko-Signature` = hex HMAC-SHA256(body).
//! - `dlocal`: `Authorization: V2-HMAC-SHA256, Signature: <hex>` over `X-Login + X-Date + body`.
//! - `mercadopago`: `x-signature: ts=..,v1=<hex>` over the manifest
//!   `id:{data.id};request-id:{x-request-id};ts:{ts};` (absent parts left out).
//! - `hmac`: configurable header, SHA-256 or SHA-512, hex or base64, optional prefix, and a
//!   template of what is signed (`{timestamp}.{body}`) with an optional timestamp header.

mod profile;
mod rule;

pub use profile::{sign, Algorithm, Encoding, GenericHmac, Profile, SecretError, MIN_SECRET_BYTES};
pub use rule::{OnDuplicate, WebhookRule};

use crate::core::request::body::{self, BodyKind, ParsedBody};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

/// What verification learned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verified {
    /// The provider's own id for the event, where the scheme carries one.
    pub event_id: Option<String>,
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookError {
    MissingSignature,
    MalformedSignature,
    BadSignature,
    MissingTimestamp,
    TooOld,
    InFuture,
}

impl WebhookError {
    pub fn code(self) -> &'static str {
        match self {
            WebhookError::MissingSignature => "missing_signature",
            WebhookError::MalformedSignature => "malformed_signature",
            WebhookError::BadSignature => "bad_signature",
            WebhookError::MissingTimestamp => "missing_timestamp",
            WebhookError::TooOld => "timestamp_too_old",
            WebhookError::InFuture => "timestamp_in_future",
        }
    }
}

/// The parts of a request a profile reads.
pub struct Notification<'a> {
    pub headers: &'a http::HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The body read as JSON, the first time a replay key or a settlement asks for it.
    json: std::cell::OnceCell<ParsedBody<'a>>,
}

impl<'a> Notification<'a> {
    pub fn new(headers: &'a http::HeaderMap, query: Option<&'a str>, body: &'a [u8]) -> Self {
        Self {
            headers,
            query,
            body,
            json: std::cell::OnceCell::new(),
        }
    }

    /// The body as JSON whatever its `Content-Type` says (providers are not careful with
    /// it), read once; nothing when it is not JSON garita accepts.
    pub fn json(&self) -> &ParsedBody<'a> {
        self.json.get_or_init(|| {
            body::parse(Some("application/json"), self.body, BodyKind::Json)
                .unwrap_or(ParsedBody::None)
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    }

    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn keyed<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> M {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    parts.iter().for_each(|p| mac.update(p));
    mac
}

/// Whether any of `signatures` is the MAC of `parts` (concatenated) under any of `keys`.
/// Each comparison is constant-time (`Mac::verify_slice`).
pub(crate) fn mac_matches(
    algorithm: Algorithm,
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    signatures: &[Vec<u8>],
) -> Result<(), WebhookError> {
    let matches = |key: &Vec<u8>, sig: &Vec<u8>| match algorithm {
        Algorithm::Sha256 => keyed::<Hmac<Sha256>>(key, parts).verify_slice(sig).is_ok(),
        Algorithm::Sha512 => keyed::<Hmac<Sha512>>(key, parts).verify_slice(sig).is_ok(),
    };
    let found = keys
        .iter()
        .any(|key| signatures.iter().any(|sig| matches(key, sig)));
    if found {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

pub(crate) fn mac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha256 => keyed::<Hmac<Sha256>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
        Algorithm::Sha512 => keyed::<Hmac<Sha512>>(key, parts)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

/// Hold a signed timestamp (Unix seconds) to `tolerance` seconds either side of `now`.
pub(crate) fn check_window(timestamp: i64, now: i64, tolerance: i64) -> Result<(), WebhookError> {
    if timestamp < now - tolerance {
        Err(WebhookError::TooOld)
    } else if timestamp > now + tolerance {
        Err(WebhookError::InFuture)
    } else {
        Ok(())
    }
}
