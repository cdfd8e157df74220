//! Burst limits as the rules see them: a [`RateSpec`] (plain config data), the
//! [`LimiterKey`] a request is counted under, and the [`BurstLimiter`] that answers.
//!
//! A local limit is runtime state (`state::rate_limit`, governor's GCRA in this process)
//! that outlives a config swap; the rules ask it, synchronously and without waiting,
//! whether one more request fits. A shared limit (`scope = "shared"`) is the same GCRA kept
//! in the store, so that several instances allow the rate in total: the rules plan a
//! [`GcraOp`](crate::core::plan::GcraOp) for it and conclude from the store's answer. IPv6 clients are counted per prefix (a /64 by
//! default), since one host usually owns a whole /64 and could otherwise take a fresh
//! address for every request.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Where a rate is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateScope {
    /// In this process: cheap, and each instance allows the full rate.
    Local,
    /// In the store: the instances sharing it allow the rate in total.
    Shared,
}

/// A validated rate: `requests` per `per`, with up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateSpec {
    pub requests: NonZeroU32,
    pub per: Duration,
    pub burst: NonZeroU32,
    /// Addresses are counted per prefix of these lengths: 32 and 64 for a client's own
    /// limit, 24 and 48 for its network's.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    pub max_keys: usize,
    pub scope: RateScope,
}

impl RateSpec {
    /// The store operation that counts one request under `key` against a shared rate.
    pub fn gcra(&self, key: String, now_ms: i64, enforced: bool) -> crate::core::plan::GcraOp {
        crate::core::plan::GcraOp {
            key,
            interval_ms: (self.per.as_millis() / u128::from(self.requests.get())).max(1) as u64,
            burst: self.burst.get(),
            now_ms,
            enforced,
        }
    }

    /// Time to earn back one request; `None` if it rounds down to nothing (more than one
    /// request a nanosecond), which no limiter can keep.
    pub fn replenish_interval(&self) -> Option<Duration> {
        let interval = self.per / self.requests.get();
        (!interval.is_zero()).then_some(interval)
    }

    /// Seconds for an empty bucket to fill up again (the `w` of `RateLimit-Policy`).
    pub fn window_seconds(&self) -> u64 {
        let full = (self.per / self.requests.get()) * self.burst.get();
        full.as_secs() + u64::from(full.subsec_nanos() > 0)
    }
}

/// A rate limiter key: an IPv4 address, an IPv6 prefix, an identity, or the shared
/// overflow bucket of a full limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimiterKey {
    V4(u32),
    V6(u128),
    /// 128 bits of an identity's keyed hash (per-DNI, per-email... limits).
    Identity(u128),
    Overflow,
}

impl LimiterKey {
    pub fn for_ip(ip: IpAddr, ipv4_prefix: u8, ipv6_prefix: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let mask = match ipv4_prefix {
                    0 => 0,
                    p => u32::MAX << (32 - u32::from(p.min(32))),
                };
                LimiterKey::V4(u32::from(v4) & mask)
            }
            IpAddr::V6(v6) => {
                let mask = match ipv6_prefix {
                    0 => 0,
                    p => u128::MAX << (128 - u32::from(p.min(128))),
                };
                LimiterKey::V6(u128::from(v6) & mask)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateOutcome {
    Allowed,
    Limited { retry_after: Duration },
}

/// Counts one request under a key and says whether it fits. In process, never waits.
pub trait BurstLimiter: Send + Sync {
    fn spec(&self) -> &RateSpec;
    fn check_key(&self, key: LimiterKey) -> RateOutcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(requests: u32, per_secs: u64, burst: u32) -> RateSpec {
        RateSpec {
            requests: NonZeroU32::new(requests).unwrap(),
            per: Duration::from_secs(per_secs),
            burst: NonZeroU32::new(burst).unwrap(),
            ipv4_prefix: 32,
            ipv6_prefix: 64,
            max_keys: 1,
            scope: RateScope::Local,
        }
    }

    #[test]
    fn networks_are_keyed_by_their_prefixes() {
        let key = |ip: &str, v4, v6| LimiterKey::for_ip(ip.parse().unwrap(), v4, v6);
        assert_eq!(key("192.0.2.1", 24, 48), key("192.0.2.254", 24, 48));
        assert_ne!(key("192.0.2.1", 24, 48), key("192.0.3.1", 24, 48));
        assert_ne!(key("192.0.2.1", 32, 64), key("192.0.2.2", 32, 64));
        assert_eq!(key("::ffff:192.0.2.9", 24, 48), key("192.0.2.1", 24, 48));
        assert_eq!(
            key("2001:db8:1:1::1", 24, 48),
            key("2001:db8:1:ffff::9", 24, 48)
        );
        assert_ne!(key("2001:db8:1::1", 24, 48), key("2001:db8:2::1", 24, 48));
        assert_eq!(key("10.1.2.3", 0, 0), key("10.9.9.9", 0, 0));
    }

    #[test]
    fn window_is_the_time_to_refill_the_burst() {
        assert_eq!(spec(10, 60, 5).window_seconds(), 30);
        assert_eq!(spec(3, 1, 1).window_seconds(), 1);
    }

    #[test]
    fn a_rate_faster_than_a_nanosecond_has_no_interval() {
        let mut s = spec(1, 1, 1);
        s.per = Duration::from_nanos(1);
        s.requests = NonZeroU32::new(2).unwrap();
        assert_eq!(s.replenish_interval(), None);
    }

    #[test]
    fn ipv6_keys_keep_only_the_prefix() {
        let a = LimiterKey::for_ip("2001:db8:1:2::1".parse().unwrap(), 32, 64);
        let b = LimiterKey::for_ip("2001:db8:1:2:ffff::9".parse().unwrap(), 32, 64);
        let c = LimiterKey::for_ip("2001:db8:1:3::1".parse().unwrap(), 32, 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            LimiterKey::for_ip("::ffff:192.0.2.1".parse().unwrap(), 32, 64),
            LimiterKey::V4(0xc000_0201)
        );
    }
}
