//! `garita replay`: logged requests decided again under another config, to see what a
//! policy change would have done before it is made.
//!
//! The lines stream through one at a time, in the order given, into the engine of
//! [`crate::state::replay`] (same core as the gateway, a fresh in-memory store, each line
//! at its logged time); this module tallies what changed and prints the report. What the
//! engine keeps as logged is counted by why.

use crate::core::decision::Decision;
use crate::observe::audit_files::lines_of;
pub use crate::state::replay::{Replay, Replayed, ANOTHER_KEY};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

/// What a replay found, for the report.
#[derive(Debug, Default)]
pub struct Tally {
    pub replayed: u64,
    pub kept: BTreeMap<&'static str, u64>,
    /// decision label -> (logged, replayed)
    pub decisions: BTreeMap<String, (u64, u64)>,
    /// rule -> (fired when logged, fired replayed)
    pub rules: BTreeMap<String, (u64, u64)>,
    pub changed: u64,
    /// The first changed requests: id, time, route, logged, replayed.
    pub sample: Vec<String>,
    pub unreadable: u64,
}

/// The decision of a logged line, and the names of the rules that fired on it.
fn logged_outcome(line: &Value) -> (String, Vec<String>) {
    let decision = line["decision"].as_str().unwrap_or("?").to_string();
    let rules = line["rules"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (decision, rules)
}

/// One replayed decision as a JSON line: what was logged and what it would be now.
pub fn decision_line(line: &Value, route: &str, decision: &Decision) -> Value {
    let risk = decision.risk();
    serde_json::json!({
        "request_id": line["request_id"],
        "ts": line["ts"],
        "route": route,
        "logged": line["decision"],
        "replayed": decision.label(),
        "reasons": decision.reasons().iter().map(|r| r.detail()).collect::<Vec<_>>(),
        "score": risk.map(|r| r.score),
        "rules": risk.map_or_else(Vec::new, |r| r.fired.iter().map(|f| f.rule.to_string()).collect()),
    })
}

/// Replay `files` in order under `replay`, tallying; each replayed decision also goes to
/// `each` (as a JSON line) when given.
pub fn run(
    replay: &Replay,
    files: &[PathBuf],
    sample_size: usize,
    mut each: Option<&mut dyn std::io::Write>,
) -> Result<Tally, String> {
    let total = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = super::logs::progress(total, "replaying");
    let mut tally = Tally::default();
    for file in files {
        let raw = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for text in lines_of(file, bar.wrap_read(raw)).lines() {
            let text = text.map_err(|e| format!("{}: {e}", file.display()))?;
            let Ok(line) = serde_json::from_str::<Value>(&text) else {
                tally.unreadable += 1;
                continue;
            };
            let (route, decision) = match replay.line(&line) {
                Replayed::Skipped => continue,
                Replayed::Kept(why) => {
                    *tally.kept.entry(why).or_default() += 1;
                    continue;
                }
                Replayed::Decided(route, decision) => (route, decision),
            };
            tally.replayed += 1;
            let (logged, logged_rules) = logged_outcome(&line);
            let now = decision.label();
            tally.decisions.entry(logged.clone()).or_default().0 += 1;
            tally.decisions.entry(now.to_string()).or_default().1 += 1;
            for rule in &logged_rules {
                tally.rules.entry(rule.clone()).or_default().0 += 1;
            }
            if let Some(risk) = decision.risk() {
                for fired in &risk.fired {
                    tally.rules.entry(fired.rule.to_string()).or_default().1 += 1;
                }
            }
            if logged != now {
                tally.changed += 1;
                if tally.sample.len() < sample_size {
                    let reasons: Vec<String> =
                        decision.reasons().iter().map(|r| r.detail()).collect();
                    tally.sample.push(format!(
                        "{}  {}  {route}  {logged} -> {now}  ({})",
                        line["ts"].as_str().unwrap_or("?"),
                        line["request_id"].as_str().unwrap_or("?"),
                        reasons.join(", ")
                    ));
                }
            }
            if let Some(out) = each.as_deref_mut() {
                writeln!(out, "{}", decision_line(&line, &route, &decision))
                    .map_err(|e| format!("writing the decisions: {e}"))?;
            }
        }
    }
    bar.finish_and_clear();
    Ok(tally)
}

/// The report `garita replay` prints.
pub fn report(tally: &Tally, unmatchable_entries: usize) -> String {
    let mut out = format!("replayed {} requests", tally.replayed);
    if !tally.kept.is_empty() {
        let kept: Vec<String> = tally
            .kept
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        out.push_str(&format!(" (kept as logged: {})", kept.join(", ")));
    }
    out.push_str(&format!("; {} would change\n\n", tally.changed));
    if let Some(n) = tally.kept.get(ANOTHER_KEY) {
        out.insert_str(
            0,
            &format!(
                "warning: {n} lines were hashed with another key than this config's (identity.hash_key_env): their identities cannot match; replay them with the key they were made with\n"
            ),
        );
    }
    out.push_str(&format!(
        "{:<16} {:>10} {:>10}\n",
        "decision", "logged", "replayed"
    ));
    for (decision, (logged, now)) in &tally.decisions {
        out.push_str(&format!("{decision:<16} {logged:>10} {now:>10}\n"));
    }
    if !tally.rules.is_empty() {
        out.push_str(&format!(
            "\n{:<32} {:>10} {:>10}\n",
            "risk rule fired", "logged", "replayed"
        ));
        for (rule, (logged, now)) in &tally.rules {
            out.push_str(&format!("{rule:<32} {logged:>10} {now:>10}\n"));
        }
    }
    if !tally.sample.is_empty() {
        out.push_str("\nchanged, the first of them:\n");
        for line in &tally.sample {
            out.push_str(line);
            out.push('\n');
        }
    }
    if unmatchable_entries > 0 {
        out.push_str(&format!(
            "\nnote: {unmatchable_entries} block-list entries are SHA-256 digests, which logged hashes cannot be matched against\n"
        ));
    }
    if tally.unreadable > 0 {
        out.push_str(&format!("note: {} lines were not JSON\n", tally.unreadable));
    }
    out
}
