//! `garita logs export`: a range of UTC days of the audit trail, as JSON lines or CSV.
//!
//! Reads the rotated days (gzipped or not) and the active file one line at a time and
//! writes what falls in the range as it goes: a year of logs is never held in memory.
//! A line counts by its own `ts`, so the days either side of the range are read too (a
//! line written just after midnight may sit in the day before's file). On a terminal a
//! progress bar shows the bytes read; piped or redirected, it stays quiet.

use crate::config::read_file_config;
use crate::observe::audit_files::{lines_of, Trail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::civil::Date;
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// The CSV columns: every field a decision line or an audit event may have.
const COLUMNS: [&str; 27] = [
    "ts",
    "event",
    "request_id",
    "route",
    "method",
    "path",
    "decision",
    "reasons",
    "score",
    "rules",
    "status",
    "upstream_status",
    "duration_ms",
    "client_ip",
    "peer_ip",
    "country",
    "document_type",
    "dni",
    "email",
    "phone",
    "account",
    "device",
    "amount",
    "currency",
    "billing_country",
    "by",
    "outcome",
];

/// The decision log file a config writes to (without compiling the config, which would
/// want its secrets).
pub fn log_of_config(config: &Path) -> Result<PathBuf, String> {
    let raw = read_file_config(config).map_err(|e| e.to_string())?;
    let path = raw
        .decision_log
        .path
        .filter(|p| p != Path::new("-"))
        .ok_or_else(|| {
            format!(
                "{}: decision_log.path is standard output: there are no files to read",
                config.display()
            )
        })?;
    let base = config.parent().unwrap_or(Path::new("."));
    Ok(if path.is_absolute() {
        path
    } else {
        base.join(path)
    })
}

/// A progress bar over `total` bytes on a terminal's standard error, hidden otherwise.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// One CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// A line's value for a CSV column: facts come from `facts`, lists are joined with `;`,
/// rules as `name=weight` (`~` marks a shadow rule).
fn column(line: &Value, name: &str) -> String {
    let value = match name {
        "document_type" | "dni" | "email" | "phone" | "account" | "device" | "amount"
        | "currency" | "billing_country" => &line["facts"][name],
        "rules" => {
            let rules = line["rules"].as_array().map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        let shadow = if r["shadow"] == true { "~" } else { "" };
                        format!(
                            "{shadow}{}={}",
                            r["rule"].as_str().unwrap_or(""),
                            r["weight"]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(";")
            });
            return rules.unwrap_or_default();
        }
        other => &line[other],
    };
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    }
}

/// The UTC day of a line's `ts`.
fn line_day(line: &Value) -> Option<Date> {
    let ts: jiff::Timestamp = line["ts"].as_str()?.parse().ok()?;
    Some(ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub lines: u64,
    /// Lines that were not JSON or had no time.
    pub unreadable: u64,
}

/// A UTC day as the command line gives it: `2026-11-01`, `today`, `yesterday`, or `7d`
/// (the first of the last seven days, today included).
pub fn parse_day(text: &str) -> Result<Date, String> {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let back = |days: i64| {
        today
            .checked_sub(jiff::Span::new().days(days))
            .map_err(|e| e.to_string())
    };
    match text {
        "today" => Ok(today),
        "yesterday" => back(1),
        _ => match text.strip_suffix('d').map(str::parse::<i64>) {
            Some(Ok(n)) if (1..=10_000).contains(&n) => back(n - 1),
            _ => text.parse::<Date>().map_err(|_| {
                format!("{text:?}: expected a date (2026-11-01), today, yesterday or a number of days (7d)")
            }),
        },
    }
}

/// Write the lines of the UTC days `from` to `to` of the trail whose active file is `log`.
pub fn export(
    log: &Path,
    from: Date,
    to: Date,
    format: Format,
    out: &mut impl Write,
) -> Result<Exported, String> {
    if from > to {
        return Err(format!("--from {from} is after --to {to}"));
    }
    let trail = Trail::new(log);
    let files = trail
        .files_between(from, to)
        .map_err(|e| format!("reading {}: {e}", log.display()))?;
    let total = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress(total, "exporting");
    let failed = |e: std::io::Error| format!("writing the export: {e}");
    if format == Format::Csv {
        writeln!(out, "{}", COLUMNS.join(",")).map_err(failed)?;
    }
    let mut done = Exported::default();
    let mut row = String::new();
    for file in files {
        let raw = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let reader = lines_of(&file, bar.wrap_read(raw));
        for text in reader.lines() {
            let text = text.map_err(|e| format!("{}: {e}", file.display()))?;
            let Some(line) = serde_json::from_str::<Value>(&text).ok() else {
                done.unreadable += 1;
                continue;
            };
            let Some(day) = line_day(&line) else {
                done.unreadable += 1;
                continue;
            };
            if day < from || day > to {
                continue;
            }
            match format {
                Format::Jsonl => writeln!(out, "{text}").map_err(failed)?,
                Format::Csv => {
                    row.clear();
                    for (i, name) in COLUMNS.iter().enumerate() {
                        if i > 0 {
                            row.push(',');
                        }
                        csv_field(&mut row, &column(&line, name));
                    }
                    writeln!(out, "{row}").map_err(failed)?;
                }
            }
            done.lines += 1;
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let mut out = String::new();
        csv_field(&mut out, "plain");
        out.push(',');
        csv_field(&mut out, "a,b \"c\"");
        assert_eq!(out, "plain,\"a,b \"\"c\"\"\"");
        let line: Value = serde_json::from_str(
            r#"{"reasons":["risk_score","quota_exceeded:dni:day"],"rules":[{"rule":"large_order","weight":40},{"rule":"hours","weight":10,"shadow":true}],"facts":{"amount":"120.50"},"status":200}"#,
        )
        .unwrap();
        assert_eq!(
            column(&line, "reasons"),
            "risk_score;quota_exceeded:dni:day"
        );
        assert_eq!(column(&line, "rules"), "large_order=40;~hours=10");
        assert_eq!(column(&line, "amount"), "120.50");
        assert_eq!(column(&line, "status"), "200");
        assert_eq!(column(&line, "score"), "");
    }
}
