//! `garita rules report`: what the outcomes in the audit trail say of each risk rule.
//!
//! Two passes over the trail, streamed: the first reads the outcomes (`review_resolved`
//! events and `code_settled` labels) from `--from` to the newest line, since an outcome
//! comes after its request; the second reads the decisions of `--from` to `--to` and
//! joins each to its label ([`crate::core::outcomes`]). Only the outcomes are held in
//! memory, one small entry per resolved review or settled code.
//!
//! Per policy with risk rules it prints, per rule: how often it fired (shadow firings
//! too), the labelled bad and good among those, its precision, the share of all bad
//! requests it caught, its weight and the weight its labels suggest, with how that was
//! computed. `--propose FILE` writes the config with those weights (comments and layout
//! kept) for `garita replay` to try on the same days.

use super::logs::{log_of_config, progress};
use crate::config::Config;
use crate::core::outcomes::{share, Labels, Outcome, PolicyTally, Teaching};
use crate::observe::audit_files::{lines_of, Trail};
use jiff::civil::Date;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// What the command was asked.
pub struct Ask<'a> {
    pub config: &'a Path,
    pub log: Option<&'a Path>,
    pub from: Date,
    pub to: Date,
    /// A payment not refunded within this many seconds labels its request good.
    pub good_after: i64,
    pub teaching: Teaching,
    pub propose: Option<&'a Path>,
}

/// The current weights of one policy's rules, in the file's order, and its threshold.
struct PolicyRules {
    review: u32,
    weights: Vec<(String, u32)>,
}

/// Each policy's risk rules, by policy name; and the policy of each route name.
fn rules_of(config: &Config) -> (BTreeMap<String, PolicyRules>, HashMap<String, String>) {
    let mut policies = BTreeMap::new();
    for (_, policy) in config.policies.iter() {
        let Some(risk) = policy.identity.as_ref().and_then(|i| i.risk.as_ref()) else {
            continue;
        };
        policies.insert(
            policy.name.to_string(),
            PolicyRules {
                review: risk.thresholds.review,
                weights: risk
                    .rules
                    .iter()
                    .map(|r| (r.name.to_string(), r.weight))
                    .collect(),
            },
        );
    }
    let mut routes: HashMap<String, String> = config
        .routes
        .routes()
        .iter()
        .map(|r| {
            (
                r.name.as_ref().to_string(),
                config.policies[r.policy].name.to_string(),
            )
        })
        .collect();
    let default = config.routes.default_policy();
    routes.insert(
        "default".to_string(),
        config.policies[default].name.to_string(),
    );
    (policies, routes)
}

fn seconds(line: &Value) -> Option<i64> {
    let ts: jiff::Timestamp = line["ts"].as_str()?.parse().ok()?;
    Some(ts.as_second())
}

fn utc_day(at: i64) -> Option<Date> {
    let ts = jiff::Timestamp::from_second(at).ok()?;
    Some(ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

/// Stream every JSON line of `files` to `each`, under one progress bar.
fn stream(
    files: &[PathBuf],
    bar: &indicatif::ProgressBar,
    mut each: impl FnMut(&Value),
) -> Result<(), String> {
    for file in files {
        let raw = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for text in lines_of(file, bar.wrap_read(raw)).lines() {
            let text = text.map_err(|e| format!("{}: {e}", file.display()))?;
            if let Ok(line) = serde_json::from_str::<Value>(&text) {
                each(&line);
            }
        }
    }
    Ok(())
}

/// The outcome an audit line records, and the request it labels.
fn outcome_of(line: &Value) -> Option<(&str, Outcome)> {
    match line["event"].as_str()? {
        "review_resolved" => {
            let outcome = match line["outcome"].as_str()? {
                "fraud" => Outcome::Fraud,
                "approved" => Outcome::Approved,
                _ => return None,
            };
            Some((line["review"].as_str()?, outcome))
        }
        "code_settled" => {
            let outcome = match line["outcome"].as_str()? {
                "paid" => Outcome::Paid(seconds(line)?),
                "refunded" => Outcome::Refunded,
                _ => return None,
            };
            Some((line["request"].as_str()?, outcome))
        }
        _ => None,
    }
}

/// Run the report; its text, and the proposal written when asked.
pub fn report(ask: &Ask<'_>) -> Result<String, String> {
    if ask.from > ask.to {
        return Err(format!("--from {} is after --to {}", ask.from, ask.to));
    }
    let config = Config::load_offline(ask.config).map_err(|e| e.to_string())?;
    let (policies, routes) = rules_of(&config);
    if policies.is_empty() {
        return Err(format!(
            "{}: no policy has risk rules: nothing to report",
            ask.config.display()
        ));
    }
    let log = match ask.log {
        Some(log) => log.to_path_buf(),
        None => log_of_config(ask.config)?,
    };
    let trail = Trail::new(&log);
    let newest = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .max(ask.to);
    let read = |e: std::io::Error| format!("reading {}: {e}", log.display());
    let outcome_files = trail.files_between(ask.from, newest).map_err(read)?;
    let decision_files = trail.files_between(ask.from, ask.to).map_err(read)?;
    let total = [&outcome_files, &decision_files]
        .into_iter()
        .flatten()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress(total, "reading the trail");

    let mut labels = Labels::default();
    let mut horizon = i64::MIN;
    stream(&outcome_files, &bar, |line| {
        if let Some(at) = seconds(line) {
            horizon = horizon.max(at);
        }
        if let Some((request, outcome)) = outcome_of(line) {
            labels.add(request, outcome);
        }
    })?;

    let mut tallies: BTreeMap<String, PolicyTally> = BTreeMap::new();
    stream(&decision_files, &bar, |line| {
        if line.get("decision").is_none() {
            return;
        }
        let day = seconds(line).and_then(utc_day);
        if day.is_none_or(|d| d < ask.from || d > ask.to) {
            return;
        }
        let Some(policy) = line["route"].as_str().and_then(|r| routes.get(r)) else {
            return;
        };
        if !policies.contains_key(policy) {
            return;
        }
        let label = line["request_id"]
            .as_str()
            .and_then(|id| labels.label(id, horizon, ask.good_after));
        let fired = line["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["rule"].as_str());
        tallies.entry(policy.clone()).or_default().add(fired, label);
    })?;
    bar.finish_and_clear();

    let mut out = format!(
        "rules report {} .. {} (UTC days); outcomes read: {} fraud, {} approved, {} paid, {} refunded; a payment is good {} days after it without a refund\n",
        ask.from,
        ask.to,
        labels.read[0],
        labels.read[1],
        labels.read[2],
        labels.read[3],
        ask.good_after / 86_400,
    );
    let mut proposal: BTreeMap<String, Vec<Option<u32>>> = BTreeMap::new();
    for (name, rules) in &policies {
        let tally = tallies.get(name).cloned().unwrap_or_default();
        out.push_str(&format!(
            "\npolicy {name}: {} requests, {} labelled bad, {} labelled good; review at {}\n",
            tally.requests, tally.bad, tally.good, rules.review
        ));
        out.push_str(&format!(
            "{:<28} {:>7} {:>6} {:>6}  {:<18} {:<18} {:>6} {:>9}  how\n",
            "rule", "fired", "bad", "good", "precision", "caught", "weight", "suggested"
        ));
        let mut proposed = Vec::with_capacity(rules.weights.len());
        for (rule, weight) in &rules.weights {
            let t = tally.rules.get(rule).copied().unwrap_or_default();
            let suggestion = ask.teaching.suggest(&t, rules.review);
            out.push_str(&format!(
                "{:<28} {:>7} {:>6} {:>6}  {:<18} {:<18} {:>6} {:>9}  {}\n",
                rule,
                t.fired,
                t.bad,
                t.good,
                share(t.bad, t.labelled()),
                share(t.bad, tally.bad),
                weight,
                suggestion
                    .weight
                    .map_or_else(|| "-".to_string(), |w| w.to_string()),
                suggestion.how
            ));
            proposed.push(suggestion.weight.filter(|w| w != weight));
        }
        // Rules in the trail that this config no longer has.
        for (rule, t) in &tally.rules {
            if !rules.weights.iter().any(|(r, _)| r == rule) {
                out.push_str(&format!(
                    "{rule:<28} {:>7} {:>6} {:>6}  (not in this config)\n",
                    t.fired, t.bad, t.good
                ));
            }
        }
        proposal.insert(name.clone(), proposed);
    }
    let bad = tallies.values().map(|t| t.bad).sum::<u64>();
    if bad == 0 {
        out.push_str("\nnote: no request in the range is labelled bad yet: precision and catch need fraud resolutions or refunds\n");
    }
    if let Some(path) = ask.propose {
        let changed = propose(ask.config, path, &proposal)?;
        out.push_str(&format!(
            "\nwrote {} with {changed} weights changed; try it on the same days: garita replay --config {} <the decision-log files>\n",
            path.display(),
            path.display()
        ));
    }
    Ok(out)
}

/// Write `config` to `path` with the proposed weights (per policy, per rule in the file's
/// order; `None`: unchanged); how many changed.
fn propose(
    config: &Path,
    path: &Path,
    proposal: &BTreeMap<String, Vec<Option<u32>>>,
) -> Result<usize, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let mut changed = 0;
    for (policy, weights) in proposal {
        let Some(risk) = doc
            .get_mut("policies")
            .and_then(|p| p.get_mut(policy))
            .and_then(|p| p.get_mut("risk"))
        else {
            continue;
        };
        // `[[policies.NAME.risk]]` tables, or an inline array of tables.
        if let Some(tables) = risk.as_array_of_tables_mut() {
            for (table, weight) in tables.iter_mut().zip(weights) {
                if let Some(weight) = weight {
                    table["weight"] = toml_edit::value(i64::from(*weight));
                    changed += 1;
                }
            }
        } else if let Some(array) = risk.as_array_mut() {
            for (entry, weight) in array.iter_mut().zip(weights) {
                if let (Some(table), Some(weight)) = (entry.as_inline_table_mut(), weight) {
                    table.insert("weight", i64::from(*weight).into());
                    changed += 1;
                }
            }
        }
    }
    let header = format!(
        "# Proposed by `garita rules report` from {}: risk weights from the outcomes in the\n# audit trail. Try it with `garita replay` before serving it.\n",
        config.display()
    );
    std::fs::write(path, format!("{header}{doc}"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(changed)
}
