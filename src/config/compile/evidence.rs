//! `[evidence]` and `[policies.NAME.evidence]`: where the exchanges a policy captures are
//! kept (day files beside the decision log by default), the age public keys they are
//! encrypted to, how long they stay; and what each policy keeps. A capture needs the
//! section and at least one recipient, and the section alone captures nothing.

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use super::super::{EvidenceSettings, LogTarget};
use crate::core::evidence::{EvidenceCapture, MAX_BODY_LIMIT};
use std::path::Path;

/// Records waiting for the writer at most, by default.
const DEFAULT_QUEUE: usize = 1024;
/// What a policy keeps of each body, by default.
const DEFAULT_MAX_BODY: usize = 64 << 10;

/// A policy's `evidence` table.
pub(super) fn capture(
    ctx: &Ctx,
    key: &str,
    section: &file::PolicyEvidenceSection,
) -> Result<EvidenceCapture, ConfigError> {
    let max_body = section.max_body.unwrap_or(DEFAULT_MAX_BODY);
    if !(1..=MAX_BODY_LIMIT).contains(&max_body) {
        return Err(ctx.invalid(format!("{key}.max_body"), "bytes, 1 to 1048576", max_body));
    }
    let omit = section
        .omit_headers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes())
                .map_err(|_| ctx.invalid(format!("{key}.omit_headers[{i}]"), "a header name", name))
        })
        .collect::<Result<_, _>>()?;
    let (request, response) = (
        section.request.unwrap_or(true),
        section.response.unwrap_or(true),
    );
    if !request && !response {
        return Err(ctx.invalid(
            format!("{key}.request"),
            "request or response (or both) kept; remove the table to keep nothing",
            "both false",
        ));
    }
    Ok(EvidenceCapture {
        request,
        response,
        max_body,
        omit,
    })
}

/// The `[evidence]` section; `log` is where the decision log goes (the default directory
/// is beside it).
pub(super) fn evidence(
    ctx: &Ctx,
    section: Option<&file::EvidenceSection>,
    log: Option<&LogTarget>,
) -> Result<Option<EvidenceSettings>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let dir = match (&section.dir, log) {
        (Some(dir), _) => ctx.resolve(dir),
        (None, Some(LogTarget::File(path))) => path
            .parent()
            .unwrap_or(Path::new("."))
            .join("evidence"),
        (None, _) => {
            return Err(ctx.invalid(
                "evidence.dir",
                "a directory (the decision log goes to standard output, so there is no default beside it)",
                "none",
            ))
        }
    };
    if dir
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        ctx.report(ctx.invalid(
            "evidence.dir",
            "a directory whose parent exists",
            dir.display(),
        ));
    }
    let mut keys: Vec<(String, String)> = section
        .recipients
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("evidence.recipients[{i}]"), k.trim().to_string()))
        .collect();
    if let Some(file) = &section.recipients_file {
        let full = ctx.resolve(file);
        let text = ctx.read_text(&full).map_err(|e| {
            ctx.invalid(
                "evidence.recipients_file",
                "a readable file of age public keys",
                format!("{}: {e}", full.display()),
            )
        })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .enumerate()
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
                .map(|(n, l)| {
                    (
                        format!("evidence.recipients_file line {}", n + 1),
                        l.to_string(),
                    )
                }),
        );
    }
    let mut recipients = Vec::new();
    for (key, text) in keys {
        match text.parse::<age::x25519::Recipient>() {
            Ok(r) => recipients.push(r),
            Err(_) => ctx.report(ctx.invalid(
                key,
                "an age X25519 public key (age1...; age-keygen -y prints one)",
                format!("{text:?}"),
            )),
        }
    }
    if recipients.is_empty() && section.recipients_file.is_none() {
        return Err(ctx.invalid(
            "evidence.recipients",
            "at least one age public key: the records are encrypted to it",
            "none",
        ));
    }
    let retention_days = section.retention_days.unwrap_or(400);
    if retention_days == 0 {
        ctx.report(ctx.invalid("evidence.retention_days", "a number of days >= 1", 0));
    }
    let queue = section.queue.unwrap_or(DEFAULT_QUEUE);
    if queue == 0 {
        ctx.report(ctx.invalid("evidence.queue", "a number >= 1", 0));
    }
    Ok(Some(EvidenceSettings {
        dir,
        recipients,
        retention_days,
        queue,
    }))
}
