//! Identity block lists: a request whose DNI, email, phone, account or device is listed.
//!
//! Lists hold SHA-256 digests of canonical values (see `core::identity::key_list`), so a
//! listed identity is matched in any spelling and under any document label.

use crate::core::identity::key_list::KeyList;
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
) -> impl Iterator<Item = KeyKind> + 'a {
    blocks
        .iter()
        .filter(|b| facts.key(b.kind).is_some_and(|v| b.list.contains(&v)))
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
        assert_eq!(
            listed(&blocks, &facts).collect::<Vec<_>>(),
            [KeyKind::Email]
        );
        let clean = IdentityFacts {
            email: Some("ana@example.pe".into()),
            ..IdentityFacts::default()
        };
        assert_eq!(listed(&blocks, &clean).count(), 0);
    }
}
