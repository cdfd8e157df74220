//! Which store keys belong to one identity, address or webhook event, found the way the
//! rules make them: the value normalised and hashed per policy (Gmail folding is a
//! policy's choice, so one email may have two hashes). `garita state inspect` and the
//! admin API's key lookup and block list use it, so an operator names a DNI or an email
//! and never has to compute a keyed hash.

use crate::config::Config;
use crate::core::identity::key_list::{normalise_entry, KeyHasher};
use crate::core::request::facts::KeyKind;
use sha2::{Digest, Sha256};

/// Whether a policy folds Gmail addresses (`a.na+1@gmail.com` is `ana@gmail.com`).
fn folds_gmail(policy: &crate::core::policy::Policy) -> bool {
    policy
        .identity
        .as_ref()
        .is_some_and(|rules| rules.selectors.fold_gmail)
}

/// The distinct keyed hashes of `value` as a `fact` across the config's policies.
pub fn hashes_of(
    config: &Config,
    kind: KeyKind,
    value: &str,
    hasher: &KeyHasher,
) -> Result<Vec<String>, String> {
    let mut folds: Vec<bool> = config
        .policies
        .iter()
        .map(|(_, p)| folds_gmail(p))
        .collect();
    folds.sort();
    folds.dedup();
    if folds.is_empty() {
        folds.push(false);
    }
    let mut out = Vec::new();
    for fold in folds {
        let canonical = normalise_entry(kind, value, fold)
            .ok_or_else(|| format!("{value:?} is not a valid {}", kind.as_str()))?;
        out.push(hasher.hash(kind, &canonical).to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The prefixes of every key the store may hold for `value`, per policy: quota counters,
/// shared rates, bindings, order history and the block list for an identity or address;
/// replay records for `event` (a webhook's event id).
pub fn key_prefixes(
    config: &Config,
    fact: &str,
    value: &str,
    hasher: &KeyHasher,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if fact == "event" {
        let digest = hex::encode(Sha256::digest(value.as_bytes()));
        for (_, policy) in config.policies.iter().filter(|(_, p)| p.webhook.is_some()) {
            out.push(format!("w:{}:{digest}", policy.name));
        }
        return Ok(out);
    }
    let kind = KeyKind::parse(fact).ok_or_else(|| {
        format!("unknown fact {fact:?}: dni, email, phone, account, device, ip or event")
    })?;
    for (_, policy) in config.policies.iter() {
        let canonical = normalise_entry(kind, value, folds_gmail(policy))
            .ok_or_else(|| format!("{value:?} is not a valid {fact}"))?;
        let hash = hasher.hash(kind, &canonical);
        let name = &policy.name;
        let fact = kind.as_str();
        out.push(format!("q:{name}:{fact}:{hash}:"));
        out.push(format!("r:{name}:{fact}:{hash}"));
        out.push(format!("b:{name}:{fact}:{hash}:"));
        // The customer's order history (global, not per policy).
        out.push(format!("h:{fact}:{hash}:"));
        out.push(crate::core::plan::block_key(fact, &hash.to_string()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}
