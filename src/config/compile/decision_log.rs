//! `[decision_log]`: where the decision log goes (standard output or a file) and, for a
//! file, its daily rotation, compression and retention (the audit trail's year).

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use super::super::{LogRotation, LogTarget};
use std::path::Path;

/// `[decision_log]`, compiled.
pub(super) struct DecisionLogSettings {
    pub target: LogTarget,
    /// `None` for standard output or `rotate = "never"`.
    pub rotation: Option<LogRotation>,
}

pub(super) fn decision_log(
    ctx: &Ctx,
    log: &file::DecisionLogSection,
) -> Result<DecisionLogSettings, ConfigError> {
    let target = match log.path.as_deref() {
        None => LogTarget::Stdout,
        Some(p) if p == Path::new("-") => LogTarget::Stdout,
        Some(p) => {
            let full = ctx.resolve(p);
            let dir_ok = full
                .parent()
                .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
            if !dir_ok {
                ctx.report(ctx.invalid(
                    "decision_log.path",
                    "a file in an existing directory, or \"-\" for standard output",
                    full.display(),
                ));
            }
            LogTarget::File(full)
        }
    };
    let rotate = ctx
        .keep(ctx.choice(
            "decision_log.rotate",
            log.rotate.as_deref(),
            true,
            &[("daily", true), ("never", false)],
        ))
        .unwrap_or(true);
    let retention_days = log.retention_days.unwrap_or(400);
    if retention_days == 0 {
        ctx.report(ctx.invalid("decision_log.retention_days", "a number of days >= 1", 0));
    }
    let rotation = match &target {
        LogTarget::File(_) if rotate => Some(LogRotation {
            compress: log.compress.unwrap_or(true),
            retention_days,
        }),
        _ => None,
    };
    Ok(DecisionLogSettings { target, rotation })
}
