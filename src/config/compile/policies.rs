//! `[ip_rules]` and `[policies.*]`: each policy's lists (the global ones merged in, so the
//! core looks at one allow list and one block list per policy), geofence, rate limits,
//! mode, failure mode, fraud blocks, identity rules ([`super::identity`]) and webhook rule
//! ([`super::webhook`]).
//!
//! Every policy is compiled even when another failed; the ones that failed are named, so
//! that the routes naming them are not reported a second time.

use super::super::error::ConfigError;
use super::super::file::{self, FileConfig};
use super::super::shared::{compile_rate_limit, read_list, Counted, Ctx};
use super::{identity, webhook};
use crate::core::decision::Mode;
use crate::core::net::geo::{CountryCode, Geofence, UnknownCountry};
use crate::core::net::ip_list::IpList;
use crate::core::plan::OnStoreError;
use crate::core::policy::{Policies, Policy};
use crate::core::request::facts::KeyKind;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The compiled policies, and the names of those that did not compile.
pub(super) struct CompiledPolicies {
    pub policies: Policies,
    pub failed: HashSet<String>,
}

/// Every policy of the file, with the global `[ip_rules]` merged in; `geoip` says whether
/// a `[geoip]` database is configured (geofences and country rules need one).
pub(super) fn policies(
    ctx: &Ctx,
    raw: &FileConfig,
    geoip: bool,
) -> Result<CompiledPolicies, ConfigError> {
    let global = &raw.ip_rules;
    let global_allow = ctx
        .keep(ip_rule_list(
            ctx,
            "ip_rules",
            "allow",
            &global.allow,
            &global.allow_files,
        ))
        .unwrap_or_default();
    let global_block = ctx
        .keep(ip_rule_list(
            ctx,
            "ip_rules",
            "block",
            &global.block,
            &global.block_files,
        ))
        .unwrap_or_default();
    let mut policies = Policies::default();
    let mut failed = HashSet::new();
    for (name, section) in &raw.policies {
        let key = format!("policies.{name}");
        let compiled = (|| {
            let mut policy =
                compile_policy(ctx, &key, name, section, &global_allow, &global_block)?;
            if let Some(w) = &section.webhook {
                if policy.identity.is_some() {
                    return Err(ctx.invalid(
                        format!("{key}.webhook"),
                        "a webhook policy without facts, block, limits or bindings",
                        "both",
                    ));
                }
                policy.webhook = Some(webhook::webhook_rule(ctx, &format!("{key}.webhook"), w)?);
            }
            let compares_countries = policy
                .identity
                .as_ref()
                .and_then(|i| i.risk.as_ref())
                .is_some_and(|r| r.compares_countries());
            if compares_countries && !geoip {
                return Err(ctx.invalid(
                    format!("{key}.risk"),
                    "a [geoip] database to be configured for country_mismatch",
                    "no [geoip] section",
                ));
            }
            if policy.geofence.is_some() && !geoip {
                return Err(ctx.invalid(
                    format!("{key}.geofence"),
                    "a [geoip] database to be configured for a geofence",
                    "no [geoip] section",
                ));
            }
            Ok(policy)
        })();
        match compiled {
            Ok(policy) => {
                policies.push(policy);
            }
            Err(e) => {
                ctx.report(e);
                failed.insert(name.clone());
            }
        }
    }
    Ok(CompiledPolicies { policies, failed })
}

fn ip_rule_list(
    ctx: &Ctx,
    prefix: &str,
    which: &str,
    inline: &[String],
    files: &[PathBuf],
) -> Result<IpList, ConfigError> {
    let mut list = IpList::new();
    read_list(
        ctx,
        prefix,
        which,
        (inline, files),
        "IP address or CIDR",
        |entry| {
            IpList::parse_entry(entry)
                .map(|net| list.insert(net))
                .is_some()
        },
    )?;
    Ok(list)
}

fn compile_policy(
    ctx: &Ctx,
    key: &str,
    name: &str,
    section: &file::PolicySection,
    global_allow: &IpList,
    global_block: &IpList,
) -> Result<Policy, ConfigError> {
    let rules = &section.ip_rules;
    let rules_key = format!("{key}.ip_rules");
    let mut ip_allow = ip_rule_list(ctx, &rules_key, "allow", &rules.allow, &rules.allow_files)?;
    ip_allow.extend(global_allow);
    let mut ip_block = ip_rule_list(ctx, &rules_key, "block", &rules.block, &rules.block_files)?;
    ip_block.extend(global_block);

    let geofence = section
        .geofence
        .as_ref()
        .map(|g| compile_geofence(ctx, &format!("{key}.geofence"), g))
        .transpose()?;

    let rate_limit = section
        .rate_limit
        .as_ref()
        .map(|r| compile_rate_limit(ctx, &format!("{key}.rate_limit"), r, Counted::PerClient))
        .transpose()?;
    let network_rate_limit = section
        .network_rate_limit
        .as_ref()
        .map(|r| {
            compile_rate_limit(
                ctx,
                &format!("{key}.network_rate_limit"),
                r,
                Counted::PerNetwork,
            )
        })
        .transpose()?;

    let mode = ctx.choice(
        format!("{key}.mode"),
        section.mode.as_deref(),
        Mode::Enforce,
        &[("enforce", Mode::Enforce), ("shadow", Mode::Shadow)],
    )?;
    let on_store_error = ctx.choice(
        format!("{key}.on_store_error"),
        section.on_store_error.as_deref(),
        OnStoreError::Closed,
        &[
            ("closed", OnStoreError::Closed),
            ("open", OnStoreError::Open),
        ],
    )?;

    let fraud_blocks = match &section.fraud_blocks {
        None => crate::core::policy::DEFAULT_FRAUD_BLOCKS.to_vec(),
        Some(list) => person_facts(
            ctx,
            &format!("{key}.fraud_blocks"),
            list,
            "addresses go in ip_rules",
        )?,
    };
    let review_hints = person_facts(
        ctx,
        &format!("{key}.review_hints"),
        &section.review_hints,
        "addresses are not hinted",
    )?;

    Ok(Policy {
        name: Arc::from(name),
        ip_allow,
        ip_block,
        geofence,
        rate_limit,
        network_rate_limit,
        identity: identity::identity_rules(ctx, key, section)?,
        webhook: None,
        mode,
        on_store_error,
        fraud_blocks,
        review_hints,
        payment_codes: section
            .payment_codes
            .as_ref()
            .map(|c| super::code_life::capture(ctx, &format!("{key}.payment_codes"), c, section))
            .transpose()?,
        evidence: section
            .evidence
            .as_ref()
            .map(|e| super::evidence::capture(ctx, &format!("{key}.evidence"), e))
            .transpose()?,
    })
}

/// A list of the facts that name a person (every key kind but the address).
fn person_facts(
    ctx: &Ctx,
    key: &str,
    list: &[String],
    why_not_ip: &str,
) -> Result<Vec<KeyKind>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, fact)| {
            KeyKind::parse(fact)
                .filter(|k| *k != KeyKind::Ip)
                .ok_or_else(|| {
                    ctx.invalid(
                        format!("{key}[{i}]"),
                        &format!("dni, email, phone, account or device ({why_not_ip})"),
                        format!("{fact:?}"),
                    )
                })
        })
        .collect()
}

fn compile_geofence(
    ctx: &Ctx,
    key: &str,
    g: &file::GeofenceSection,
) -> Result<Geofence, ConfigError> {
    let codes = |field: &str, list: &[String]| {
        list.iter()
            .enumerate()
            .map(|(i, c)| {
                CountryCode::parse_config(c).ok_or_else(|| {
                    ctx.invalid(
                        format!("{key}.{field}[{i}]"),
                        "an ISO 3166-1 alpha-2 country code such as \"PE\"",
                        format!("{c:?}"),
                    )
                })
            })
            .collect::<Result<HashSet<_>, _>>()
    };
    let unknown = |default| {
        ctx.choice(
            format!("{key}.unknown"),
            g.unknown.as_deref(),
            default,
            &[
                ("allow", UnknownCountry::Allow),
                ("deny", UnknownCountry::Deny),
            ],
        )
    };
    match (&g.allow_countries, &g.block_countries) {
        (Some(allow), None) if !allow.is_empty() => Ok(Geofence::AllowOnly {
            countries: codes("allow_countries", allow)?,
            unknown: unknown(UnknownCountry::Deny)?,
        }),
        (None, Some(block)) if !block.is_empty() => Ok(Geofence::Block {
            countries: codes("block_countries", block)?,
            unknown: unknown(UnknownCountry::Allow)?,
        }),
        _ => Err(ctx.invalid(
            key,
            "exactly one non-empty list: allow_countries or block_countries",
            "neither or both",
        )),
    }
}
