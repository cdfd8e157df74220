//! What the gateway serves: a compiled config and the runtime built for it, held together
//! so that a reload can swap both at once.
//!
//! The decision steps that need the config, the runtime and the core together live here,
//! free of Pingora, so that the benchmarks run exactly what the proxy runs: connection
//! rules with the policy's limiter, and identity rules planned by the core, carried out by
//! the store in one call, and concluded by the core.

use crate::config::Config;
use crate::core::decision::Decision;
use crate::core::identity::key_list::KeyHashes;
use crate::core::plan::StoreFailure;
use crate::core::policy::PolicyId;
use crate::core::request::client_ip::ClientIp;
use crate::core::request::facts::IdentityFacts;
use crate::core::rules::connection::{self, ConnectionFacts};
use crate::core::rules::identity::{self, Setting, Step};
use crate::state::runtime::{Runtime, RuntimeError};

#[derive(Debug)]
pub struct Served {
    pub config: Config,
    pub runtime: Runtime,
}

impl Served {
    /// Serve `config`, keeping what the runtime of `previous` has that still fits.
    pub fn new(config: Config, previous: Option<&Served>) -> Result<Self, RuntimeError> {
        let runtime = Runtime::build(&config, previous.map(|p| &p.runtime))?;
        Ok(Self { config, runtime })
    }

    /// The connection facts of a client, and the connection rules' decision on them (not
    /// yet under the policy's mode).
    pub fn connection(&self, policy: PolicyId, client: ClientIp) -> (ConnectionFacts, Decision) {
        let facts = ConnectionFacts {
            client,
            country: self.runtime.country(client.addr),
        };
        let limiter = self.runtime.ip_limiter(policy);
        let decision = connection::decide(&self.config.policies[policy], &facts, limiter);
        (facts, decision)
    }

    /// The keyed hashes of a request's identity facts.
    pub fn hashes(&self, facts: &IdentityFacts) -> KeyHashes {
        KeyHashes::of(facts, &self.config.identity.hasher)
    }

    /// The identity rules on top of `decision` (the connection decision under the policy's
    /// mode): plan with the core, carry the plan out in the store, conclude with the core.
    pub fn identity(
        &self,
        policy_id: PolicyId,
        facts: &IdentityFacts,
        hashes: &KeyHashes,
        decision: Decision,
    ) -> Decision {
        let policy = &self.config.policies[policy_id];
        let Some(rules) = &policy.identity else {
            return decision;
        };
        let setting = Setting {
            policy: &policy.name,
            mode: policy.mode,
            now: self.runtime.now(),
            calendar: &self.config.identity.calendar,
        };
        let step = identity::plan(rules, setting, facts, hashes, decision, |i| {
            self.runtime.identity_limiter(policy_id, i)
        });
        match step {
            Step::Decided(decision) => decision,
            Step::Ask(plan) => {
                let answer = self.runtime.store.execute(plan.store_plan());
                plan.conclude(answer.map_err(|e| {
                    log::error!("{e}");
                    StoreFailure
                }))
            }
        }
    }
}
