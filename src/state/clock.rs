//! The runtime's clock: what time the rules are told it is.
//!
//! The system clock in production; a clock that stands still for unit tests; and, only
//! when `GARITA_TEST_CLOCK_FILE` is set, a clock read from a file so that end-to-end tests
//! can cross Lima midnight from outside the process.

use jiff::Timestamp;
use std::sync::Mutex;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until moved; for tests.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        if let Ok(mut t) = self.0.lock() {
            *t = at;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|p| *p.into_inner())
    }
}

/// A clock read from a file holding an RFC 3339 time, re-read at every call; for end-to-end
/// tests that need to cross midnight. Falls back to the system clock if the file is
/// unreadable. Enabled only by the `GARITA_TEST_CLOCK_FILE` environment variable.
pub struct FileClock(std::path::PathBuf);

impl FileClock {
    pub fn new(path: std::path::PathBuf) -> Self {
        Self(path)
    }
}

impl Clock for FileClock {
    fn now(&self) -> Timestamp {
        std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or_else(Timestamp::now)
    }
}
