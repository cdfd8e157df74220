//! Identity block lists: a request whose DNI, email, phone, account or device is listed.
//!
//! Lists hold SHA-256 digests of canonical values (see `core::identity::key_list`), so a
//! listed identity is matched in any spelling and under any document label. A request
//! known only by its keyed hashes (a logged one, replayed) is matched against the lists'
//! keyed entries instead.

use crate::core::identity::key_list::{KeyHashes, KeyList};
use crate::core::request::facts::{IdentityFacts, KeyKind};

/// One fact's block list.
#[derive(Debug)]
pub struct KeyBlock {
    pub kind: KeyKind,
    pub list: KeyList,
}

/// The kinds of fact whose value is listed, in the order the lists are configured.
pub fn listed<'a>(
    blocks: &'a [KeyBlock],
    facts: &'a IdentityFacts,
    hashes: &'a KeyHashes,
) -> impl Iterator<Item = KeyKind> + 'a {
    blocks
        .iter()
        .filter(|b| match facts.key(b.kind) {
            Some(value) => b.list.contains(&value),
            None => hashes.get(b.kind).is_some_and(|h| b.list.contains_keyed(h)),
        })
        .map(|b| b.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_facts_are_named() {
        let mut emails = KeyList::default();
        assert!(emails.add(KeyKind::Email, "fraud@example.pe", false));
        let blocks = [
            KeyBlock {
                kind: KeyKind::Dni,
                list: KeyList::default(),
            },
            KeyBlock {
                kind: KeyKind::Email,
                list: emails,
            },
        ];
        let facts = IdentityFacts {
            email: Some("fraud@example.pe".into()),
            ..IdentityFacts::default()
        };
        let none = KeyHashes::default();
        assert_eq!(
            listed(&blocks, &facts, &none).collect::<Vec<_>>(),
            [KeyKind::Email]
        );
        let clean = IdentityFacts {
            email: Some("ana@example.pe".into()),
            ..IdentityFacts::default()
        };
        assert_eq!(listed(&blocks, &clean, &none).count(), 0);
    }

    #[test]
    fn a_request_known_by_its_hashes_matches_keyed_entries() {
        use crate::core::identity::key_list::KeyHasher;
        let hasher = KeyHasher::new(b"the log's key");
        let mut dnis = KeyList::default();
        assert!(dnis.add(KeyKind::Dni, "4567 8912", false));
        assert!(dnis.add(KeyKind::Dni, &"ab".repeat(32), false));
        assert_eq!(
            dnis.index_keyed(KeyKind::Dni, &hasher),
            1,
            "a digest cannot be keyed"
        );
        let blocks = [KeyBlock {
            kind: KeyKind::Dni,
            list: dnis,
        }];
        let logged =
            |dni: &str| KeyHashes::from_logged([(KeyKind::Dni, hasher.hash(KeyKind::Dni, dni))]);
        let nothing_clear = IdentityFacts::default();
        assert_eq!(
            listed(&blocks, &nothing_clear, &logged("45678912")).count(),
            1
        );
        assert_eq!(
            listed(&blocks, &nothing_clear, &logged("87654321")).count(),
            0
        );
    }
}
