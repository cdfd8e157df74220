//! Identity block lists, and the keyed hash that stands in for identifiers everywhere else.
//!
//! A block list of DNIs, emails, phones, accounts or devices holds SHA-256 digests of the
//! canonical values, never the values: entries can be written in clear (they are
//! normalised, then hashed at load) or as 64 hex digits of the digest, so that a fraud list
//! shared between shops need not carry personal data. The canonical value hashed for a
//! document is its number as [`Document::key`](crate::core::identity::document::Document::key) gives it,
//! whatever its type: a DNI's 8 digits, the same for that number sent as CE, PAS or inside a
//! person's RUC; emails lower-cased (Gmail-folded if the policy folds); phones in E.164.
//!
//! Store keys and log fields use [`KeyHasher`] instead: HMAC-SHA256 under the gateway's own
//! secret, so that a leaked log or store cannot be reversed by hashing every possible DNI
//! (there are only 10^8).

use crate::core::identity::document::{self, DocumentKind};
use crate::core::request::facts::{IdentityFacts, KeyKind};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Normalise an entry written in a list to the canonical value a request's facts give
/// (`IdentityFacts::key`); `None` if it is not a valid value of its kind. A document is
/// written as its number (read as a DNI) or `TYPE:NUMBER`; the type only decides how the
/// number is checked.
pub fn normalise_entry(kind: KeyKind, entry: &str, fold_gmail: bool) -> Option<String> {
    match kind {
        KeyKind::Dni => {
            let (doc_kind, number) = match entry.split_once(':') {
                Some((k, n)) => (DocumentKind::parse(k)?, n),
                None => (DocumentKind::Dni, entry),
            };
            Some(document::document(doc_kind, number).ok()?.key())
        }
        KeyKind::Email => document::email(entry, fold_gmail),
        KeyKind::Phone => document::phone(entry),
        KeyKind::Ip => entry
            .trim()
            .parse()
            .ok()
            .map(crate::core::request::facts::ip_key),
        KeyKind::Account | KeyKind::Device => {
            let t = entry.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct KeyList {
    digests: HashSet<[u8; 32]>,
    /// The canonical values of the entries written in clear (they are in the config's
    /// files already): a replay keys them to match the hashed facts of a logged request.
    clear: Vec<String>,
    /// Their keyed hashes, once [`KeyList::index_keyed`] made them (replays only).
    keyed: HashSet<String>,
}

impl KeyList {
    /// Add an entry: 64 hex digits (optionally `sha256:`-prefixed) or a clear value.
    /// Returns false, adding nothing, if the entry is neither.
    pub fn add(&mut self, kind: KeyKind, entry: &str, fold_gmail: bool) -> bool {
        let entry = entry.trim();
        let hex_part = entry.strip_prefix("sha256:").unwrap_or(entry);
        if hex_part.len() == 64 {
            if let Ok(bytes) = hex::decode(hex_part) {
                let mut digest = [0u8; 32];
                digest.copy_from_slice(&bytes);
                self.digests.insert(digest);
                return true;
            }
        }
        match normalise_entry(kind, entry, fold_gmail) {
            Some(canonical) => {
                self.digests
                    .insert(Sha256::digest(canonical.as_bytes()).into());
                self.clear.push(canonical);
                true
            }
            None => false,
        }
    }

    /// Key the entries written in clear with `hasher`, so that [`KeyList::contains_keyed`]
    /// can match a logged request's hashed fact. Entries given as digests cannot be keyed;
    /// how many there are is returned.
    pub fn index_keyed(&mut self, kind: KeyKind, hasher: &KeyHasher) -> usize {
        self.keyed = self.clear.iter().map(|v| hasher.hash(kind, v)).collect();
        self.digests.len().saturating_sub(self.keyed.len())
    }

    /// Whether a fact's keyed hash is one of the indexed entries'.
    pub fn contains_keyed(&self, hash: &str) -> bool {
        self.keyed.contains(hash)
    }

    /// Whether a request's key value (as `IdentityFacts::key` gives it) is listed.
    pub fn contains(&self, key_value: &str) -> bool {
        if self.digests.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(key_value.as_bytes()).into();
        self.digests.contains(&digest)
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

/// The keyed hashes of one request's key facts: computed once, used by the rules, the
/// store keys and the decision log alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyHashes(Vec<(KeyKind, [u8; 32])>);

impl KeyHashes {
    /// Hashes as a decision log recorded them (32 hex digits each); others are left out.
    pub fn from_logged(hashes: impl IntoIterator<Item = (KeyKind, String)>) -> Self {
        Self(
            hashes
                .into_iter()
                .filter_map(|(k, h)| {
                    let ok = h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit());
                    ok.then(|| (k, h.as_bytes().try_into().expect("32 bytes")))
                })
                .collect(),
        )
    }

    pub fn of(facts: &IdentityFacts, hasher: &KeyHasher) -> Self {
        Self(
            KeyKind::ALL
                .into_iter()
                .filter_map(|k| facts.key(k).map(|v| (k, hasher.hex_digest(k, &v))))
                .collect(),
        )
    }

    /// Every fact that has a hash, with it.
    pub fn iter(&self) -> impl Iterator<Item = (KeyKind, &str)> {
        self.0
            .iter()
            .filter_map(|(k, h)| std::str::from_utf8(h).ok().map(|h| (*k, h)))
    }

    pub fn get(&self, kind: KeyKind) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, h)| std::str::from_utf8(h).ok())
    }
}

/// HMAC-SHA256 under the gateway's secret, for store keys and log fields.
#[derive(Clone)]
pub struct KeyHasher {
    mac: Hmac<Sha256>,
    /// A keyed hash of a fixed label: which key this is, without giving it away.
    key_id: [u8; 8],
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(..)")
    }
}

impl KeyHasher {
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"),
            key_id: [0; 8],
        };
        let digest = hasher.hex_digest_labelled("garita key id", "");
        hasher.key_id.copy_from_slice(&digest[..8]);
        hasher
    }

    /// Eight hex digits that name the key (a keyed hash of a fixed label): every decision
    /// line carries it, so that a replay under another key is told it cannot match the
    /// log's hashes instead of reporting changes.
    pub fn key_id(&self) -> &str {
        std::str::from_utf8(&self.key_id).unwrap_or("")
    }

    /// A fresh random secret: hashes then differ between runs.
    pub fn random() -> Self {
        Self::new(&rand::random::<[u8; 32]>())
    }

    /// 128 bits of the keyed hash, hex: `kind` is mixed in so equal strings of different
    /// kinds do not collide.
    pub fn hash(&self, kind: KeyKind, value: &str) -> String {
        let digest = self.hex_digest(kind, value);
        String::from_utf8_lossy(&digest).into_owned()
    }

    /// The keyed hash of a webhook's event id, for the log, as 32 hex digits kept inline:
    /// lines about one event can be joined, and an operator who has the id finds them
    /// (`GET /admin/keys/event/{id}` gives it), but the log alone does not name the
    /// provider's ids.
    pub fn hash_event(&self, event: &str) -> [u8; 32] {
        self.hex_digest_labelled("event", event)
    }

    /// The same hash as [`KeyHasher::hash`], as 32 hex digits kept inline.
    fn hex_digest(&self, kind: KeyKind, value: &str) -> [u8; 32] {
        self.hex_digest_labelled(kind.as_str(), value)
    }

    /// The keyed hash of `value` under `label` (what else is indexed by keyed hashes:
    /// evidence records by request id, order and code), as 32 hex digits.
    pub fn hex_digest_labelled(&self, label: &str, value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let mut hex = [0u8; 32];
        hex::encode_to_slice(&mac.finalize().into_bytes()[..16], &mut hex)
            .expect("32 hex digits for 16 bytes");
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_and_hashed_entries_match_any_spelling() {
        let mut list = KeyList::default();
        assert!(list.add(KeyKind::Dni, "45.678.912", false));
        let hashed = hex::encode(Sha256::digest(b"11223344"));
        assert!(list.add(KeyKind::Dni, &hashed, false));
        assert!(list.add(KeyKind::Dni, "CE:AB1234567", false));
        assert!(list.contains("45678912"));
        assert!(list.contains("11223344"));
        assert!(list.contains("AB1234567"));
        assert!(!list.contains("45678913"));
        assert!(!list.add(KeyKind::Dni, "1234", false));
    }

    #[test]
    fn a_listed_document_is_listed_under_every_label() {
        let mut list = KeyList::default();
        assert!(list.add(KeyKind::Dni, "CE:011223344", false));
        assert!(list.add(KeyKind::Dni, "RUC:10456789124", false));
        for (kind, number) in [
            (DocumentKind::Dni, "11223344"),
            (DocumentKind::Pas, "11223344"),
            (DocumentKind::Ruc, "10112233445"),
            (DocumentKind::Dni, "45678912"),
            (DocumentKind::Ce, "045678912"),
        ] {
            let doc = document::document(kind, number).unwrap();
            assert!(list.contains(&doc.key()), "{kind:?} {number}");
        }
    }

    #[test]
    fn emails_are_matched_normalised() {
        let mut list = KeyList::default();
        assert!(list.add(KeyKind::Email, " Fraud.Ster+1@Gmail.com", true));
        assert!(list.contains("fraudster@gmail.com"));
        let mut phones = KeyList::default();
        assert!(phones.add(KeyKind::Phone, "987 654 321", false));
        assert!(phones.contains("+51987654321"));
    }

    #[test]
    fn keyed_hashes_depend_on_secret_and_kind() {
        let a = KeyHasher::new(b"secret-a");
        let b = KeyHasher::new(b"secret-b");
        assert_eq!(
            a.hash(KeyKind::Dni, "45678912"),
            a.hash(KeyKind::Dni, "45678912")
        );
        assert_ne!(
            a.hash(KeyKind::Dni, "45678912"),
            b.hash(KeyKind::Dni, "45678912")
        );
        assert_ne!(a.hash(KeyKind::Account, "x"), a.hash(KeyKind::Device, "x"));
        assert_eq!(a.hash(KeyKind::Email, "x").len(), 32);
    }
}
