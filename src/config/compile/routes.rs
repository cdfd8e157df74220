//! `[[routes]]` and `server.default_policy`: which policy guards which paths and methods.
//!
//! A route naming a policy that failed to compile is left out without a second error; a
//! route may not upgrade (a 101 tunnels past every rule) when its policy reads identity
//! facts or verifies webhooks.

use super::super::error::ConfigError;
use super::super::file::FileConfig;
use super::super::shared::Ctx;
use super::policies::CompiledPolicies;
use crate::core::request::route::{PathPattern, Route, RouteName, RouteTable};
use std::collections::HashSet;

pub(super) fn routes(
    ctx: &Ctx,
    raw: &FileConfig,
    compiled: &CompiledPolicies,
) -> Result<RouteTable, ConfigError> {
    let policies = &compiled.policies;
    let lookup_policy = |key: String, name: &str| {
        policies.find(name).ok_or_else(|| {
            let known: Vec<&str> = policies.iter().map(|(_, p)| &*p.name).collect();
            ctx.invalid(
                key,
                &format!("the name of a [policies.*] table ({})", known.join(", ")),
                format!("{name:?}"),
            )
        })
    };
    let default_policy = match compiled.failed.contains(&raw.server.default_policy) {
        true => None,
        false => ctx.keep(lookup_policy(
            "server.default_policy".into(),
            &raw.server.default_policy,
        )),
    };

    let mut routes = Vec::new();
    let mut names = HashSet::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        let compiled = (|| -> Result<Option<Route>, ConfigError> {
            if r.name.is_empty() || r.name == "default" || !names.insert(r.name.clone()) {
                return Err(ctx.invalid(
                    format!("{key}.name"),
                    "a unique route name other than \"default\"",
                    format!("{:?}", r.name),
                ));
            }
            if r.paths.is_empty() {
                return Err(ctx.invalid(format!("{key}.paths"), "at least one path pattern", "[]"));
            }
            let patterns = r
                .paths
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    PathPattern::parse(p).map_err(|why| {
                        ctx.invalid(format!("{key}.paths[{j}]"), &why, format!("{p:?}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let methods = r
                .methods
                .as_ref()
                .map(|ms| {
                    ms.iter()
                        .enumerate()
                        .map(|(j, m)| {
                            let upper = m.to_ascii_uppercase();
                            http::Method::from_bytes(upper.as_bytes())
                                .ok()
                                .filter(|_| !upper.is_empty())
                                .map(|_| upper)
                                .ok_or_else(|| {
                                    ctx.invalid(
                                        format!("{key}.methods[{j}]"),
                                        "an HTTP method",
                                        format!("{m:?}"),
                                    )
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            if compiled.failed.contains(&r.policy) {
                return Ok(None);
            }
            let policy = lookup_policy(format!("{key}.policy"), &r.policy)?;
            let upgrade = r.upgrade.unwrap_or(false);
            let guarded = &policies[policy];
            if upgrade && (guarded.identity.is_some() || guarded.webhook.is_some()) {
                // After a 101 the bytes pass uninspected: a tunnel past every rule.
                return Err(ctx.invalid(
                    format!("{key}.upgrade"),
                    "no upgrade on a route whose policy reads identity facts or verifies webhooks",
                    "upgrade = true",
                ));
            }
            Ok(Some(Route {
                name: RouteName::new(&r.name),
                methods,
                patterns,
                policy,
                exact: r.exact.unwrap_or(false),
                upgrade,
            }))
        })();
        match compiled {
            Ok(Some(route)) => routes.push(route),
            Ok(None) => {}
            Err(e) => ctx.report(e),
        }
    }
    // A default policy that is unknown was reported above; one that failed, with it.
    default_policy
        .map(|default_policy| RouteTable::new(routes, default_policy))
        .ok_or_else(ConfigError::already_reported)
}
