//! `[shadow]`: a proposed config decided beside the live one. It must load (offline: its
//! secrets are not read) and be another file than the live config; its text's digest
//! tells a reload whether the shadow's counters may be kept.

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use super::super::ShadowSettings;

/// Requests waiting for the shadow at most, by default.
const DEFAULT_QUEUE: usize = 4096;

pub(super) fn shadow(
    ctx: &Ctx,
    section: Option<&file::ShadowSection>,
) -> Result<Option<ShadowSettings>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let path = ctx.resolve(&section.config);
    if path == ctx.file {
        return Err(ctx.invalid(
            "shadow.config",
            "another config file than this one",
            format!("{:?}", section.config.display().to_string()),
        ));
    }
    let queue = section.queue.unwrap_or(DEFAULT_QUEUE);
    if queue == 0 {
        return Err(ctx.invalid("shadow.queue", "a number >= 1", 0));
    }
    let max_cpu_percent = section.max_cpu_percent.unwrap_or(10);
    if !(1..=100).contains(&max_cpu_percent) {
        return Err(ctx.invalid("shadow.max_cpu_percent", "1 to 100", max_cpu_percent));
    }
    // Read through the context, so that a change to the proposal reloads.
    let _ = ctx.read(&path);
    let mut settings = ShadowSettings {
        path,
        digest: String::new(),
        queue,
        max_cpu_percent,
    };
    let compiled = settings.load().map_err(|e| {
        ctx.invalid(
            "shadow.config",
            "a config garita can load",
            format!("{}: {e}", settings.path.display()),
        )
    })?;
    settings.digest = compiled.digest;
    Ok(Some(settings))
}
