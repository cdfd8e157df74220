//! The runtime: the live state a config is served with, built from the config and kept
//! across a config swap.
//!
//! A [`Config`] is plain data; [`Runtime::build`] turns it into rate limiters, the identity
//! store, the GeoIP reader and the clock. Given the runtime serving the previous config,
//! it keeps every part whose settings did not change: a policy's per-address limiter with
//! the same spec keeps what it counted (so a reload does not hand every client a fresh
//! burst), the store keeps its counters, bindings and replay records, and the GeoIP reader
//! stays open when it is the same file. A part whose settings changed starts afresh.

use crate::config::{Config, StoreBackend};
use crate::core::identity::key_list::KeyHasher;
use crate::core::net::geo::CountryCode;
use crate::core::policy::PolicyId;
use crate::core::request::facts::KeyKind;
use crate::core::rules::connection::Limiters;
use crate::core::rules::rate::{BurstLimiter, RateScope, RateSpec};
use crate::state::clock::{Clock, FileClock, SystemClock};
use crate::state::file_stamp::FileStamp;
use crate::state::geoip::CountryDb;
use crate::state::rate_limit::Limiter;
use crate::state::store::{EmbeddedStore, MemoryStore, RedisStore, Store, StoreError};
use jiff::Timestamp;
use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Set only by end-to-end tests that must cross midnight: the clock is read from this file.
pub const TEST_CLOCK_ENV: &str = "GARITA_TEST_CLOCK_FILE";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot open the GeoIP database {}: {why}", path.display())]
    GeoIp { path: PathBuf, why: String },
    #[error("cannot open the state store: {0}")]
    Store(#[from] StoreError),
}

/// Which limiter of a policy: its per-address one, or the rate of its n-th identity limit
/// (on a fact kind).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot {
    Ip,
    Network,
    Identity(usize, KeyKind),
}

/// The limiters of one policy, by slot.
#[derive(Default)]
struct PolicyLimiters {
    ip: Option<Arc<Limiter>>,
    network: Option<Arc<Limiter>>,
    /// One per identity limit, in the policy's order; `None` for limits without a rate.
    identity: Vec<Option<Arc<Limiter>>>,
}

pub struct Runtime {
    pub store: Arc<dyn Store>,
    /// The settings the store was opened with, to tell whether a new config can keep it.
    store_settings: StoreBackend,
    /// The keyed hash that stands in for identifiers in store keys and the log.
    pub hasher: KeyHasher,
    /// The database, the file it was opened from and that file's stamp then: a file
    /// replaced on disk is opened again by the next build.
    geo: Option<(PathBuf, FileStamp, Arc<CountryDb>)>,
    clock: Arc<dyn Clock>,
    /// By policy id.
    limiters: Vec<PolicyLimiters>,
    /// (policy name, slot) for every limiter, to find it again on the next build.
    named: HashMap<(Arc<str>, Slot), Arc<Limiter>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limiters", &self.named.len())
            .field("geo", &self.geo.as_ref().map(|(p, _, _)| p))
            .finish()
    }
}

impl Runtime {
    /// Build the runtime for `config`, keeping what `previous` has that still fits.
    pub fn build(config: &Config, previous: Option<&Runtime>) -> Result<Runtime, RuntimeError> {
        Self::build_at(config, previous, None)
    }

    /// [`Runtime::build`], on `clock` when given (the demo's, which it moves through days);
    /// a runtime built from a previous one keeps the previous one's clock.
    pub fn build_at(
        config: &Config,
        previous: Option<&Runtime>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Runtime, RuntimeError> {
        let mut named = HashMap::new();
        let mut limiters = Vec::with_capacity(config.policies.len());
        let mut limiter = |policy: &Arc<str>, slot: Slot, spec: &RateSpec| {
            let key = (policy.clone(), slot);
            let kept = previous
                .and_then(|p| p.named.get(&key))
                .filter(|l| l.spec() == spec)
                .cloned();
            // Specs are validated when the config is compiled.
            let made = kept.or_else(|| Limiter::new(*spec).map(Arc::new))?;
            named.insert(key, made.clone());
            Some(made)
        };
        for (_, policy) in config.policies.iter() {
            let mut slots = PolicyLimiters {
                ip: policy
                    .rate_limit
                    .as_ref()
                    .filter(|spec| spec.scope == RateScope::Local)
                    .and_then(|spec| limiter(&policy.name, Slot::Ip, spec)),
                network: policy
                    .network_rate_limit
                    .as_ref()
                    .and_then(|spec| limiter(&policy.name, Slot::Network, spec)),
                identity: Vec::new(),
            };
            if let Some(rules) = &policy.identity {
                for (i, limit) in rules.limits.iter().enumerate() {
                    let made = limit
                        .burst
                        .as_ref()
                        .filter(|spec| spec.scope == RateScope::Local)
                        .and_then(|spec| {
                            limiter(&policy.name, Slot::Identity(i, limit.kind), spec)
                        });
                    slots.identity.push(made);
                }
            }
            limiters.push(slots);
        }

        let geo = match &config.geoip {
            None => None,
            Some(settings) => {
                let stamp = FileStamp::of(&settings.path);
                let kept = previous
                    .and_then(|p| p.geo.as_ref())
                    .filter(|(path, opened, _)| *path == settings.path && *opened == stamp)
                    .map(|(_, _, db)| db.clone());
                let db = match kept {
                    Some(db) => db,
                    None => Arc::new(CountryDb::open(&settings.path).map_err(|why| {
                        RuntimeError::GeoIp {
                            path: settings.path.clone(),
                            why,
                        }
                    })?),
                };
                Some((settings.path.clone(), stamp, db))
            }
        };

        let clock = match (previous, clock) {
            (Some(p), _) => p.clock.clone(),
            (None, Some(clock)) => clock,
            (None, None) => clock_from_env(),
        };
        let kept = previous.filter(|p| p.store_settings == config.state.backend);
        let (store, stored_key): (Arc<dyn Store>, Option<Vec<u8>>) = match kept {
            Some(p) => (p.store.clone(), None),
            None => match &config.state.backend {
                StoreBackend::Memory => (Arc::new(MemoryStore::new()), None),
                StoreBackend::Embedded { path } => {
                    let store = EmbeddedStore::open(
                        path,
                        clock.now().as_second(),
                        config.state.flush_interval,
                    )?;
                    let key = store.hash_key().to_vec();
                    (Arc::new(store), Some(key))
                }
                StoreBackend::Redis {
                    url,
                    prefix,
                    tls_ca,
                    ..
                } => (
                    Arc::new(RedisStore::new(
                        url,
                        prefix,
                        tls_ca.as_ref().map(|ca| ca.pem.as_slice()),
                        config.state.timeout,
                    )?),
                    None,
                ),
            },
        };
        // The config's secret, or the one kept with the state, or (memory only) a random
        // one; a kept store keeps the hasher it was used with.
        let hasher = match (&config.identity.hash_key, kept, stored_key) {
            (Some(secret), _, _) => KeyHasher::new(secret),
            (None, Some(p), _) => p.hasher.clone(),
            (None, None, Some(stored)) => KeyHasher::new(&stored),
            (None, None, None) => KeyHasher::random(),
        };
        Ok(Runtime {
            store,
            store_settings: config.state.backend.clone(),
            hasher,
            geo,
            clock,
            limiters,
            named,
        })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The clock itself, which every runtime built from this one keeps.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The client's country, if there is a GeoIP database and it knows one.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        self.geo.as_ref().and_then(|(_, _, db)| db.country(ip))
    }

    /// A policy's per-address limiter.
    pub fn ip_limiter(&self, policy: PolicyId) -> Option<&dyn BurstLimiter> {
        let limiter = self.limiters.get(policy.index())?.ip.as_deref()?;
        Some(limiter)
    }

    /// A policy's local limiters for the connection rules: per address, per network.
    pub fn connection_limiters(&self, policy: PolicyId) -> Limiters<'_> {
        let Some(slots) = self.limiters.get(policy.index()) else {
            return Limiters::default();
        };
        Limiters {
            address: slots.ip.as_deref().map(|l| l as &dyn BurstLimiter),
            network: slots.network.as_deref().map(|l| l as &dyn BurstLimiter),
        }
    }

    /// The limiter of a policy's identity limit number `index`, if it has a rate.
    pub fn identity_limiter(&self, policy: PolicyId, index: usize) -> Option<&dyn BurstLimiter> {
        let slots = self.limiters.get(policy.index())?;
        let limiter = slots.identity.get(index)?.as_deref()?;
        Some(limiter)
    }

    /// Every per-address limiter, with its policy's name, and every per-network one, with
    /// its policy's name and `/network` (for housekeeping and metrics).
    pub fn ip_limiters(&self) -> impl Iterator<Item = (Cow<'_, str>, &Limiter)> {
        self.named
            .iter()
            .filter_map(|((policy, slot), limiter)| match slot {
                Slot::Ip => Some((Cow::Borrowed(&**policy), &**limiter)),
                Slot::Network => Some((Cow::Owned(format!("{policy}/network")), &**limiter)),
                Slot::Identity(..) => None,
            })
    }

    /// Every limiter (for housekeeping).
    pub fn all_limiters(&self) -> impl Iterator<Item = &Limiter> {
        self.named.values().map(|l| &**l)
    }
}

fn clock_from_env() -> Arc<dyn Clock> {
    match std::env::var_os(TEST_CLOCK_ENV) {
        Some(path) => {
            log::warn!(
                "{TEST_CLOCK_ENV} is set: quotas read the time from {path:?}; never do this in production"
            );
            Arc::new(FileClock::new(PathBuf::from(path)))
        }
        None => Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rules::rate::{LimiterKey, RateOutcome};
    use std::path::Path;

    fn config(text: &str) -> Config {
        let raw = crate::config::parse_file_config(text, Path::new("test.toml")).unwrap();
        Config::compile(raw, Path::new("test.toml")).unwrap()
    }

    fn with_limit(rate: &str) -> Config {
        config(&format!(
            "[server]\nlisten = [\"127.0.0.1:8080\"]\ndefault_policy = \"site\"\n\
             [state]\nbackend = \"memory\"\n\
             [upstream]\naddresses = [\"127.0.0.1:3000\"]\n\
             [policies.site]\nrate_limit = {rate}\n[policies.other]\n"
        ))
    }

    fn exhaust(runtime: &Runtime, policy: PolicyId) -> RateOutcome {
        let limiter = runtime.ip_limiter(policy).expect("a limiter");
        let key = LimiterKey::V4(0xc000_0201);
        let mut last = RateOutcome::Allowed;
        for _ in 0..3 {
            last = limiter.check_key(key);
        }
        last
    }

    #[test]
    fn a_config_swap_keeps_a_limiters_state_when_its_spec_is_unchanged() {
        let first = with_limit("{ requests = 1, per = \"1h\", burst = 2 }");
        let site = first.policies.find("site").unwrap();
        let runtime = Runtime::build(&first, None).unwrap();
        assert!(matches!(
            exhaust(&runtime, site),
            RateOutcome::Limited { .. }
        ));

        // The same spec in a new config: the client is still limited.
        let same = with_limit("{ requests = 1, per = \"1h\", burst = 2 }");
        let kept = Runtime::build(&same, Some(&runtime)).unwrap();
        let key = LimiterKey::V4(0xc000_0201);
        assert!(matches!(
            kept.ip_limiter(site).unwrap().check_key(key),
            RateOutcome::Limited { .. }
        ));

        // A changed spec starts afresh.
        let changed = with_limit("{ requests = 1, per = \"1h\", burst = 3 }");
        let fresh = Runtime::build(&changed, Some(&kept)).unwrap();
        assert_eq!(
            fresh.ip_limiter(site).unwrap().check_key(key),
            RateOutcome::Allowed
        );
        // And the store is the same store throughout.
        assert!(Arc::ptr_eq(&runtime.store, &fresh.store));
    }

    #[test]
    fn policies_without_a_rate_have_no_limiter() {
        let c = with_limit("{ requests = 1, per = \"1h\" }");
        let runtime = Runtime::build(&c, None).unwrap();
        assert!(runtime
            .ip_limiter(c.policies.find("other").unwrap())
            .is_none());
        assert_eq!(runtime.ip_limiters().count(), 1);
    }
}
