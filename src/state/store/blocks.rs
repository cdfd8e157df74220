//! The runtime block list: identity keys that every plan refuses, on every instance that
//! shares the store, from the moment they are added.
//!
//! Entries come from two places: a review resolved as fraud (the request's identity keys)
//! and the admin API (`POST /admin/blocks`). Each is a keyed hash, never the value in
//! clear, with when, by whom (the admin token's name) and why. The config's block files
//! are a separate, static list; this one lives in the store and outlives restarts and
//! reloads. Addresses are not blocked here: that would cost every request a store call,
//! and the config's `ip_rules` lists reload without one.

use serde::{Deserialize, Serialize};

/// One blocked identity key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// `dni`, `email`, `phone`, `account` or `device`.
    pub fact: String,
    /// The keyed hash of the normalised value.
    pub hash: String,
    #[serde(flatten)]
    pub note: BlockNote,
}

/// When, by whom and why a key was blocked: what the store keeps beside the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BlockNote {
    /// Unix seconds.
    pub since: i64,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Block {
    /// The store key the plans look up, `blk:{fact}:{hash}`.
    pub fn key(&self) -> String {
        crate::core::plan::block_key(&self.fact, &self.hash)
    }

    /// The entry behind a store key, or `None` for a key that is not a block's.
    pub fn from_key(key: &str, note: BlockNote) -> Option<Block> {
        let (fact, hash) = key.strip_prefix("blk:")?.split_once(':')?;
        Some(Block {
            fact: fact.to_string(),
            hash: hash.to_string(),
            note,
        })
    }
}

impl BlockNote {
    /// A note as stored: JSON, or (written before notes existed) the bare Unix time.
    pub fn parse(stored: &str) -> BlockNote {
        serde_json::from_str(stored).unwrap_or_else(|_| BlockNote {
            since: stored.trim().parse().unwrap_or(0),
            by: String::new(),
            reason: None,
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a block note serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_and_old_notes_still_read() {
        let block = Block {
            fact: "dni".into(),
            hash: "ab12".into(),
            note: BlockNote {
                since: 5,
                by: "ops".into(),
                reason: Some("chargeback".into()),
            },
        };
        assert_eq!(block.key(), "blk:dni:ab12");
        assert_eq!(
            Block::from_key(&block.key(), block.note.clone()),
            Some(block.clone())
        );
        assert_eq!(BlockNote::parse(&block.note.to_json()), block.note);
        assert_eq!(BlockNote::parse("1700000000").since, 1_700_000_000);
        assert_eq!(Block::from_key("q:x", BlockNote::default()), None);
    }
}
