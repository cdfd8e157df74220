//! Deciding a decision-log line again under another config: what `garita replay` runs
//! over a range of days, and what the shadow policy runs beside the live one.
//!
//! Each decision-log line carries what the rules need and nothing in clear: the time, the
//! method and path, the client address and its country, the identity facts as keyed
//! hashes, the amount, the billing country and the facts' problems. A [`Replay`] runs
//! them, in the order given, through the same core as the gateway (route, connection
//! rules, identity and risk rules) on a memory store and burst limiters of its own, each
//! at its logged time: quotas, sums, first sightings and burst limits build up as they did
//! live, and nothing it counts touches the live store.
//!
//! What it cannot decide again, and keeps as logged: webhook notifications (their bodies
//! and signatures are not logged), requests refused before a route was known (framing,
//! unparsable heads), and requests whose body was never read into facts (refused earlier,
//! or malformed). Block-list entries given as SHA-256 digests cannot be matched against
//! keyed hashes (entries in clear can), and blocks from the store (block add, fraud
//! resolutions) are not known to it. The hash key must be the one the lines were made
//! with.

use crate::config::Config;
use crate::core::decision::{Decision, Reason};
use crate::core::identity::key_list::{KeyHasher, KeyHashes};
use crate::core::money::{Amount, Currency};
use crate::core::net::geo::CountryCode;
use crate::core::plan::{GcraOp, Rate, StoreAnswer, StoreFailure, StorePlan};
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::{ip_key, FactProblem, IdentityFacts, KeyKind};
use crate::core::request::path;
use crate::core::request::route::RouteName;
use crate::core::rules::connection::{self, ConnectionFacts, Limiters};
use crate::core::rules::identity::{self, Setting};
use crate::core::rules::rate::{BurstLimiter, LimiterKey, RateOutcome, RateSpec};
use crate::state::store::{MemoryStore, Store};
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// A burst limiter on the logged clock: the same GCRA as the store's shared rates, with
/// the time of the line being replayed.
struct LoggedClockLimiter {
    spec: RateSpec,
    now_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
    arrivals: Mutex<HashMap<LimiterKey, i64>>,
}

impl BurstLimiter for LoggedClockLimiter {
    fn spec(&self) -> &RateSpec {
        &self.spec
    }

    fn check_key(&self, key: LimiterKey) -> RateOutcome {
        let now_ms = self.now_ms.load(std::sync::atomic::Ordering::Relaxed);
        let op: GcraOp = self.spec.gcra(String::new(), now_ms, true);
        let Ok(mut arrivals) = self.arrivals.lock() else {
            return RateOutcome::Allowed;
        };
        match op.decide(arrivals.get(&key).copied()) {
            Rate::Allowed { tat_ms } => {
                arrivals.insert(key, tat_ms);
                RateOutcome::Allowed
            }
            Rate::Limited { retry_after_ms } => RateOutcome::Limited {
                retry_after: Duration::from_millis(retry_after_ms),
            },
        }
    }
}

/// A policy's limiters on the logged clock.
#[derive(Default)]
struct PolicyLimiters {
    address: Option<LoggedClockLimiter>,
    network: Option<LoggedClockLimiter>,
    identity: Vec<Option<LoggedClockLimiter>>,
}

/// What became of one logged line.
pub enum Replayed {
    /// Decided again: the route's name and the decision.
    Decided(String, Decision),
    /// Kept as logged, and why.
    Kept(&'static str),
    /// An admin event or a line that is not a decision.
    Skipped,
}

/// Why a line is kept: its hashes were made with another key than the config's.
pub const ANOTHER_KEY: &str = "hashed with another key";
/// Why a line is kept: refused by a runtime block, which the replay does not have.
pub const RUNTIME_BLOCK: &str = "refused by a runtime block (block add or fraud resolution)";

/// Why a line is kept: its request head could not be parsed.
const UNPARSED_HEAD: &str = "unparsed request head";
/// Why a line is kept: refused before a route's policy was asked.
pub const BEFORE_ROUTING: &str = "refused before routing";

/// The key facts a decision-log line keeps as hashes (the address's is made again).
pub const LOGGED_KEYS: [KeyKind; 5] = [
    KeyKind::Dni,
    KeyKind::Email,
    KeyKind::Phone,
    KeyKind::Account,
    KeyKind::Device,
];

/// One request as a replay decides it: what its decision-log line keeps, typed. Read
/// from a logged line by [`Replay::line`], or made by the shadow from the live request,
/// so that the shadow decides what a replay would without a line to parse.
pub struct Case {
    pub at: jiff::Timestamp,
    pub method: http::Method,
    /// As logged: no query, identifiers masked.
    pub path: String,
    /// The route the live config chose (named when the path cannot be read).
    pub route: RouteName,
    pub client: ClientIp,
    pub country: Option<CountryCode>,
    /// The identity facts, when the request's body was read into them.
    pub identity: Option<LoggedIdentity>,
}

/// Identity facts as a decision log keeps them: nothing in clear.
pub struct LoggedIdentity {
    pub amount: Option<Amount>,
    pub billing_country: Option<CountryCode>,
    pub problems: Vec<FactProblem>,
    /// The keyed hashes of [`LOGGED_KEYS`] and of the client address.
    pub hashes: KeyHashes,
}

/// Whether a request whose first reason is `code` was refused before routing, on what
/// a log does not keep.
pub fn refused_before_routing(code: &str) -> bool {
    REFUSED_BEFORE_ROUTING.contains(&code)
}

/// Reasons that refuse a request before any route's policy is asked (an upgrade refusal
/// after routing, but on headers the log does not keep).
const REFUSED_BEFORE_ROUTING: [&str; 7] = [
    "upgrade_refused",
    "malformed_request",
    "conflicting_framing",
    "unsupported_transfer_coding",
    "headers_too_large",
    "malformed_forwarded_for",
    "malformed_path",
];

pub struct Replay {
    config: Config,
    hasher: KeyHasher,
    store: MemoryStore,
    rt: tokio::runtime::Runtime,
    now_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
    limiters: Vec<PolicyLimiters>,
    /// Block-list entries given as digests, which keyed hashes cannot match.
    pub unmatchable_entries: usize,
    last_purge: Cell<i64>,
}

impl Replay {
    /// The id of the key this replay hashes with (see `KeyHasher::key_id`).
    pub fn key_id(&self) -> &str {
        self.hasher.key_id()
    }

    /// Prepare to replay under `config`, whose hash key must be the log's.
    pub fn new(config: Config) -> Result<Self, String> {
        let key = config.identity.hash_key.clone().ok_or_else(|| {
            "replay needs identity.hash_key_env: the key the log's hashes were made with"
                .to_string()
        })?;
        Self::with_hasher(config, KeyHasher::new(&key))
    }

    /// Prepare to decide under `config` with `hasher` (the live runtime's, for the shadow
    /// policy: its lines were hashed with it, whatever the shadow's file says).
    pub fn with_hasher(mut config: Config, hasher: KeyHasher) -> Result<Self, String> {
        let mut unmatchable_entries = 0;
        for policy in config.policies.iter_mut() {
            if let Some(rules) = policy.identity.as_mut() {
                for block in &mut rules.blocks {
                    unmatchable_entries += block.list.index_keyed(block.kind, &hasher);
                }
            }
        }
        let now_ms = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let limiter = |spec: Option<RateSpec>| {
            spec.map(|spec| LoggedClockLimiter {
                spec,
                now_ms: now_ms.clone(),
                arrivals: Mutex::new(HashMap::new()),
            })
        };
        let limiters = config
            .policies
            .iter()
            .map(|(_, p)| PolicyLimiters {
                address: limiter(p.rate_limit),
                network: limiter(p.network_rate_limit),
                identity: p.identity.as_ref().map_or_else(Vec::new, |rules| {
                    rules.limits.iter().map(|l| limiter(l.burst)).collect()
                }),
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        Ok(Self {
            config,
            hasher,
            store: MemoryStore::new(),
            rt,
            now_ms,
            limiters,
            unmatchable_entries,
            last_purge: Cell::new(i64::MIN),
        })
    }

    /// Decide one logged line again.
    pub fn line(&self, line: &Value) -> Replayed {
        match self.case(line) {
            Ok(case) => self.decide(&case),
            Err(kept) => kept,
        }
    }

    /// What a logged line says of its request, or why it cannot be decided again.
    fn case(&self, line: &Value) -> Result<Case, Replayed> {
        if line.get("event").is_some() {
            return Err(Replayed::Skipped);
        }
        // The line's hashes were made with another key: nothing in it can match.
        if let Some(id) = line["key_id"].as_str().filter(|id| !id.is_empty()) {
            if id != self.hasher.key_id() {
                return Err(Replayed::Kept(ANOTHER_KEY));
            }
        }
        // A block from the store (block add, a fraud resolution): the replay has the
        // config's lists, not the store's.
        let runtime_block = line["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|r| r.ends_with(":runtime"));
        if runtime_block {
            return Err(Replayed::Kept(RUNTIME_BLOCK));
        }
        let Some(at) = line["ts"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            return Err(Replayed::Skipped);
        };
        let head = (line["method"].as_str(), line["path"].as_str());
        let (Some(method), Some(path)) = head else {
            return Err(Replayed::Kept(UNPARSED_HEAD));
        };
        let Ok(method) = http::Method::from_bytes(method.as_bytes()) else {
            return Err(Replayed::Kept(UNPARSED_HEAD));
        };
        if refused_before_routing(line["reasons"][0].as_str().unwrap_or("")) {
            return Err(Replayed::Kept(BEFORE_ROUTING));
        }
        let ip = |name: &str| line[name].as_str().and_then(|t| t.parse::<IpAddr>().ok());
        let (Some(addr), Some(peer)) = (ip("client_ip"), ip("peer_ip")) else {
            return Err(Replayed::Kept("no client address"));
        };
        let identity = line
            .get("facts")
            .filter(|f| f.is_object())
            .map(|logged| self.identity(logged, addr));
        Ok(Case {
            at,
            method,
            path: path.to_string(),
            route: RouteName::new(line["route"].as_str().unwrap_or("default")),
            client: ClientIp { addr, peer },
            country: line["country"].as_str().and_then(CountryCode::from_record),
            identity,
        })
    }

    /// Decide one request again, at its own time.
    pub fn decide(&self, case: &Case) -> Replayed {
        let now_ms = case.at.as_millisecond();
        self.now_ms
            .store(now_ms, std::sync::atomic::Ordering::Relaxed);
        self.purge(case.at.as_second());

        let Ok(normalized) = path::normalize(&case.path) else {
            return Replayed::Decided(
                case.route.to_string(),
                Decision::deny(Reason::MalformedPath),
            );
        };
        let route = match self.config.routes.select(case.method.as_str(), &normalized) {
            Ok(route) => route,
            Err(refused) => {
                return Replayed::Decided(
                    refused.route.to_string(),
                    Decision::deny(Reason::MethodNotAllowed),
                )
            }
        };
        let policy = &self.config.policies[route.policy];
        let facts = ConnectionFacts {
            client: case.client,
            country: case.country,
        };
        let limits = &self.limiters[route.policy.index()];
        let limiters = Limiters {
            address: limits.address.as_ref().map(|l| l as &dyn BurstLimiter),
            network: limits.network.as_ref().map(|l| l as &dyn BurstLimiter),
        };
        let step = connection::decide_or_plan(policy, &facts, limiters, &self.hasher, || now_ms);
        let decision = step.run_with(|plan| self.carry_out(plan));
        let decision = decision.in_mode(policy.mode);
        let name = route.name.to_string();
        if decision.is_denied() {
            return Replayed::Decided(name, decision);
        }
        if policy.webhook.is_some() {
            return Replayed::Kept("webhook notification");
        }
        let Some(rules) = &policy.identity else {
            return Replayed::Decided(name, decision);
        };
        let Some(identity) = &case.identity else {
            return Replayed::Kept("no facts logged");
        };
        let facts = IdentityFacts {
            amount: identity.amount,
            billing_country: identity.billing_country,
            problems: identity.problems.clone(),
            ..IdentityFacts::default()
        };
        let setting = Setting {
            policy: &policy.name,
            mode: policy.mode,
            on_store_error: policy.on_store_error,
            now: case.at,
            calendar: &self.config.identity.calendar,
            country: case.country,
        };
        let step = identity::plan(rules, setting, &facts, &identity.hashes, decision, |i| {
            limits
                .identity
                .get(i)
                .and_then(Option::as_ref)
                .map(|l| l as &dyn BurstLimiter)
        });
        let decision = step.run_with(|plan| self.carry_out(plan));
        Replayed::Decided(name, decision)
    }

    /// Carry out one request's plan in the replay's own store.
    fn carry_out(&self, plan: &StorePlan) -> Result<StoreAnswer, StoreFailure> {
        self.rt
            .block_on(self.store.execute(plan))
            .map_err(Into::into)
    }

    /// A logged line's identity facts: the hashes as logged, and the address's, made
    /// again from it.
    fn identity(&self, logged: &Value, addr: IpAddr) -> LoggedIdentity {
        let text = |name: &str| logged[name].as_str();
        let currency = text("currency").and_then(Currency::parse);
        let mut hashed: Vec<(KeyKind, String)> = LOGGED_KEYS
            .into_iter()
            .filter_map(|k| text(k.as_str()).map(|h| (k, h.to_string())))
            .collect();
        hashed.push((KeyKind::Ip, self.hasher.hash(KeyKind::Ip, &ip_key(addr))));
        LoggedIdentity {
            amount: currency.and_then(|c| c.amount(text("amount")?)),
            billing_country: text("billing_country").and_then(CountryCode::from_record),
            problems: logged["problems"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|c| c.as_str().and_then(FactProblem::from_code))
                        .collect()
                })
                .unwrap_or_default(),
            hashes: KeyHashes::from_logged(hashed),
        }
    }

    /// Forget what expired, once a logged minute.
    fn purge(&self, now: i64) {
        if now.saturating_sub(self.last_purge.get()) >= 60 {
            self.last_purge.set(now);
            let _ = self.rt.block_on(self.store.purge_expired(now));
        }
    }
}
