//! What `garita check` prints: a configuration in a few lines a person reads, with spans
//! and rates in words (`10 per hour, burst 5`, `replays kept 30 days`), where each secret
//! comes from (never its value) and what a reload changes.

use super::{Config, StoreBackend};
use std::net::SocketAddr;
use std::time::Duration;

impl Config {
    /// Where the secret of the identity hashes comes from, in words.
    pub fn hash_key_source(&self) -> String {
        match (&self.identity.hash_key_env, &self.state.backend) {
            (Some(var), _) => format!("from the environment variable {var}"),
            (None, StoreBackend::Embedded { path }) => format!(
                "generated once and kept in the state file {} (hashes change if the file is lost)",
                path.display()
            ),
            (None, StoreBackend::Memory) => {
                "random at each start (memory store: nothing outlives the process)".to_string()
            }
            // Refused at load; not reached.
            (None, StoreBackend::Redis { .. }) => "none: Redis needs identity.hash_key_env".into(),
        }
    }

    /// A few lines on what this configuration does, for `garita check`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let join = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!("listen:    {}\n", join(&self.listen)));
        if let Some(tls) = &self.tls {
            out.push_str(&format!(
                "tls:       {} ({}{})\n",
                join(&tls.listen),
                tls.identity.cert_file.display(),
                if tls.http2 {
                    ", HTTP/2 and 1.1"
                } else {
                    ", HTTP/1.1"
                }
            ));
        }
        out.push_str(&format!("upstreams: {}", join(&self.upstream.addresses)));
        let health = &self.upstream.health;
        out.push_str(&match &health.path {
            Some(path) => format!(" (GET {path} every {})", human_duration(health.interval)),
            None => format!(" (TCP check every {})", human_duration(health.interval)),
        });
        if let Some(tls) = &self.upstream.tls {
            out.push_str(&format!(", TLS to {}", tls.server_name));
        }
        out.push('\n');
        if let Some(m) = self.metrics_listen {
            let scheme = if self.metrics_tls.is_some() {
                "https"
            } else {
                "http"
            };
            out.push_str(&format!("metrics:   {scheme}://{m}/metrics\n"));
        }
        if let Some(admin) = &self.admin {
            let scheme = if admin.tls.is_some() { "https" } else { "http" };
            let names: Vec<&str> = admin.tokens.iter().map(|t| &*t.name).collect();
            out.push_str(&format!(
                "admin:     {scheme}://{}/admin/ (tokens: {})\n",
                admin.listen,
                names.join(", ")
            ));
        }
        if let Some(geo) = &self.geoip {
            out.push_str(&format!("geoip:     {}\n", geo.database_type));
        }
        out.push_str(&format!("state:     {}\n", self.state.backend.describe()));
        out.push_str(&format!("hash key:  {}\n", self.hash_key_source()));
        if let Some(shadow) = &self.shadow {
            out.push_str(&format!(
                "shadow:    {} decided beside this config, no effect on answers (queue {})\n",
                shadow.path.display(),
                shadow.queue
            ));
        }
        if let Some(evidence) = &self.evidence {
            let capturing: Vec<&str> = self
                .policies
                .iter()
                .filter(|(_, p)| p.evidence.is_some())
                .map(|(_, p)| &*p.name)
                .collect();
            out.push_str(&format!(
                "evidence:  {} for policies {}, kept {} days, encrypted to {} recipient(s): {}\n",
                evidence.dir.display(),
                capturing.join(", "),
                evidence.retention_days,
                evidence.recipients.len(),
                evidence
                    .recipients
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&format!("routes:    {}\n", self.routes.routes().len()));
        let default = &self.policies[self.routes.default_policy()];
        out.push_str(&format!(
            "  default -> {} ({})\n",
            default.name,
            describe_policy(default)
        ));
        for route in self.routes.routes() {
            let policy = &self.policies[route.policy];
            let methods = route
                .methods
                .as_ref()
                .map_or("any method".to_string(), |m| {
                    let mut m = m.join(" ");
                    if m.split(' ').any(|x| x == "GET") {
                        m.push_str(" (and HEAD)");
                    }
                    m
                });
            let paths: Vec<String> = route.patterns.iter().map(|p| p.to_string()).collect();
            out.push_str(&format!(
                "  {} [{} {}] -> {} ({})\n",
                route.name,
                methods,
                paths.join(" "),
                policy.name,
                describe_policy(policy)
            ));
        }
        if !self.routes.routes().is_empty() {
            out.push_str(
                "  A path listed by a route belongs to it whatever the method: other methods get \
                 405 with an Allow header, never the default policy. To give one path different \
                 policies per method, list it in several routes; the first route whose path and \
                 method match wins.\n",
            );
        }
        let watching = match self.watch_interval {
            Some(every) => format!(
                ", or when one of the {} files it reads changes (checked every {})",
                self.files.len(),
                human_duration(every)
            ),
            None => String::new(),
        };
        out.push_str(&format!(
            "reload:    on SIGHUP or POST /admin/reload{watching}. Listeners (server.listen, \
             server.tls, metrics, admin), threads, connection caps and the decision log's \
             file take effect at the next start.\n"
        ));
        out
    }
}

/// A span as a person says it: `30 days`, `1 hour`, `90 seconds`.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        0 => return format!("{} ms", d.as_millis()),
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The window of a rate: `hour` for one hour, `10 minutes` otherwise.
pub(crate) fn per(d: Duration) -> String {
    let text = human_duration(d);
    text.strip_prefix("1 ").map_or(text.clone(), str::to_string)
}

fn describe_policy(policy: &crate::core::policy::Policy) -> String {
    let mut parts = Vec::new();
    if !policy.ip_block.is_empty() {
        parts.push(format!("{} blocked networks", policy.ip_block.len()));
    }
    if !policy.ip_allow.is_empty() {
        parts.push(format!("{} allow-listed networks", policy.ip_allow.len()));
    }
    if policy.geofence.is_some() {
        parts.push("geofence".to_string());
    }
    if let Some(spec) = &policy.rate_limit {
        parts.push(format!(
            "{} per {}, burst {}",
            spec.requests,
            per(spec.per),
            spec.burst
        ));
    }
    if let Some(spec) = &policy.network_rate_limit {
        parts.push(format!(
            "{} per {} from one network, burst {}",
            spec.requests,
            per(spec.per),
            spec.burst
        ));
    }
    if let Some(rules) = &policy.identity {
        parts.push(format!(
            "identity: {} block lists, {} limits, {} bindings, body up to {} bytes",
            rules.blocks.len(),
            rules.limits.len(),
            rules.bindings.len(),
            rules.max_body
        ));
        if let Some(risk) = &rules.risk {
            let shadow = risk
                .rules
                .iter()
                .filter(|r| r.mode == crate::core::decision::Mode::Shadow)
                .count();
            let deny = risk
                .thresholds
                .deny
                .map_or(String::new(), |d| format!(", deny at {d}"));
            parts.push(format!(
                "risk: {} rules ({shadow} in shadow), review at {}{deny}",
                risk.rules.len(),
                risk.thresholds.review,
            ));
        }
    }
    if let Some(webhook) = &policy.webhook {
        parts.push(format!(
            "webhook: {} with {} secret(s), replays kept {}",
            webhook.profile.name(),
            webhook.keys.len(),
            human_duration(webhook.replay_window)
        ));
    }
    if policy.on_store_error == crate::core::plan::OnStoreError::Open {
        parts.push("open when the store is down".to_string());
    }
    if policy.mode == crate::core::decision::Mode::Shadow {
        parts.push("SHADOW MODE".to_string());
    }
    if parts.is_empty() {
        "no rules".to_string()
    } else {
        parts.join("; ")
    }
}
