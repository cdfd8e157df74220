//! Console sessions: a person signs in with their token once and gets a session cookie
//! (HttpOnly, SameSite=Strict, Secure on TLS), ended by signing out, by 30 minutes
//! without a request, or 12 hours after sign-in, whichever comes first. Every change
//! carries the session's CSRF token, compared in constant time. Failed sign-ins are
//! counted per address: each one slows the next answer, and five within 15 minutes
//! refuse that address for 15 minutes.
//!
//! A session remembers which token opened it: when a reload removes or replaces that
//! token, its sessions end at their next request. What it approximates: sessions live in
//! the process, so a restart signs everyone out, and instances behind one balancer do not
//! share them (the admin listener is meant to be reached on one instance at a time).
//! Times are the gateway's clock, Unix seconds.

use crate::config::Role;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;

pub const IDLE_SECONDS: i64 = 30 * 60;
pub const ABSOLUTE_SECONDS: i64 = 12 * 3600;
/// Failed sign-ins from one address within [`FAILURE_WINDOW`] before it is refused.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: i64 = 15 * 60;
pub const LOCKOUT: i64 = 15 * 60;

/// One signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The cookie's value: 256 random bits, hex.
    pub id: String,
    /// What every change must carry back.
    pub csrf: String,
    pub name: Arc<str>,
    pub role: Role,
    /// The digest of the token that opened it.
    pub token: [u8; 32],
    pub started: i64,
    pub seen: i64,
}

impl Session {
    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.len() == presented.len()
            && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

fn random_hex() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Open a session for the holder of `token` (its digest), at `now`.
    pub fn open(&self, name: Arc<str>, role: Role, token: [u8; 32], now: i64) -> Session {
        let session = Session {
            id: random_hex(),
            csrf: random_hex(),
            name,
            role,
            token,
            started: now,
            seen: now,
        };
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, s| alive(s, now));
        open.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session `id` names, its idle time restarted; `None` (and forgotten) once
    /// it has ended.
    pub fn find(&self, id: &str, now: i64) -> Option<Session> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let session = open.get_mut(id)?;
        if !alive(session, now) {
            open.remove(id);
            return None;
        }
        session.seen = now;
        Some(session.clone())
    }

    pub fn close(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

fn alive(session: &Session, now: i64) -> bool {
    now - session.seen < IDLE_SECONDS && now - session.started < ABSOLUTE_SECONDS
}

/// What a sign-in attempt from an address may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go on, after waiting this long (longer with each recent failure).
    After(Duration),
    /// Refused for this many more seconds.
    Locked(i64),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: i64,
    locked_until: i64,
}

#[derive(Default)]
pub struct LoginThrottle {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl LoginThrottle {
    pub fn check(&self, from: IpAddr, now: i64) -> Attempt {
        let map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&from) {
            Some(f) if f.locked_until > now => Attempt::Locked(f.locked_until - now),
            Some(f) if now - f.first < FAILURE_WINDOW => Attempt::After(
                Duration::from_millis(250 * u64::from(f.count)).min(Duration::from_secs(2)),
            ),
            _ => Attempt::After(Duration::ZERO),
        }
    }

    pub fn failed(&self, from: IpAddr, now: i64) {
        let mut map = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        // A bounded table: an address flood does not grow it without end.
        if map.len() > 10_000 {
            map.retain(|_, f| f.locked_until > now || now - f.first < FAILURE_WINDOW);
        }
        let f = map.entry(from).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: 0,
        });
        if now - f.first >= FAILURE_WINDOW && f.locked_until <= now {
            *f = Failures {
                count: 0,
                first: now,
                locked_until: 0,
            };
        }
        f.count += 1;
        if f.count >= MAX_FAILURES {
            f.locked_until = now + LOCKOUT;
        }
    }

    pub fn succeeded(&self, from: IpAddr) {
        self.by_address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_old_and_when_closed() {
        let sessions = Sessions::default();
        let s = sessions.open("rita".into(), Role::Reviewer, [1; 32], 1_000);
        assert_eq!(s.id.len(), 64);
        assert_ne!(s.id, s.csrf);
        assert!(s.csrf_matches(&s.csrf.clone()) && !s.csrf_matches("nope"));
        // Kept alive by use, up to the absolute limit.
        let mut now = 1_000;
        while now + IDLE_SECONDS - 60 < 1_000 + ABSOLUTE_SECONDS {
            now += IDLE_SECONDS - 60;
            assert!(sessions.find(&s.id, now).is_some(), "at {now}");
        }
        assert!(
            sessions.find(&s.id, 1_000 + ABSOLUTE_SECONDS).is_none(),
            "12 h at most"
        );
        let idle = sessions.open("vera".into(), Role::Viewer, [2; 32], 5_000);
        assert!(
            sessions.find(&idle.id, 5_000 + IDLE_SECONDS).is_none(),
            "30 min idle"
        );
        let closed = sessions.open("ops".into(), Role::Admin, [3; 32], 5_000);
        sessions.close(&closed.id);
        assert!(sessions.find(&closed.id, 5_001).is_none());
        assert!(sessions.find("unknown", 5_001).is_none());
    }

    #[test]
    fn failed_sign_ins_slow_then_lock_an_address() {
        let throttle = LoginThrottle::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert_eq!(throttle.check(a, 0), Attempt::After(Duration::ZERO));
        for i in 1..MAX_FAILURES {
            throttle.failed(a, i as i64);
            assert_eq!(
                throttle.check(a, i as i64),
                Attempt::After(Duration::from_millis(250 * u64::from(i)))
            );
        }
        throttle.failed(a, 10);
        assert_eq!(throttle.check(a, 10), Attempt::Locked(LOCKOUT));
        assert_eq!(
            throttle.check(b, 10),
            Attempt::After(Duration::ZERO),
            "per address"
        );
        assert!(
            matches!(throttle.check(a, 10 + LOCKOUT), Attempt::After(_)),
            "the lockout ends"
        );
        throttle.succeeded(a);
        assert_eq!(
            throttle.check(a, 11),
            Attempt::After(Duration::ZERO),
            "a success forgives"
        );
        // Failures spread beyond the window do not add up.
        for t in [
            0,
            FAILURE_WINDOW,
            2 * FAILURE_WINDOW,
            3 * FAILURE_WINDOW,
            4 * FAILURE_WINDOW,
        ] {
            throttle.failed(b, t);
        }
        assert!(matches!(
            throttle.check(b, 4 * FAILURE_WINDOW),
            Attempt::After(_)
        ));
    }
}
