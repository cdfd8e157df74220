//! garita's own log on standard error: what the process does (start, warnings, errors),
//! not what it decided, which is the decision log's.
//!
//! It is `env_logger` (filtered by `RUST_LOG`: by default garita's own notices, such as
//! reloads, and everyone's warnings; text, or one JSON object a line for a log shipper
//! with `--log-format json`) with one addition: every
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

/// How the process log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    // `[2026-11-26T12:00:00Z WARN  garita::proxy::reload] ...`, for people. (Plain
    // comments: doc comments here would turn `run --help` into its long form.)
    #[default]
    Text,
    // `{"ts":"...","level":"WARN","target":"...","message":"..."}`, a line each.
    Json,
}

/// Install the process logger; later calls do nothing.
pub fn init(format: LogFormat) {
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,garita=info"),
    );
    if format == LogFormat::Json {
        builder.format(|out, record| {
            use std::io::Write;
            let line = serde_json::json!({
                "ts": jiff::Timestamp::now().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(out, "{line}")
        });
    }
    let inner = builder.build();
    let inner_max = inner.filter();
    if log::set_boxed_logger(Box::new(ProcessLog { inner, inner_max })).is_ok() {
        log::set_max_level(inner_max.max(LevelFilter::Debug));
    }
}
