//! A policy as written in the file: its lists, geofence, rates, facts, limits, bindings,
//! score and risk rules, webhook, and what a review keeps (`fraud_blocks`,
//! `review_hints`, `order_history`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRulesSection {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub allow_files: Vec<PathBuf>,
    #[serde(default)]
    pub block: Vec<String>,
    #[serde(default)]
    pub block_files: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    #[serde(default)]
    pub ip_rules: IpRulesSection,
    pub geofence: Option<GeofenceSection>,
    pub rate_limit: Option<RateLimitSection>,
    /// A rate for each client network as a whole: IPv4 /24 and IPv6 /48 unless
    /// `ipv4_prefix` / `ipv6_prefix` say otherwise. Local to each instance.
    pub network_rate_limit: Option<RateLimitSection>,
    /// "enforce" (default) or "shadow".
    pub mode: Option<String>,
    /// When the store does not answer: "closed" (default: 503, nothing forwarded) or
    /// "open" (allowed without the store's rules, counted and logged).
    pub on_store_error: Option<String>,
    pub facts: Option<FactsSection>,
    #[serde(default)]
    pub block: KeyBlockSection,
    #[serde(default)]
    pub limits: Vec<KeyLimitSection>,
    #[serde(default)]
    pub bindings: Vec<BindingSection>,
    /// Makes the policy a webhook route: notifications are verified before anything else.
    pub webhook: Option<WebhookSection>,
    /// The facts a review resolved as fraud blocks: any of dni, email, phone, account,
    /// device (default all but phone: families share phones).
    pub fraud_blocks: Option<Vec<String>>,
    /// The facts whose masked hint (`•••••912`) a review record keeps for the reviewer:
    /// any of dni, email, phone, account, device (default none).
    #[serde(default)]
    pub review_hints: Vec<String>,
    /// The scores at which the risk rules send a request to review, or deny it.
    pub score: Option<ScoreSection>,
    #[serde(default)]
    pub risk: Vec<RiskSection>,
    /// Count each identity key's orders and amounts per local day, kept 30 days, for the
    /// review page (default: on when the policy has risk rules and an amount fact).
    pub order_history: Option<bool>,
    /// Keep each payment code the backend creates on this policy's routes, with the
    /// request's identity keys, for the payment-code rules and the review page.
    pub payment_codes: Option<PaymentCodesSection>,
    /// Keep each exchange on this policy's routes as encrypted evidence (`[evidence]`).
    pub evidence: Option<PolicyEvidenceSection>,
}

/// What a policy keeps of its exchanges as evidence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEvidenceSection {
    /// Keep the request (head and body; default true).
    pub request: Option<bool>,
    /// Keep the backend's answer (head and body; default true).
    pub response: Option<bool>,
    /// The most of each body kept, in bytes (default 65536, at most 1048576).
    pub max_body: Option<usize>,
    /// Headers left out besides `Authorization`, `Cookie`, `Set-Cookie`,
    /// `Proxy-Authorization` and garita's own marks.
    #[serde(default)]
    pub omit_headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentCodesSection {
    /// Where the backend's answer names the code: "response_json:/data/cip".
    pub code: String,
    /// The creation request's field saying when the code lapses: "json:/dateExpiry".
    pub expires: Option<String>,
    /// How long a code lives when the request does not say (default "7d").
    pub life: Option<String>,
    /// How long its record is kept after it lapses, for late notifications and refunds
    /// (default "30d").
    pub keep: Option<String>,
    /// The longest answer read for the code, in bytes (default 16384, at most 65536).
    pub max_response: Option<usize>,
}

/// Where a verified notification names the payment code it settles and what happened.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlesSection {
    /// The code: "json:/data/cip" (PagoEfectivo's, the default for its profile).
    pub code: Option<String>,
    /// The event's type: "json:/eventType" (the default for PagoEfectivo).
    pub event: Option<String>,
    /// Event types that mean paid, expired, refunded (PagoEfectivo's by default).
    pub paid: Option<Vec<String>>,
    pub expired: Option<Vec<String>>,
    pub refunded: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSection {
    pub review: u32,
    pub deny: Option<u32>,
}

/// An amount per currency, `{ PEN = "5000.00", USD = 1500 }`: decimal text or whole
/// numbers, never floats.
pub type AmountTable = BTreeMap<String, toml::Value>;

/// One risk rule: `rule` says which; the other keys are that rule's settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSection {
    /// large_order, amount_sum, structuring, amount_anomaly, first_order, new_device,
    /// first_large_order, hours, country_mismatch, unpaid_codes, paid_ratio, refunds.
    pub rule: String,
    /// Unique in the policy; defaults to the rule and its fact.
    pub name: Option<String>,
    /// What the rule adds to the score when it fires.
    pub weight: u32,
    /// "enforce" (default) or "shadow": logged with its weight, added to nothing.
    pub mode: Option<String>,
    pub fact: Option<String>,
    /// amount_sum: "hour", "day" or "Nd" (the last N local days).
    pub window: Option<String>,
    pub at_least: Option<AmountTable>,
    pub above: Option<AmountTable>,
    pub below: Option<AmountTable>,
    pub min_total: Option<AmountTable>,
    pub count: Option<u32>,
    pub within: Option<String>,
    pub percent: Option<u32>,
    pub days: Option<u16>,
    pub hours: Option<String>,
    pub remember: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// pagoefectivo, stripe, standard-webhooks, checkout, dlocal, mercadopago or hmac.
    pub profile: String,
    /// Every active secret; several while rotating.
    pub secrets: Vec<SecretSource>,
    /// Seconds a signed timestamp may be off, either way (default 300).
    pub tolerance_seconds: Option<u32>,
    /// How long a delivered event is remembered (default "30d").
    pub replay_window: Option<String>,
    /// Selectors that name an event when the scheme has no id of its own.
    pub replay_key: Option<Vec<String>>,
    /// "ack" (default: 200, not forwarded) or "forward" (marked X-Garita-Duplicate).
    pub on_duplicate: Option<String>,
    /// Networks the provider sends from; absent accepts any.
    pub source_ips: Option<Vec<String>>,
    #[serde(default)]
    pub source_ips_files: Vec<PathBuf>,
    /// Largest notification read, in bytes (at most and by default 65536).
    pub max_body: Option<usize>,
    /// Settle the payment codes garita saw created with these notifications.
    pub settles: Option<SettlesSection>,
    // The generic `hmac` profile:
    pub header: Option<String>,
    /// "sha256" (default) or "sha512".
    pub algorithm: Option<String>,
    /// "hex" (default) or "base64".
    pub encoding: Option<String>,
    pub prefix: Option<String>,
    /// What is signed, default "{body}"; "{timestamp}" needs timestamp_header.
    pub template: Option<String>,
    pub timestamp_header: Option<String>,
}

/// Where a secret comes from: exactly one of `env`, `file`, or (for demos only) `value`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    pub value: Option<String>,
}

/// Where a policy reads identity facts, and what malformed ones do.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsSection {
    /// Largest body read, in bytes (at most 65536, the default 16384).
    pub max_body: Option<usize>,
    /// Seconds to wait for the whole body (default 10).
    pub body_timeout_seconds: Option<u64>,
    pub dni: Option<String>,
    pub dni_type: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub account: Option<String>,
    pub device: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    /// The currency of an amount sent without one (e.g. "PEN").
    pub default_currency: Option<String>,
    /// Where the buyer says they bill from: an ISO 3166 alpha-2 code.
    pub billing_country: Option<String>,
    /// The shop's order reference, kept with a review (e.g. "json:/transactionCode").
    pub order: Option<String>,
    #[serde(default)]
    pub fold_gmail: bool,
    /// Accept a query parameter named like a body field a selector reads (refused with
    /// 400 ambiguous_parameter by default: backends that merge the two may read it).
    #[serde(default)]
    pub allow_body_fields_in_query: bool,
    /// "reject" (default), "review" or "ignore".
    pub on_missing_document: Option<String>,
    pub on_invalid_document: Option<String>,
    /// For malformed emails, phones, amounts, currencies, account and device ids.
    pub on_invalid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBlockSection {
    #[serde(default)]
    pub dni: Vec<String>,
    #[serde(default)]
    pub dni_files: Vec<PathBuf>,
    #[serde(default)]
    pub email: Vec<String>,
    #[serde(default)]
    pub email_files: Vec<PathBuf>,
    #[serde(default)]
    pub phone: Vec<String>,
    #[serde(default)]
    pub phone_files: Vec<PathBuf>,
    #[serde(default)]
    pub account: Vec<String>,
    #[serde(default)]
    pub account_files: Vec<PathBuf>,
    #[serde(default)]
    pub device: Vec<String>,
    #[serde(default)]
    pub device_files: Vec<PathBuf>,
    /// "deny" (default) or "review".
    pub action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyLimitSection {
    /// dni, email, phone, account or device.
    pub fact: String,
    /// A burst limit per value, kept in process (`ipv6_prefix` does not apply).
    pub rate: Option<RateLimitSection>,
    pub per_hour: Option<u64>,
    pub per_day: Option<u64>,
    /// "deny" (default) or "review".
    pub action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingSection {
    pub fact: String,
    pub to: String,
    pub max: u64,
    /// A duration ("30d") or "forever".
    pub window: String,
    pub action: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeofenceSection {
    pub allow_countries: Option<Vec<String>>,
    pub block_countries: Option<Vec<String>>,
    /// "allow" or "deny": what to do with addresses the database has no country for.
    pub unknown: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Sustained rate: `requests` per `per` ("1s", "10m", "1h").
    pub requests: u32,
    pub per: String,
    /// How many may arrive at once; defaults to `requests`.
    pub burst: Option<u32>,
    /// IPv6 clients are counted per prefix of this length (default 64; 48 for a network
    /// limit).
    pub ipv6_prefix: Option<u8>,
    /// IPv4 clients are counted per prefix of this length (network limits only, default 24).
    pub ipv4_prefix: Option<u8>,
    /// Upper bound on distinct addresses tracked (default 100000).
    pub max_keys: Option<usize>,
    /// "local" (default: counted in this process) or "shared" (counted in the store, so
    /// that several instances allow the rate in total).
    pub scope: Option<String>,
}
