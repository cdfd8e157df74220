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
//! What it approximates: memory is bounded by `max_keys`, and a flood of new addresses must
//! not make that bound everyone's problem. A key whose bucket has filled up again is idle:
//! dropping it changes no decision, since an absent key starts with a full bucket. So idle
//! keys are dropped by [`Limiter::housekeeping`] every few seconds; as soon as the table is
//! three-quarters full, the limiter asks for an early sweep ([`Limiter::sweep_if_asked`]);
//! and a new key that finds the table full makes room there and then: every idle key goes,
//! or if too few are idle, the quarter of keys nearest to idle (those with the fullest
//! buckets; a client being limited has an empty one and stays). While one request makes
//! room, others may take up to an eighth more than `max_keys`; past that they share the
//! overflow bucket, which is counted. One IPv6 /48 holds 65,536 /64s, so such a flood needs
//! no botnet; what limits the flood itself is a limit on whole networks, not this table.

use crate::core::rules::rate::{BurstLimiter, LimiterKey, RateOutcome, RateSpec};
use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A key counts as idle once its bucket has been full for this long. It covers the few
/// microseconds between this store's start and the limiter's (see [`BoundedStore::now`]).
const IDLE_MARGIN_NS: u64 = 1_000_000;

/// governor's dashmap store with a cap on the number of keys. The keys are counted as they
/// are added (and recounted at housekeeping), because `DashMap::len` locks every shard.
pub struct BoundedStore {
    map: DashMap<LimiterKey, InMemoryState>,
    keys: AtomicUsize,
    max_keys: usize,
    /// Past this many keys an early sweep is asked for.
    high_water: usize,
    sweep_asked: Arc<AtomicBool>,
    overflowed: Arc<AtomicU64>,
    evicted: Arc<AtomicU64>,
    /// Whether a request is making room in the full table.
    sweeping: AtomicBool,
    clock: DefaultClock,
    /// Taken just before the limiter's own start, so `now` here is never behind governor's.
    start: <DefaultClock as Clock>::Instant,
}

impl std::fmt::Debug for BoundedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedStore")
            .field("keys", &self.keys)
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

impl BoundedStore {
    /// Nanoseconds since this store's start, on the limiter's clock.
    fn now(&self) -> u64 {
        self.clock.now().duration_since(self.start).as_u64()
    }

    /// A key's theoretical arrival time (GCRA's state): its bucket is full from then on.
    fn arrival(state: &InMemoryState) -> u64 {
        // Read the state without changing it: the closure refuses to replace it.
        match state.measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>) {
            Err(Some(tat)) => tat.as_u64(),
            Err(None) | Ok(_) => 0,
        }
    }

    /// Make room in a full table; whether there is room now. Every idle key goes; if that
    /// is less than a quarter of the table, the quarter of keys nearest to idle goes
    /// instead, since their buckets are the fullest (a limited client's key, whose bucket
    /// is empty, is the last to go). Freeing at least a quarter means a sweep, which visits
    /// every key, comes at most once per quarter-table of new keys.
    fn make_room(&self) -> bool {
        // One sweeper at a time; the others share the overflow bucket meanwhile.
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return false;
        }
        let now = self.now();
        let mut arrivals: Vec<(u64, LimiterKey)> = self
            .map
            .iter()
            .filter(|e| *e.key() != LimiterKey::Overflow)
            .map(|e| (Self::arrival(e.value()), *e.key()))
            .collect();
        let quarter = (self.max_keys / 4).max(1).min(arrivals.len());
        let idle = arrivals
            .iter()
            .filter(|(tat, _)| tat.saturating_add(IDLE_MARGIN_NS) <= now)
            .count();
        let victims = if idle >= quarter {
            arrivals.retain(|(tat, _)| tat.saturating_add(IDLE_MARGIN_NS) <= now);
            &arrivals[..]
        } else if quarter > 0 {
            arrivals.select_nth_unstable_by_key(quarter - 1, |(tat, _)| *tat);
            &arrivals[..quarter]
        } else {
            &arrivals[..0]
        };
        let mut dropped = 0;
        for (tat, key) in victims {
            // Unless it was counted again since it was looked at.
            if self
                .map
                .remove_if(key, |_, state| Self::arrival(state) <= *tat)
                .is_some()
            {
                dropped += 1;
            }
        }
        self.keys.fetch_sub(dropped, Ordering::Relaxed);
        self.evicted.fetch_add(dropped as u64, Ordering::Relaxed);
        self.sweeping.store(false, Ordering::Release);
        dropped > 0
    }
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
        let keys = self.keys.load(Ordering::Relaxed);
        if keys >= self.high_water {
            self.sweep_asked.store(true, Ordering::Relaxed);
        }
        // While one request makes room, the others may go up to an eighth past the cap
        // rather than share the overflow bucket: memory stays bounded, newcomers keep
        // their own buckets.
        let room = keys < self.max_keys
            || self.make_room()
            || (self.sweeping.load(Ordering::Acquire) && keys < self.max_keys + self.max_keys / 8);
        let key = if room {
            key
        } else {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            &LimiterKey::Overflow
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
    evicted: Arc<AtomicU64>,
    sweep_asked: Arc<AtomicBool>,
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
        let evicted = Arc::new(AtomicU64::new(0));
        let sweep_asked = Arc::new(AtomicBool::new(false));
        let max_keys = spec.max_keys.max(1);
        let clock = DefaultClock::default();
        let store = BoundedStore {
            map: DashMap::new(),
            keys: AtomicUsize::new(0),
            max_keys,
            high_water: (max_keys - max_keys / 4).max(1),
            sweep_asked: sweep_asked.clone(),
            overflowed: overflowed.clone(),
            evicted: evicted.clone(),
            sweeping: AtomicBool::new(false),
            start: clock.now(),
            clock: clock.clone(),
        };
        Some(Self {
            spec,
            limiter: RateLimiter::new(quota, store, clock),
            overflowed,
            evicted,
            sweep_asked,
        })
    }

    pub fn check(&self, ip: IpAddr) -> RateOutcome {
        self.check_key(LimiterKey::for_ip(
            ip,
            self.spec.ipv4_prefix,
            self.spec.ipv6_prefix,
        ))
    }

    /// Drop keys that are back to a full bucket and give the memory back.
    pub fn housekeeping(&self) {
        self.sweep_asked.store(false, Ordering::Relaxed);
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Drop idle keys now if the table has filled past three-quarters since the last
    /// sweep; whether it did. Cheap to call often: one atomic swap when not asked.
    pub fn sweep_if_asked(&self) -> bool {
        if !self.sweep_asked.swap(false, Ordering::Relaxed) {
            return false;
        }
        self.limiter.retain_recent();
        true
    }

    pub fn key_count(&self) -> usize {
        self.limiter.len()
    }

    /// Requests from new addresses that went to the overflow bucket, since start.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Idle keys dropped to make room for new ones when the table was full, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
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
            ipv4_prefix: 32,
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

    fn v4(i: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i))
    }

    #[test]
    fn a_flood_of_one_shot_addresses_leaves_newcomers_their_burst() {
        // One request back every millisecond: flood addresses soon idle, though sent
        // faster than that many are still counting when the table fills.
        let limiter = Limiter::new(spec(1000, 1, 5, 1000)).unwrap();
        let flood = 300_000u32;
        for i in 0..flood {
            limiter.check(v4(i));
        }
        assert!(limiter.key_count() <= 1000, "{}", limiter.key_count());
        assert!(limiter.evicted() > 0);
        let mut denied = 0;
        for i in 0..100 {
            let newcomer = v4(1_000_000 + i);
            for _ in 0..5 {
                if limiter.check(newcomer) != RateOutcome::Allowed {
                    denied += 1;
                }
            }
        }
        assert_eq!(denied, 0, "newcomers refused after the flood");
        assert!(
            limiter.overflowed() <= u64::from(flood) / 100,
            "{} of {flood} flood requests overflowed",
            limiter.overflowed()
        );
    }

    #[test]
    fn an_early_sweep_is_asked_for_at_three_quarters_and_drops_idle_keys() {
        let limiter = Limiter::new(spec(1000, 1, 1, 100)).unwrap();
        for i in 0..74 {
            limiter.check(v4(i));
        }
        assert!(!limiter.sweep_if_asked());
        for i in 74..80 {
            limiter.check(v4(i));
        }
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.sweep_if_asked());
        assert_eq!(limiter.key_count(), 0);
        assert!(!limiter.sweep_if_asked(), "asked once, swept once");
    }

    #[test]
    fn a_full_table_gives_up_the_keys_nearest_to_idle_and_limited_clients_stay_limited() {
        // Nothing comes back for an hour: every tracked key is still counting.
        let limiter = Limiter::new(spec(1, 3600, 2, 8)).unwrap();
        for i in 0..4 {
            assert_eq!(limiter.check(v4(i)), RateOutcome::Allowed);
            assert_eq!(limiter.check(v4(i)), RateOutcome::Allowed);
        }
        for i in 4..8 {
            assert_eq!(limiter.check(v4(i)), RateOutcome::Allowed);
        }
        for i in 100..103 {
            assert_eq!(limiter.check(v4(i)), RateOutcome::Allowed, "newcomer {i}");
        }
        assert_eq!(limiter.overflowed(), 0);
        assert_eq!(limiter.evicted(), 4, "two quarters of the table made room");
        assert!(limiter.key_count() <= 8);
        // The clients that spent their whole burst were kept, and are still refused.
        for i in 0..4 {
            assert!(matches!(limiter.check(v4(i)), RateOutcome::Limited { .. }));
        }
    }
}
