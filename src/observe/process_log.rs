//! garita's own log on standard error: what the process does (start, warnings, errors),
//! not what it decided, which is the decision log's.
//!
//! It is `env_logger` (filtered by `RUST_LOG`, `warn` by default) with one addition: every
//! record is first shown to [`refused::spot`](crate::proxy::refused::spot), which is how
//! requests Pingora refuses before garita's phases run are still logged and counted; and
//! Pingora's error reports of connections garita itself closed for a slow request head
//! are left out (they are counted, and an attack would make one line per connection). That
//! is why the log crate's global level is at least `debug` whatever `RUST_LOG` says: records
//! below the filter reach this logger, are offered to the spotter and dropped, a compare or
//! two each.

use crate::proxy::{connection, refused};
use log::{LevelFilter, Log, Metadata, Record};

struct ProcessLog {
    inner: env_logger::Logger,
    inner_max: LevelFilter,
}

impl Log for ProcessLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= LevelFilter::Debug
    }

    fn log(&self, record: &Record<'_>) {
        refused::spot(record);
        if connection::is_own_timeout(record) {
            return;
        }
        if record.level() <= self.inner_max && self.inner.matches(record) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Install the process logger; later calls do nothing.
pub fn init() {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build();
    let inner_max = inner.filter();
    if log::set_boxed_logger(Box::new(ProcessLog { inner, inner_max })).is_ok() {
        log::set_max_level(inner_max.max(LevelFilter::Debug));
    }
}
