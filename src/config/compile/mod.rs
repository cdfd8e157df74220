//! From the file's structs to the gateway's types, checking every value on the way.
//!
//! One file per section, each with the same shape: the context (which file, where relative
//! paths start, the errors and warnings so far) and the raw section in, its settings or an
//! error out. [`compile_with`] calls them in the file's order and puts the [`Config`]
//! together. Every section is compiled even when an earlier one failed, so that `check`
//! reports every mistake it can find in one run; the errors are returned together at the
//! end. What spans sections (the hash key a shared store or a log file needs) is checked
//! here, after them.

mod admin;
mod client_ip;
mod code_life;
mod decision_log;
mod evidence;
mod geoip;
mod identity;
mod listeners;
mod policies;
mod review_events;
mod risk;
mod routes;
mod server;
mod shadow;
mod state;
mod tls;
mod upstream;
mod webhook;

pub use identity::MAX_BODY_LIMIT;

use super::error::ConfigError;
use super::file::FileConfig;
use super::shared::Ctx;
use super::{Config, LogTarget, StoreBackend};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

pub(super) fn compile(raw: FileConfig, path: &Path) -> Result<Config, ConfigError> {
    compile_with(raw, Ctx::new(path))
}

/// [`compile`] without reading webhook secrets and admin tokens (see `Config::load_offline`).
pub(super) fn compile_offline(raw: FileConfig, path: &Path) -> Result<Config, ConfigError> {
    let mut ctx = Ctx::new(path);
    ctx.skip_secrets = true;
    compile_with(raw, ctx)
}

/// Every section in the file's order, then what spans them, then the config.
fn compile_with(raw: FileConfig, ctx: Ctx) -> Result<Config, ConfigError> {
    let listeners = ctx.keep(listeners::listeners(&ctx, &raw));
    let server = ctx.keep(server::server(&ctx, &raw.server));
    let upstream = ctx.keep(upstream::upstream_settings(&ctx, &raw.upstream));
    let client_ip = ctx.keep(client_ip::client_ip(&ctx, &raw.client_ip));
    let decision_log = ctx.keep(decision_log::decision_log(&ctx, &raw.decision_log));
    // A database that failed its check still counts as configured: the policies that need
    // one are not reported a second time.
    let geoip = ctx.keep(geoip::geoip(&ctx, raw.geoip.as_ref()));
    let compiled = ctx.keep(policies::policies(&ctx, &raw, raw.geoip.is_some()));
    let routes = compiled
        .as_ref()
        .and_then(|compiled| ctx.keep(routes::routes(&ctx, &raw, compiled)));
    let identity = ctx.keep(identity::identity_settings(&ctx, &raw.identity));
    let state = ctx.keep(state::state_settings(&ctx, &raw.state));
    let review_events = ctx.keep(review_events::review_events(
        &ctx,
        raw.review_events.as_ref(),
    ));
    let shadow = ctx.keep(shadow::shadow(&ctx, raw.shadow.as_ref()));
    let evidence = ctx.keep(evidence::evidence(
        &ctx,
        raw.evidence.as_ref(),
        decision_log.as_ref().map(|d| &d.target),
    ));
    evidence_checks(&ctx, &raw, evidence.as_ref());
    hash_key_checks(
        &ctx,
        &raw,
        state.as_ref(),
        decision_log.as_ref(),
        compiled.as_ref(),
    );

    let errors = ctx.errors.take();
    let (
        false,
        Some(listeners),
        Some(server),
        Some(upstream),
        Some(client_ip),
        Some(decision_log),
        Some(geoip),
        Some(identity),
        Some(compiled),
        Some(state),
        Some(routes),
        Some(review_events),
        Some(shadow),
        Some(evidence),
    ) = (
        !errors.is_empty(),
        listeners,
        server,
        upstream,
        client_ip,
        decision_log,
        geoip,
        identity,
        compiled,
        state,
        routes,
        review_events,
        shadow,
        evidence,
    )
    else {
        return Err(ConfigError::all(errors));
    };

    let mut files = vec![ctx.file.clone()];
    files.extend(ctx.read.take());
    files.extend(geoip.as_ref().map(|g| g.path.clone()));
    files.dedup();
    Ok(Config {
        source: ctx.file.clone(),
        digest: String::new(),
        files,
        listen: listeners.listen,
        threads: server.threads,
        grace_period_seconds: server.grace_period_seconds,
        upgrade_socket: server.upgrade_socket,
        watch_interval: server.watch_interval,
        max_header_bytes: server.max_header_bytes,
        keep_underscore_headers: server.keep_underscore_headers,
        read_buffer_bytes: server.read_buffer_bytes,
        connections: server.connections,
        upstream,
        client_ip,
        metrics_listen: listeners.metrics,
        metrics_tls: listeners.metrics_tls,
        metrics_connections: listeners.metrics_connections,
        tls: listeners.tls,
        admin: listeners.admin,
        decision_log: decision_log.target,
        decision_log_rotation: decision_log.rotation,
        routes,
        policies: compiled.policies,
        geoip,
        identity,
        state,
        review_events,
        shadow,
        evidence,
        warnings: ctx.warnings.take(),
    })
}

/// The keyed identifier hashes' secret (`identity.hash_key_env`) where other sections need
/// it to be one the operator keeps: instances sharing Redis must agree on their keys, and
/// a decision log file is evidence whose hashes must stay joinable for a year.
fn hash_key_checks(
    ctx: &Ctx,
    raw: &FileConfig,
    state: Option<&super::StateSettings>,
    decision_log: Option<&decision_log::DecisionLogSettings>,
    compiled: Option<&policies::CompiledPolicies>,
) {
    if raw.identity.hash_key_env.is_some() {
        return;
    }
    let backend = state.map(|s| &s.backend);
    let reads_identities =
        compiled.is_some_and(|c| c.policies.iter().any(|(_, p)| p.identity.is_some()));
    if matches!(backend, Some(StoreBackend::Redis { .. })) {
        ctx.report(ctx.invalid(
            "identity.hash_key_env",
            "a secret shared by every instance on the same Redis (their keys must agree)",
            "none",
        ));
    }
    // A replay of the log must reproduce its hashes, too.
    if reads_identities && decision_log.is_some_and(|d| matches!(d.target, LogTarget::File(_))) {
        ctx.report(ctx.invalid(
            "identity.hash_key_env",
            "a secret for the keyed identifier hashes, which a decision log file keeps as evidence",
            "none",
        ));
    }
    if reads_identities && backend == Some(&StoreBackend::Memory) {
        ctx.warn("identity.hash_key_env is not set: identifier hashes in the decision log change at every start");
    }
}

/// A capture needs `[evidence]` (where, to whom), and the index's keyed hashes a key the
/// operator keeps; `[evidence]` with no policy capturing is said, not refused.
fn evidence_checks(
    ctx: &Ctx,
    raw: &FileConfig,
    evidence: Option<&Option<super::EvidenceSettings>>,
) {
    let capturing: Vec<&String> = raw
        .policies
        .iter()
        .filter(|(_, p)| p.evidence.is_some())
        .map(|(name, _)| name)
        .collect();
    match (capturing.first(), raw.evidence.is_some()) {
        (Some(name), false) => ctx.report(ctx.invalid(
            format!("policies.{name}.evidence"),
            "an [evidence] section naming the recipients the records are encrypted to",
            "none",
        )),
        (None, true) => {
            ctx.warn("[evidence] is set but no policy has an evidence table: nothing is captured")
        }
        _ => {}
    }
    if !capturing.is_empty()
        && raw.identity.hash_key_env.is_none()
        && evidence.is_some_and(Option::is_some)
    {
        ctx.report(ctx.invalid(
            "identity.hash_key_env",
            "a secret for the keyed hashes that index the evidence (they must match for a year)",
            "none",
        ));
    }
}

fn socket_addr(ctx: &Ctx, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ctx.invalid(key, "host:port (e.g. 127.0.0.1:8080)", format!("{text:?}")))
}
