//! How a plan travels to the plan script and its answer comes back: KEYS are the blocked
//! keys to look up, the shared rates, the bindings' sets, the counters and the claim, in
//! that order, each under the deployment's prefix; ARGV starts with the plan's time and
//! the five counts, then each operation's arguments. The answer is five arrays of
//! integers, read back strictly: anything of another shape is a corrupt answer, never a
//! guess.

use super::super::{Acquired, Binding, Claim, Rate, StoreAnswer, StoreError, StorePlan};

/// The plan script's answer: blocked index (-1: none), rates, bindings, counters, claim.
pub(super) type Answer = (i64, Vec<Vec<i64>>, Vec<Vec<i64>>, Vec<i64>, i64);

/// The script's KEYS and ARGV for `plan`, each key made full by `key`.
pub(super) fn encode(plan: &StorePlan, key: impl Fn(&str) -> String) -> (Vec<String>, Vec<String>) {
    let now = plan.now;
    let mut keys = Vec::new();
    let mut args = vec![
        now.to_string(),
        plan.blocks.len().to_string(),
        plan.rates.len().to_string(),
        plan.bindings.len().to_string(),
        plan.counters.len().to_string(),
        u8::from(plan.claim.is_some()).to_string(),
    ];
    keys.extend(plan.blocks.iter().map(|k| key(&k.key())));
    for op in &plan.rates {
        keys.push(key(&op.key));
        args.extend([
            op.interval_ms.to_string(),
            op.burst.to_string(),
            u8::from(op.enforced).to_string(),
        ]);
    }
    for op in &plan.bindings {
        keys.push(key(&op.key));
        args.extend([
            op.member.clone(),
            op.max.to_string(),
            op.expires_at.map_or("+inf".to_string(), |e| e.to_string()),
            u8::from(op.enforced).to_string(),
        ]);
    }
    for counter in &plan.counters {
        keys.push(key(&counter.key));
        args.extend([
            counter.limit.to_string(),
            (counter.expires_at - now).max(1).to_string(),
            u8::from(counter.enforced).to_string(),
            counter.add.to_string(),
        ]);
    }
    if let Some(claim) = &plan.claim {
        keys.push(key(&claim.key));
        args.push((claim.hold_until - now).max(1).to_string());
    }
    (keys, args)
}

/// The answer as the core reads it.
pub(super) fn decode(answer: Answer) -> Result<StoreAnswer, StoreError> {
    let (blocked, rates, bindings, counters, claim) = answer;
    let bad = || StoreError::Corrupt("an answer of the wrong shape from the plan script".into());
    let rates = rates
        .iter()
        .map(|r| match r.as_slice() {
            [1, tat_ms] => Ok(Rate::Allowed { tat_ms: *tat_ms }),
            [2, wait] => Ok(Rate::Limited {
                retry_after_ms: *wait as u64,
            }),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bindings = bindings
        .iter()
        .map(|b| match b.as_slice() {
            [1, members] => Ok(Binding::Within {
                members: *members as u64,
            }),
            [2, members] => Ok(Binding::Exceeded {
                members: *members as u64,
            }),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let counters = match counters.as_slice() {
        [0] => None,
        [2, index] => Some(Acquired::Refused {
            index: *index as usize,
        }),
        [1, counts @ ..] => Some(Acquired::Granted(
            counts.iter().map(|c| *c as u64).collect(),
        )),
        _ => return Err(bad()),
    };
    let claim = match claim {
        0 => None,
        1 => Some(Claim::New),
        2 => Some(Claim::InFlight),
        3 => Some(Claim::Done),
        _ => return Err(bad()),
    };
    Ok(StoreAnswer {
        blocked: usize::try_from(blocked).ok(),
        rates,
        bindings,
        counters,
        claim,
    })
}
