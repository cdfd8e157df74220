//! Binding limits: one identity used with at most N others (a DNI with at most 3 accounts).
//!
//! The rule plans one binding per request and key (the set of `to` values seen with this
//! `from` value); the store records the member unless the set is full. A request that would
//! add a member to a full set is denied (or marked for review); members already bound keep
//! working. Keys are keyed hashes of both values.

use crate::core::decision::Action;
use crate::core::identity::key_list::KeyHashes;
use crate::core::plan::BindOp;
use crate::core::request::facts::KeyKind;
use std::time::Duration;

#[derive(Debug)]
pub struct BindingRule {
    pub from: KeyKind,
    pub to: KeyKind,
    pub max: u64,
    /// How long an association counts; `None` is forever.
    pub window: Option<Duration>,
    pub action: Action,
}

/// The bindings one request asks the store for, with the rule behind each.
pub(super) fn plan<'r>(
    rules: &'r [BindingRule],
    policy: &str,
    hashes: &KeyHashes,
    now: i64,
) -> (Vec<BindOp>, Vec<&'r BindingRule>) {
    let mut ops = Vec::new();
    let mut behind = Vec::new();
    for rule in rules {
        let (Some(from), Some(to)) = (hashes.get(rule.from), hashes.get(rule.to)) else {
            continue;
        };
        ops.push(BindOp {
            key: [
                "b:",
                policy,
                ":",
                rule.from.as_str(),
                ":",
                from,
                ":",
                rule.to.as_str(),
            ]
            .concat(),
            member: to.to_string(),
            max: rule.max,
            expires_at: rule.window.map(|w| now + w.as_secs() as i64),
            enforced: rule.action == Action::Deny,
        });
        behind.push(rule);
    }
    (ops, behind)
}
