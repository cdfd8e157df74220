//! An evidence day file (`evidence-YYYY-MM-DD.jsonl`) and its manifest: one line a
//! record, in the order written, and beside them the day's count and last chain link.
//!
//! A line keeps in clear only what finds a record without opening it: its sequence
//! number, time, route, and keyed hashes (under the gateway's hash key) of its request id,
//! order reference, payment code, DNI and email; the record itself is an age file,
//! base64. Each line's `chain` is a keyed hash of the previous line's and of the line's
//! own fields, so a line taken out, put in or changed breaks the chain where it happened,
//! and lines taken off the end show against the manifest. Whoever holds the hash key
//! could forge a chain; the files' custodians should not, and the records themselves
//! stay closed to the key.

use crate::core::identity::key_list::KeyHasher;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The chain link before a day's first line.
pub const CHAIN_START: &str = "start";

/// One line of a day file.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordLine {
    pub seq: u64,
    pub ts: String,
    pub route: String,
    /// Keyed hashes of what the record can be found by.
    pub keys: Vec<String>,
    pub chain: String,
    /// The record, an age file encrypted to the recipients, base64.
    pub record: String,
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
pub fn link(hasher: &KeyHasher, previous: &str, line: &RecordLine) -> String {
    let record = hex::encode(Sha256::digest(line.record.as_bytes()));
    let fields = format!(
        "{previous}\n{}\n{}\n{}\n{}\n{record}",
        line.seq,
        line.ts,
        line.route,
        line.keys.join(",")
    );
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
    pub fn next(&mut self, line_number: usize, line: Option<&RecordLine>) {
        let Some(line) = line else {
            return self.problem(format!("line {line_number} is not a record line"));
        };
        self.check.records += 1;
        if line.seq != self.expected_seq {
            self.problem(format!(
                "record {} follows record {}: {} missing or out of order",
                line.seq,
                self.expected_seq - 1,
                if line.seq > self.expected_seq {
                    format!("records {} to {}", self.expected_seq, line.seq - 1)
                } else {
                    "a record repeated".to_string()
                }
            ));
        } else if link(self.hasher, &self.previous, line) != line.chain {
            self.problem(format!(
                "record {}: its chain link does not follow (the record or one before it was altered)",
                line.seq
            ));
        }
        self.expected_seq = line.seq + 1;
        self.previous = line.chain.clone();
    }

    /// The check, against the day's manifest if there is one.
    pub fn finish(mut self, manifest: Option<&Manifest>) -> ChainCheck {
        match manifest {
            None => self.problem("no manifest for the day".to_string()),
            Some(m) => {
                if m.records != self.check.records {
                    let text = format!(
                        "the manifest counts {} records, the file holds {}",
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
