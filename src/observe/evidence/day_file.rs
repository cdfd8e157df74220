//! An evidence day file (`evidence-YYYY-MM-DD.jsonl`) and its manifest: one line a batch
//! of records (what the writer took from its queue at once), in the order written, and
//! beside them the day's count and last chain link.
//!
//! A line keeps in clear only what finds a record without opening it: for each record its
//! sequence number, time, route, and keyed hashes (under the gateway's hash key) of its
//! request id, order reference, payment code, DNI and email. The records themselves are
//! one age file a line, base64: one key agreement per recipient a batch rather than a
//! record, which is what makes capture affordable on a busy route. Each line's `chain` is
//! a keyed hash of the previous line's and of the line's own fields, and sequence numbers
//! run on across lines, so a line taken out, put in or changed breaks the chain where it
//! happened, and lines taken off the end show against the manifest. Whoever holds the
//! hash key could forge a chain; the records themselves stay closed to it.

use crate::core::identity::key_list::KeyHasher;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The chain link before a day's first line.
pub const CHAIN_START: &str = "start";

/// What a line says of one of its records, in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordIndex {
    pub seq: u64,
    pub ts: String,
    pub route: String,
    /// Keyed hashes of what the record can be found by.
    pub keys: Vec<String>,
}

/// One line of a day file: a batch of records.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchLine {
    pub records: Vec<RecordIndex>,
    pub chain: String,
    /// The records, a JSON array in the order of `records`, as an age file encrypted to
    /// the recipients, base64.
    pub sealed: String,
}

/// A day's manifest: what the writer wrote that day.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub day: String,
    pub records: u64,
    /// The last line's chain link.
    pub chain: String,
    /// Which hash key made the chain and the keys ([`KeyHasher::key_id`]).
    pub key_id: String,
}

/// The chain link of `line` after `previous`.
pub fn link(hasher: &KeyHasher, previous: &str, line: &BatchLine) -> String {
    let mut fields = String::from(previous);
    for r in &line.records {
        fields.push_str(&format!(
            "\n{}\n{}\n{}\n{}",
            r.seq,
            r.ts,
            r.route,
            r.keys.join(",")
        ));
    }
    fields.push('\n');
    fields.push_str(&hex::encode(Sha256::digest(line.sealed.as_bytes())));
    String::from_utf8_lossy(&hasher.hex_digest_labelled("evidence chain", &fields)).into_owned()
}

/// The day file of `day` in `dir`.
pub fn day_path(dir: &Path, day: Date) -> PathBuf {
    dir.join(format!("evidence-{day}.jsonl"))
}

/// The manifest of `day` in `dir`.
pub fn manifest_path(dir: &Path, day: Date) -> PathBuf {
    dir.join(format!("evidence-{day}.manifest.json"))
}

/// The day a file of `dir` is for, from its name.
pub fn day_of(name: &str) -> Option<Date> {
    let rest = name.strip_prefix("evidence-")?;
    let day = rest
        .strip_suffix(".jsonl")
        .or_else(|| rest.strip_suffix(".manifest.json"))?;
    day.parse().ok()
}

/// What a check of one day's chain found.
#[derive(Debug, Default, Serialize)]
pub struct ChainCheck {
    pub day: String,
    pub records: u64,
    /// Whether every link held and the count and last link match the manifest.
    pub intact: bool,
    /// What did not hold, in order.
    pub problems: Vec<String>,
}

/// Follows a day's chain line by line (so that a day is never held in memory whole).
pub struct ChainWalk<'a> {
    hasher: &'a KeyHasher,
    previous: String,
    expected_seq: u64,
    check: ChainCheck,
}

impl<'a> ChainWalk<'a> {
    pub fn new(hasher: &'a KeyHasher, day: Date) -> Self {
        Self {
            hasher,
            previous: CHAIN_START.to_string(),
            expected_seq: 1,
            check: ChainCheck {
                day: day.to_string(),
                intact: true,
                ..ChainCheck::default()
            },
        }
    }

    fn problem(&mut self, text: String) {
        self.check.intact = false;
        self.check.problems.push(text);
    }

    /// The next line, as read (`None` when it does not parse).
    pub fn next(&mut self, line_number: usize, line: Option<&BatchLine>) {
        let Some(line) = line else {
            return self.problem(format!("line {line_number} is not a batch of records"));
        };
        let (Some(first), Some(last)) = (line.records.first(), line.records.last()) else {
            return self.problem(format!("line {line_number} holds no record"));
        };
        self.check.records += line.records.len() as u64;
        let in_order = line.records.windows(2).all(|w| w[1].seq == w[0].seq + 1);
        if first.seq > self.expected_seq {
            let text = format!(
                "records {} to {} missing (before line {line_number})",
                self.expected_seq,
                first.seq - 1
            );
            self.problem(text);
        } else if first.seq < self.expected_seq || !in_order {
            self.problem(format!(
                "line {line_number}: records repeated or out of order"
            ));
        } else if link(self.hasher, &self.previous, line) != line.chain {
            self.problem(format!(
                "line {line_number}: its chain link does not follow (it or a line before it was altered)"
            ));
        }
        self.expected_seq = last.seq + 1;
        self.previous = line.chain.clone();
    }

    /// The check, against the day's manifest if there is one.
    pub fn finish(mut self, manifest: Option<&Manifest>) -> ChainCheck {
        match manifest {
            None => self.problem("no manifest for the day".to_string()),
            Some(m) => {
                let written = self.expected_seq - 1;
                if m.records != written || m.records != self.check.records {
                    let text = format!(
                        "the manifest counts {} records, the file holds {} (numbered to {written})",
                        m.records, self.check.records
                    );
                    self.problem(text);
                } else if m.chain != self.previous {
                    self.problem("the last chain link is not the manifest's".to_string());
                }
            }
        }
        self.check
    }
}
