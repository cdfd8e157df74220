//! The providers' signature schemes, one match arm each, for verifying and for signing.

use super::{check_window, mac, mac_matches, Notification, Verified, WebhookError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// The shortest key material a webhook secret may have (128 bits).
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a secret cannot be a webhook key. Never carries the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// It does not decode as the profile's secrets do.
    Malformed(&'static str),
    /// Its key material has this many bytes, fewer than [`MIN_SECRET_BYTES`].
    TooShort(usize),
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::Malformed(why) => f.write_str(why),
            SecretError::TooShort(n) => write!(
                f,
                "a secret of at least {MIN_SECRET_BYTES} bytes of key material; it has {n}"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// The generic scheme: `header: [prefix]encode(HMAC(template))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericHmac {
    pub header: http::HeaderName,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Stripped from the header value before decoding, e.g. `sha256=`.
    pub prefix: String,
    /// What is signed: `{body}`, optionally with `{timestamp}` around it.
    pub template: String,
    pub timestamp_header: Option<http::HeaderName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    PagoEfectivo,
    Stripe,
    StandardWebhooks,
    Checkout,
    Dlocal,
    MercadoPago,
    Hmac(GenericHmac),
}

impl Profile {
    /// Whether the scheme signs a timestamp, so that a stale notification is refused.
    pub fn signs_timestamp(&self) -> bool {
        match self {
            Profile::PagoEfectivo | Profile::Checkout => false,
            Profile::Hmac(scheme) => scheme.timestamp_header.is_some(),
            _ => true,
        }
    }

    /// A named profile (`hmac` needs its settings and is built by the config).
    pub fn named(name: &str) -> Option<Profile> {
        Some(match name {
            "pagoefectivo" => Profile::PagoEfectivo,
            "stripe" => Profile::Stripe,
            "standard-webhooks" => Profile::StandardWebhooks,
            "checkout" => Profile::Checkout,
            "dlocal" => Profile::Dlocal,
            "mercadopago" => Profile::MercadoPago,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Profile::PagoEfectivo => "pagoefectivo",
            Profile::Stripe => "stripe",
            Profile::StandardWebhooks => "standard-webhooks",
            Profile::Checkout => "checkout",
            Profile::Dlocal => "dlocal",
            Profile::MercadoPago => "mercadopago",
            Profile::Hmac(_) => "hmac",
        }
    }

    /// The MAC key a secret stands for. Standard Webhooks secrets are base64 after
    /// `whsec_`; Stripe keys with the whole `whsec_...` string; the rest use the bytes.
    /// A secret whose key material (decoded, after any `whsec_`) is shorter than
    /// [`MIN_SECRET_BYTES`] is refused: an empty or one-byte key is one anybody can sign with.
    pub fn key_from_secret(&self, secret: &str) -> Result<Vec<u8>, SecretError> {
        let key = self.key_bytes(secret).map_err(SecretError::Malformed)?;
        let material = match self {
            Profile::Stripe => secret.strip_prefix("whsec_").unwrap_or(secret).len(),
            _ => key.len(),
        };
        if material < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(material));
        }
        Ok(key)
    }

    /// The MAC key bytes of a secret, with no check of its strength (for providers'
    /// published test vectors; the config goes through [`Profile::key_from_secret`]).
    pub fn key_bytes(&self, secret: &str) -> Result<Vec<u8>, &'static str> {
        match self {
            Profile::StandardWebhooks => B64
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .map_err(|_| "a Standard Webhooks secret: whsec_ followed by base64"),
            _ => Ok(secret.as_bytes().to_vec()),
        }
    }

    /// Verify `n` against any of `keys` at time `now` (Unix seconds).
    pub fn verify(
        &self,
        keys: &[Vec<u8>],
        n: &Notification<'_>,
        now: i64,
        tolerance: i64,
    ) -> Result<Verified, WebhookError> {
        use WebhookError::*;
        let hex_sig = |v: &str| hex::decode(v.trim()).map_err(|_| MalformedSignature);
        let body_id = || body_field(n.body, "id");
        match self {
            Profile::PagoEfectivo | Profile::Checkout => {
                let name = if *self == Profile::Checkout {
                    "cko-signature"
                } else {
                    "pe-signature"
                };
                let sig = hex_sig(n.header(name).ok_or(MissingSignature)?)?;
                mac_matches(Algorithm::Sha256, keys, &[n.body], &[sig])?;
                let event_id = (*self == Profile::Checkout).then(body_id).flatten();
                Ok(Verified {
                    event_id,
                    timestamp: None,
                })
            }
            Profile::Stripe => {
                let header = n.header("stripe-signature").ok_or(MissingSignature)?;
                let (mut t, mut sigs) = (None, Vec::new());
                for part in header.split(',') {
                    match part.trim().split_once('=') {
                        Some(("t", v)) => t = Some(v),
                        Some(("v1", v)) => sigs.push(hex_sig(v)?),
                        _ => {}
                    }
                }
                let t_text = t.ok_or(MissingTimestamp)?;
                let ts: i64 = t_text.parse().map_err(|_| MalformedSignature)?;
                if sigs.is_empty() {
                    return Err(MissingSignature);
                }
                let parts: [&[u8]; 3] = [t_text.as_bytes(), b".", n.body];
                mac_matches(Algorithm::Sha256, keys, &parts, &sigs)?;
                check_window(ts, now, tolerance)?;
                Ok(Verified {
                    event_id: body_id(),
                    timestamp: Some(ts),
                })
            }
            Profile::StandardWebhooks => {
                let id = n.header("webhook-id").ok_or(MissingSignature)?;
                let ts_text = n.header("webhook-timestamp").ok_or(MissingTimestamp)?;
                let ts: i64 = ts_text.parse().map_err(|_| MalformedSignature)?;
                let header = n.header("webhook-signature").ok_or(MissingSignature)?;
                let sigs: Vec<Vec<u8>> = header
                    .split(' ')
                    .filter_map(|s| s.strip_prefix("v1,"))
                    .filter_map(|s| B64.decode(s).ok())
                    .collect();
                if sigs.is_empty() {
                    return Err(MalformedSignature);
                }
                let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.as_bytes(), b".", n.body];
                mac_matches(Algorithm::Sha256, keys, &parts, &sigs)?;
                check_window(ts, now, tolerance)?;
                Ok(Verified {
                    event_id: Some(id.to_string()),
                    timestamp: Some(ts),
                })
            }
            Profile::Dlocal => {
                let auth = n.header("authorization").ok_or(MissingSignature)?;
                let sig_text = auth
                    .strip_prefix("V2-HMAC-SHA256")
                    .and_then(|rest| rest.split("Signature:").nth(1))
                    .ok_or(MalformedSignature)?;
                let sig = hex_sig(sig_text)?;
                let login = n.header("x-login").unwrap_or("");
                let date = n.header("x-date").unwrap_or("");
                let parts: [&[u8]; 3] = [login.as_bytes(), date.as_bytes(), n.body];
                mac_matches(Algorithm::Sha256, keys, &parts, &[sig])?;
                let ts = date
                    .parse::<jiff::Timestamp>()
                    .map_err(|_| MissingTimestamp)?
                    .as_second();
                check_window(ts, now, tolerance)?;
                Ok(Verified {
                    event_id: body_id(),
                    timestamp: Some(ts),
                })
            }
            Profile::MercadoPago => {
                let header = n.header("x-signature").ok_or(MissingSignature)?;
                let (mut ts, mut v1) = (None, None);
                for part in header.split(',') {
                    match part.trim().split_once('=') {
                        Some(("ts", v)) => ts = Some(v.trim()),
                        Some(("v1", v)) => v1 = Some(hex_sig(v)?),
                        _ => {}
                    }
                }
                let ts_text = ts.ok_or(MissingTimestamp)?;
                let sig = v1.ok_or(MissingSignature)?;
                // The id is signed as Mercado Pago sent it (its SDKs dropped their
                // lower-casing in 2026-06); the lower-cased form, which older integrations
                // signed, is accepted too: both need the secret.
                let exact = mercadopago_manifest(n, ts_text, false);
                let sigs = [sig];
                mac_matches(Algorithm::Sha256, keys, &[exact.as_bytes()], &sigs).or_else(|e| {
                    let lowered = mercadopago_manifest(n, ts_text, true);
                    if lowered == exact {
                        return Err(e);
                    }
                    mac_matches(Algorithm::Sha256, keys, &[lowered.as_bytes()], &sigs)
                })?;
                let raw: i64 = ts_text.parse().map_err(|_| MalformedSignature)?;
                // Mercado Pago has sent both seconds and milliseconds.
                let ts = if raw > 100_000_000_000 {
                    raw / 1000
                } else {
                    raw
                };
                check_window(ts, now, tolerance)?;
                let event_id = n.header("x-request-id").map(str::to_string);
                Ok(Verified {
                    event_id,
                    timestamp: Some(ts),
                })
            }
            Profile::Hmac(g) => {
                let value = n.header(g.header.as_str()).ok_or(MissingSignature)?;
                let value = value
                    .strip_prefix(g.prefix.as_str())
                    .ok_or(MalformedSignature)?;
                let sig = match g.encoding {
                    Encoding::Hex => hex::decode(value).map_err(|_| MalformedSignature)?,
                    Encoding::Base64 => B64.decode(value).map_err(|_| MalformedSignature)?,
                };
                let ts_text = match &g.timestamp_header {
                    Some(h) => Some(n.header(h.as_str()).ok_or(MissingTimestamp)?),
                    None => None,
                };
                let (before, after) = g.template.split_once("{body}").unwrap_or((&g.template, ""));
                let fill = |s: &str| s.replace("{timestamp}", ts_text.unwrap_or(""));
                let (before, after) = (fill(before), fill(after));
                let parts: [&[u8]; 3] = [before.as_bytes(), n.body, after.as_bytes()];
                mac_matches(g.algorithm, keys, &parts, &[sig])?;
                let timestamp = match ts_text {
                    Some(t) => {
                        let ts: i64 = t.parse().map_err(|_| MalformedSignature)?;
                        check_window(ts, now, tolerance)?;
                        Some(ts)
                    }
                    None => None,
                };
                Ok(Verified {
                    event_id: None,
                    timestamp,
                })
            }
        }
    }
}

/// `id:{data.id};request-id:{x-request-id};ts:{ts};`, absent parts left out; the id as
/// received, or lower-cased.
fn mercadopago_manifest(n: &Notification<'_>, ts: &str, lower: bool) -> String {
    let mut manifest = String::new();
    if let Some(id) = n.query_param("data.id").filter(|id| !id.trim().is_empty()) {
        let id = if lower {
            id.to_lowercase()
        } else {
            id.to_string()
        };
        manifest.push_str(&format!("id:{id};"));
    }
    if let Some(request_id) = n.header("x-request-id") {
        manifest.push_str(&format!("request-id:{request_id};"));
    }
    manifest.push_str(&format!("ts:{ts};"));
    manifest
}

/// A top-level string (or number) field of a JSON body, if there is one.
fn body_field(body: &[u8], name: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The headers a provider would send with `body`, signed with `key` at `timestamp`;
/// `id` is the event id where the scheme has one (dLocal: the X-Login; Mercado Pago: the
/// `data.id`, also used as request id).
pub fn sign(
    profile: &Profile,
    key: &[u8],
    body: &[u8],
    timestamp: i64,
    id: &str,
) -> Vec<(String, String)> {
    let sha = |parts: &[&[u8]]| mac(Algorithm::Sha256, key, parts);
    let ts = timestamp.to_string();
    let h = |name: &str, value: String| (name.to_string(), value);
    match profile {
        Profile::PagoEfectivo => vec![h("PE-Signature", hex::encode(sha(&[body])))],
        Profile::Checkout => vec![h("Cko-Signature", hex::encode(sha(&[body])))],
        Profile::Stripe => vec![h(
            "Stripe-Signature",
            format!(
                "t={ts},v1={}",
                hex::encode(sha(&[ts.as_bytes(), b".", body]))
            ),
        )],
        Profile::StandardWebhooks => vec![
            h("webhook-id", id.to_string()),
            h("webhook-timestamp", ts.clone()),
            h(
                "webhook-signature",
                format!(
                    "v1,{}",
                    B64.encode(sha(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]))
                ),
            ),
        ],
        Profile::Dlocal => {
            let date = jiff::Timestamp::from_second(timestamp)
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string())
                .unwrap_or_default();
            let sig = hex::encode(sha(&[id.as_bytes(), date.as_bytes(), body]));
            vec![
                h("X-Login", id.to_string()),
                h("X-Date", date),
                h("Authorization", format!("V2-HMAC-SHA256, Signature: {sig}")),
            ]
        }
        Profile::MercadoPago => {
            let manifest = format!("id:{id};request-id:{id};ts:{ts};");
            vec![
                h("x-request-id", id.to_string()),
                h(
                    "x-signature",
                    format!("ts={ts},v1={}", hex::encode(sha(&[manifest.as_bytes()]))),
                ),
            ]
        }
        Profile::Hmac(g) => {
            let (before, after) = g.template.split_once("{body}").unwrap_or((&g.template, ""));
            let (before, after) = (
                before.replace("{timestamp}", &ts),
                after.replace("{timestamp}", &ts),
            );
            let raw = mac(
                g.algorithm,
                key,
                &[before.as_bytes(), body, after.as_bytes()],
            );
            let encoded = match g.encoding {
                Encoding::Hex => hex::encode(raw),
                Encoding::Base64 => B64.encode(raw),
            };
            let mut headers = vec![h(g.header.as_str(), format!("{}{encoded}", g.prefix))];
            if let Some(th) = &g.timestamp_header {
                headers.push(h(th.as_str(), ts));
            }
            headers
        }
    }
}
