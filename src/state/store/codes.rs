//! Payment codes the shop's backend created through garita, and what became of them.
//!
//! When a creation request (`POST /v1/cips`) is answered with a code, the store keeps
//! the code's record: the request's id (the review's id too, if it was held), its keyed
//! identity keys, amount, currency and order reference, when it was created, when it
//! lapses and when the record may be forgotten. A verified notification then settles it
//! ([`CodeEvent`]: paid, expired, refunded): each event is kept once per code, with when
//! it came, so a provider's retry or a replayed copy never counts twice. The counters per
//! identity key that the rules read are the core's business (`core::codes`); the store
//! only keeps records and answers whether an event is new.
//!
//! What it approximates: a code is known only if garita saw its creation answered and
//! the record was written before the notification came; a record lives until
//! `keep_until` (the code's life and a grace for late refunds), after which its
//! notifications count as unknown codes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub use crate::core::rules::code_life::{is_code, CodeEvent, MAX_CODE_LEN};

/// One code the backend created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCode {
    pub code: String,
    /// The creation request's id (and its review's, when it was held for review).
    pub request_id: String,
    pub route: String,
    /// `(fact, keyed hash)` of the request's identity keys.
    pub keys: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Whether the creation request was held for review.
    #[serde(default)]
    pub review: bool,
    pub created_at: i64,
    /// When the code lapses unpaid.
    pub expires_at: i64,
    /// When the record may be forgotten.
    pub keep_until: i64,
}

/// A code's record and the events that settled it, with when each came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLedger {
    pub record: PaymentCode,
    #[serde(default)]
    pub events: BTreeMap<CodeEvent, i64>,
}

/// What settling a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// No record of the code: created elsewhere, or forgotten.
    Unknown,
    /// The event is new for this code (now recorded); the ledger as it now stands.
    First(CodeLedger),
    /// The code had this event already; the ledger unchanged.
    Again(CodeLedger),
}

/// The codes one store holds, for the engine.
#[derive(Debug, Default)]
pub(super) struct CodeBook {
    codes: HashMap<String, CodeLedger>,
}

impl CodeBook {
    /// Keep a new code's record; `false` (and nothing changed) when it is known already.
    pub fn record(&mut self, code: &PaymentCode) -> bool {
        if self.codes.contains_key(&code.code) {
            return false;
        }
        self.codes.insert(
            code.code.clone(),
            CodeLedger {
                record: code.clone(),
                events: BTreeMap::new(),
            },
        );
        true
    }

    pub fn settle(&mut self, code: &str, event: CodeEvent, at: i64) -> Settled {
        let Some(ledger) = self.codes.get_mut(code) else {
            return Settled::Unknown;
        };
        if ledger.events.contains_key(&event) {
            return Settled::Again(ledger.clone());
        }
        ledger.events.insert(event, at);
        Settled::First(ledger.clone())
    }

    pub fn get(&self, code: &str) -> Option<&CodeLedger> {
        self.codes.get(code)
    }

    pub fn restore(&mut self, ledger: CodeLedger) {
        self.codes.insert(ledger.record.code.clone(), ledger);
    }

    /// Forget the records past `keep_until`; the codes forgotten.
    pub fn purge(&mut self, now: i64) -> Vec<String> {
        let gone: Vec<String> = self
            .codes
            .iter()
            .filter(|(_, l)| l.record.keep_until <= now)
            .map(|(code, _)| code.clone())
            .collect();
        for code in &gone {
            self.codes.remove(code);
        }
        gone
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Codes neither paid nor expired yet (for the heartbeat gauge).
    pub fn open(&self) -> u64 {
        self.codes
            .values()
            .filter(|l| {
                !l.events.contains_key(&CodeEvent::Paid)
                    && !l.events.contains_key(&CodeEvent::Expired)
            })
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(code: &str, keep_until: i64) -> PaymentCode {
        PaymentCode {
            code: code.into(),
            request_id: "r1".into(),
            route: "cip-create".into(),
            keys: vec![("dni".into(), "ab".repeat(16))],
            amount: Some("12.50".into()),
            currency: Some("PEN".into()),
            order: Some("T-1".into()),
            review: false,
            created_at: 100,
            expires_at: 200,
            keep_until,
        }
    }

    #[test]
    fn an_event_counts_once_per_code_and_unknown_codes_are_said_so() {
        let mut book = CodeBook::default();
        assert!(book.record(&code("123", 1_000)));
        assert!(!book.record(&code("123", 5_000)), "a code is kept once");
        assert_eq!(book.settle("999", CodeEvent::Paid, 150), Settled::Unknown);
        let Settled::First(ledger) = book.settle("123", CodeEvent::Paid, 150) else {
            panic!("the first paid is new");
        };
        assert_eq!(ledger.events.get(&CodeEvent::Paid), Some(&150));
        assert_eq!(ledger.record.keep_until, 1_000);
        assert!(matches!(
            book.settle("123", CodeEvent::Paid, 160),
            Settled::Again(l) if l.events[&CodeEvent::Paid] == 150
        ));
        assert!(matches!(
            book.settle("123", CodeEvent::Refunded, 170),
            Settled::First(_)
        ));
        assert_eq!(book.open(), 0);
        assert!(book.purge(999).is_empty());
        assert_eq!(book.purge(1_000), vec!["123".to_string()]);
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn codes_are_bounded_printable_text() {
        assert!(is_code("2364051"));
        assert!(!is_code(""));
        assert!(!is_code("12 34"));
        assert!(!is_code(&"9".repeat(MAX_CODE_LEN + 1)));
        assert_eq!(CodeEvent::parse("refunded"), Some(CodeEvent::Refunded));
        let json = serde_json::to_string(&CodeLedger {
            record: code("1", 2),
            events: BTreeMap::from([(CodeEvent::Expired, 5)]),
        })
        .unwrap();
        assert!(json.contains(r#""events":{"expired":5}"#), "{json}");
    }
}
