//! Rate limiters: how many requests one client address (or one identity) may make, and how
//! fast, kept in this process.
//!
//! Each policy with a `rate_limit` (and each identity limit with a `rate`) gets its own
//! keyed GCRA limiter (governor): `burst` requests may arrive at once, after which one more
//! is let through every `per / requests`. Limiters are runtime state: a config swap that
//! leaves a limit's spec unchanged keeps its limiter and what it has counted. Several
//! instances behind a load balancer each allow the full rate (shared, exact counting is
//! the store's job).
//!
//! What it approximates: memory is bounded. Idle keys are dropped by [`Limiter::housekeeping`], which the
//!   gateway runs periodically; and once `max_keys` addresses are tracked, any further new
//!   address shares one overflow bucket with the same quota. Under an address-spraying
//!   flood the newcomers are thus limited together instead of growing the table without end.

use crate::core::rules::rate::{BurstLimiter, LimiterKey, RateOutcome, RateSpec};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// governor's dashmap store with a cap on the number of keys. The keys are counted as they
/// are added (and recounted at housekeeping), because `DashMap::len` locks every shard.
#[derive(Debug)]
pub struct BoundedStore {
    map: DashMap<LimiterKey, InMemoryState>,
    keys: AtomicUsize,
    max_keys: usize,
    overflowed: Arc<AtomicU64>,
}

impl StateStore for BoundedStore {
    type Key = LimiterKey;

    fn measure_and_replace<T, F, E>(&self, key: &Self::Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if let Some(state) = self.map.get(key) {
            return state.measure_and_replace(&NotKeyed::NonKey, f);
        }
        let key = if self.keys.load(Ordering::Relaxed) >= self.max_keys {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            &LimiterKey::Overflow
        } else {
            key
        };
        let state = self.map.entry(*key).or_insert_with(|| {
            self.keys.fetch_add(1, Ordering::Relaxed);
            InMemoryState::default()
        });
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

impl ShrinkableKeyedStateStore<LimiterKey> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&self.map, drop_below);
        self.keys.store(self.map.len(), Ordering::Relaxed);
    }

    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

pub struct Limiter {
    spec: RateSpec,
    limiter: RateLimiter<LimiterKey, BoundedStore, DefaultClock>,
    /// Shared with the store, which governor does not hand back out.
    overflowed: Arc<AtomicU64>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("spec", &self.spec)
            .field("keys", &self.key_count())
            .finish()
    }
}

impl BurstLimiter for Limiter {
    fn spec(&self) -> &RateSpec {
        &self.spec
    }

    fn check_key(&self, key: LimiterKey) -> RateOutcome {
        match self.limiter.check_key(&key) {
            Ok(_) => RateOutcome::Allowed,
            Err(not_until) => RateOutcome::Limited {
                retry_after: not_until.wait_time_from(self.limiter.clock().now()),
            },
        }
    }
}

impl Limiter {
    /// Fails only if the spec's interval rounds down to zero.
    pub fn new(spec: RateSpec) -> Option<Self> {
        let quota = Quota::with_period(spec.replenish_interval()?)?.allow_burst(spec.burst);
        let overflowed = Arc::new(AtomicU64::new(0));
        let store = BoundedStore {
            map: DashMap::new(),
            keys: AtomicUsize::new(0),
            max_keys: spec.max_keys.max(1),
            overflowed: overflowed.clone(),
        };
        Some(Self {
            spec,
            limiter: RateLimiter::new(quota, store, DefaultClock::default()),
            overflowed,
        })
    }

    pub fn check(&self, ip: IpAddr) -> RateOutcome {
        self.check_key(LimiterKey::for_ip(ip, self.spec.ipv6_prefix))
    }

    /// Drop keys that are back to a full bucket and give the memory back.
    pub fn housekeeping(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn key_count(&self) -> usize {
        self.limiter.len()
    }

    /// Requests from new addresses that went to the overflow bucket, since start.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Duration;

    fn spec(requests: u32, per_secs: u64, burst: u32, max_keys: usize) -> RateSpec {
        RateSpec {
            requests: NonZeroU32::new(requests).unwrap(),
            per: Duration::from_secs(per_secs),
            burst: NonZeroU32::new(burst).unwrap(),
            ipv6_prefix: 64,
            max_keys,
            scope: crate::core::rules::rate::RateScope::Local,
        }
    }

    #[test]
    fn exactly_the_burst_passes_then_a_retry_time_is_given() {
        let limiter = Limiter::new(spec(1, 3600, 3, 100)).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(ip), RateOutcome::Allowed);
        }
        match limiter.check(ip) {
            RateOutcome::Limited { retry_after } => {
                assert!(retry_after > Duration::from_secs(3500), "{retry_after:?}")
            }
            other => panic!("expected a limit, got {other:?}"),
        }
        assert_eq!(
            limiter.check("192.0.2.2".parse().unwrap()),
            RateOutcome::Allowed
        );
    }

    #[test]
    fn ipv6_addresses_in_one_prefix_share_a_bucket() {
        let limiter = Limiter::new(spec(1, 3600, 1, 100)).unwrap();
        assert_eq!(
            limiter.check("2001:db8:1:2::1".parse().unwrap()),
            RateOutcome::Allowed
        );
        assert!(matches!(
            limiter.check("2001:db8:1:2:ffff::9".parse().unwrap()),
            RateOutcome::Limited { .. }
        ));
        assert_eq!(
            limiter.check("2001:db8:1:3::1".parse().unwrap()),
            RateOutcome::Allowed
        );
    }

    #[test]
    fn new_addresses_beyond_the_cap_share_the_overflow_bucket() {
        let limiter = Limiter::new(spec(1, 3600, 2, 10)).unwrap();
        for i in 0..10u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(limiter.check(ip), RateOutcome::Allowed);
        }
        assert_eq!(limiter.key_count(), 10);
        let newcomers: Vec<RateOutcome> = (100..110u32)
            .map(|i| limiter.check(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i))))
            .collect();
        assert_eq!(
            newcomers
                .iter()
                .filter(|o| **o == RateOutcome::Allowed)
                .count(),
            2
        );
        assert!(limiter.key_count() <= 11);
        assert_eq!(limiter.overflowed(), 10);
    }
}
