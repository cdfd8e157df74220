//! The shop's backends and what garita knows of their health.
//!
//! Requests go round robin over the upstreams that are up. An upstream goes down after
//! `unhealthy_threshold` failed health checks in a row, or at once after `max_fails`
//! requests in a row that could not connect or timed out (passive detection: a backend
//! that dies between two checks stops getting traffic on the next few requests, not at the
//! next check). It comes back only after `healthy_threshold` passed checks in a row. Each
//! upstream has a `garita_upstream_up` gauge, so that a payment API that stops answering
//! raises an alert at once. When none is up, requests get 502 `upstream_unavailable`
//! rather than a guess.
//!
//! The set outlives reloads: an address kept by the new config keeps its health, a new
//! one starts up (as a fresh process would) until checks say otherwise. Health changes
//! are atomics: selecting an upstream takes no lock.

use crate::config::UpstreamSettings;
use arc_swap::ArcSwap;
use prometheus::{IntGauge, IntGaugeVec};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

/// One backend address and its health.
#[derive(Debug)]
pub struct Upstream {
    pub addr: SocketAddr,
    healthy: AtomicBool,
    /// Failed health checks in a row.
    check_failures: AtomicU32,
    /// Passed health checks in a row.
    check_passes: AtomicU32,
    /// Requests in a row that could not connect or timed out.
    request_failures: AtomicU32,
    up: IntGauge,
}

impl Upstream {
    fn new(addr: SocketAddr, gauges: &IntGaugeVec) -> Self {
        let up = gauges.with_label_values(&[&addr.to_string()]);
        up.set(1);
        Self {
            addr,
            healthy: AtomicBool::new(true),
            check_failures: AtomicU32::new(0),
            check_passes: AtomicU32::new(0),
            request_failures: AtomicU32::new(0),
            up,
        }
    }

    pub fn is_up(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool, why: &str) {
        if self.healthy.swap(up, Ordering::Relaxed) != up {
            self.up.set(i64::from(up));
            if up {
                log::warn!("upstream {} is up again: {why}", self.addr);
            } else {
                log::error!("upstream {} is down: {why}", self.addr);
            }
        }
    }

    /// A health check's result.
    pub fn checked(&self, passed: bool, settings: &UpstreamSettings, detail: &str) {
        let health = &settings.health;
        if passed {
            self.check_failures.store(0, Ordering::Relaxed);
            let passes = self.check_passes.fetch_add(1, Ordering::Relaxed) + 1;
            if passes >= health.healthy_threshold {
                self.request_failures.store(0, Ordering::Relaxed);
                self.set(true, &format!("{passes} health checks passed"));
            }
        } else {
            self.check_passes.store(0, Ordering::Relaxed);
            let failures = self.check_failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= health.unhealthy_threshold {
                self.set(
                    false,
                    &format!("{failures} health checks failed ({detail})"),
                );
            }
        }
    }

    /// A request could not connect to it, or it did not answer in time.
    pub fn request_failed(&self, max_fails: u32, detail: &str) {
        let failures = self.request_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if max_fails > 0 && failures >= max_fails {
            // Back only through the health checks.
            self.check_passes.store(0, Ordering::Relaxed);
            self.set(
                false,
                &format!("{failures} requests in a row failed ({detail})"),
            );
        }
    }

    /// It answered a request.
    pub fn request_answered(&self) {
        if self.request_failures.load(Ordering::Relaxed) != 0 {
            self.request_failures.store(0, Ordering::Relaxed);
        }
    }
}

/// The upstreams of the running config.
pub struct UpstreamSet {
    members: ArcSwap<Vec<Arc<Upstream>>>,
    next: AtomicUsize,
    gauges: IntGaugeVec,
}

impl UpstreamSet {
    pub fn new(addresses: &[SocketAddr], gauges: IntGaugeVec) -> Self {
        let members = addresses
            .iter()
            .map(|a| Arc::new(Upstream::new(*a, &gauges)))
            .collect();
        Self {
            members: ArcSwap::from_pointee(members),
            next: AtomicUsize::new(0),
            gauges,
        }
    }

    /// Serve `addresses` from now on, keeping the health of those already known.
    pub fn update(&self, addresses: &[SocketAddr]) {
        let old = self.members.load_full();
        let members: Vec<Arc<Upstream>> = addresses
            .iter()
            .map(|a| {
                old.iter()
                    .find(|u| u.addr == *a)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(Upstream::new(*a, &self.gauges)))
            })
            .collect();
        for gone in old.iter().filter(|u| !addresses.contains(&u.addr)) {
            let _ = self.gauges.remove_label_values(&[&gone.addr.to_string()]);
        }
        self.members.store(Arc::new(members));
    }

    pub fn all(&self) -> Arc<Vec<Arc<Upstream>>> {
        self.members.load_full()
    }

    /// The next upstream that is up, round robin, other than `not` (the one a retry
    /// just failed on) when another is up.
    pub fn select(&self, not: Option<SocketAddr>) -> Option<Arc<Upstream>> {
        let members = self.members.load();
        let n = members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut fallback = None;
        for i in 0..n {
            let member = &members[(start + i) % n];
            if !member.is_up() {
                continue;
            }
            if Some(member.addr) == not {
                fallback = Some(member.clone());
                continue;
            }
            return Some(member.clone());
        }
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HealthCheckSettings;
    use std::time::Duration;

    fn settings() -> UpstreamSettings {
        UpstreamSettings {
            addresses: vec![],
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
            max_fails: 2,
            health: HealthCheckSettings {
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
                path: None,
                host: None,
                healthy_threshold: 2,
                unhealthy_threshold: 3,
            },
            tls: None,
        }
    }

    fn gauges() -> IntGaugeVec {
        IntGaugeVec::new(prometheus::Opts::new("up", "up"), &["upstream"]).unwrap()
    }

    #[test]
    fn round_robin_skips_the_down_and_the_one_just_tried() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let set = UpstreamSet::new(&[a, b], gauges());
        let picks: Vec<_> = (0..4).map(|_| set.select(None).unwrap().addr).collect();
        assert_eq!(picks, vec![a, b, a, b]);
        for _ in 0..4 {
            assert_eq!(set.select(Some(a)).unwrap().addr, b);
        }
        let s = settings();
        set.all()[1].request_failed(s.max_fails, "refused");
        assert!(set.all()[1].is_up(), "one failure is not enough");
        set.all()[1].request_failed(s.max_fails, "refused");
        assert!(!set.all()[1].is_up());
        for _ in 0..4 {
            assert_eq!(set.select(None).unwrap().addr, a);
        }
        // The one just tried is still better than nothing.
        assert_eq!(set.select(Some(a)).unwrap().addr, a);
        set.all()[0].checked(false, &s, "refused");
        set.all()[0].checked(false, &s, "refused");
        set.all()[0].checked(false, &s, "refused");
        assert!(set.select(None).is_none());
    }

    #[test]
    fn thresholds_and_health_kept_across_an_update() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c: SocketAddr = "127.0.0.1:3".parse().unwrap();
        let set = UpstreamSet::new(&[a], gauges());
        let s = settings();
        let up = |set: &UpstreamSet| set.all()[0].is_up();
        set.all()[0].checked(false, &s, "x");
        set.all()[0].checked(false, &s, "x");
        assert!(up(&set));
        set.all()[0].checked(false, &s, "x");
        assert!(!up(&set));
        set.update(&[a, c]);
        assert!(!up(&set), "a kept address keeps its health");
        assert!(set.all()[1].is_up(), "a new address starts up");
        set.all()[0].checked(true, &s, "");
        assert!(!up(&set));
        set.all()[0].checked(true, &s, "");
        assert!(up(&set));
        // An answered request resets the passive count.
        set.all()[0].request_failed(s.max_fails, "x");
        set.all()[0].request_answered();
        set.all()[0].request_failed(s.max_fails, "x");
        assert!(up(&set));
    }
}
