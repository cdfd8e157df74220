//! garita's own log on standard error: what the process does (start, warnings, errors),
//! not what it decided, which is the decision log's.
//!
//! It is `env_logger` (filtered by `RUST_LOG`: by default garita's own notices, such as
//! reloads, and everyone's warnings; text, or one JSON object a line for a log shipper
//! with `--log-format json`) with one addition: [`Taps`] the proxy layer hands in. Every
//! record is first shown to its `spot` (the proxy's, which is how requests Pingora refuses
//! before garita's phases run are still logged and counted), and those its `leave_out`
//! names are not written (Pingora's error reports of connections garita itself closed for
//! a slow request head: they are counted, and an attack would make one line per
//! connection). That is why the log crate's global level is at least `debug` whatever
//! `RUST_LOG` says: records below the filter reach this logger, are offered to the spotter
//! and dropped, a compare or two each. The proxy's taps come from outside so that this
//! layer does not reach up into the proxy's.

use log::{LevelFilter, Log, Metadata, Record};

/// What another layer wants of every record: to see it, and to leave some out.
#[derive(Clone, Copy)]
pub struct Taps {
    pub spot: fn(&Record<'_>),
    pub leave_out: fn(&Record<'_>) -> bool,
}

impl Taps {
    /// No taps: every record is written as the filter says.
    pub const NONE: Taps = Taps {
        spot: |_| {},
        leave_out: |_| false,
    };
}

struct ProcessLog {
    inner: env_logger::Logger,
    inner_max: LevelFilter,
    taps: Taps,
}

impl Log for ProcessLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= LevelFilter::Debug
    }

    fn log(&self, record: &Record<'_>) {
        (self.taps.spot)(record);
        if (self.taps.leave_out)(record) {
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

/// Install the process logger with `taps`; later calls do nothing.
pub fn init(format: LogFormat, taps: Taps) {
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
    if log::set_boxed_logger(Box::new(ProcessLog {
        inner,
        inner_max,
        taps,
    }))
    .is_ok()
    {
        log::set_max_level(inner_max.max(LevelFilter::Debug));
    }
}
