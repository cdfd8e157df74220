//! Helpers every part of the config compiler shares: the context that names the file in
//! errors and resolves relative paths, list files, durations and rates.

use crate::config::error::ConfigError;
use crate::config::file;
use crate::core::rules::rate::{RateScope, RateSpec};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) struct Ctx {
    pub(crate) file: PathBuf,
    pub(crate) base: PathBuf,
    /// Every file the config read besides itself (lists, secrets, certificates), for the
    /// reload watcher.
    pub(crate) read: std::cell::RefCell<Vec<PathBuf>>,
    /// Errors of sections that failed while the others were compiled on.
    pub(crate) errors: std::cell::RefCell<Vec<ConfigError>>,
    /// What `check` and `run` print about settings that work but should not stay.
    pub(crate) warnings: std::cell::RefCell<Vec<String>>,
    /// Offline commands: secrets are not read, a placeholder stands in (never served).
    pub(crate) skip_secrets: bool,
}

impl Ctx {
    pub(crate) fn new(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            base: file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            read: Default::default(),
            errors: Default::default(),
            warnings: Default::default(),
            skip_secrets: false,
        }
    }

    /// Note an error and go on compiling the other sections.
    pub(crate) fn report(&self, error: ConfigError) {
        self.errors.borrow_mut().push(error);
    }

    /// Note a warning about this file (prefixed with its name).
    pub(crate) fn warn(&self, text: impl std::fmt::Display) {
        self.warnings
            .borrow_mut()
            .push(format!("{}: {text}", self.file_display()));
    }

    /// The value of a section that compiled; `None` (the error noted) for one that did not.
    pub(crate) fn keep<T>(&self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|e| self.report(e)).ok()
    }

    /// Read a file the config names (already resolved), remembering it.
    pub(crate) fn read(&self, full: &Path) -> std::io::Result<Vec<u8>> {
        self.read.borrow_mut().push(full.to_path_buf());
        std::fs::read(full)
    }

    /// [`Ctx::read`], as UTF-8 text.
    pub(crate) fn read_text(&self, full: &Path) -> std::io::Result<String> {
        String::from_utf8(self.read(full)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    pub(crate) fn invalid(
        &self,
        key: impl Into<String>,
        expected: &str,
        found: impl ToString,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.clone(),
            key: key.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// A keyword setting: `text` must be one of `options`' names; `None` takes `default`.
    /// The error lists the names.
    pub(crate) fn choice<T: Copy>(
        &self,
        key: impl Into<String>,
        text: Option<&str>,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(text) = text else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
                self.invalid(key, &names.join(" or "), format!("{text:?}"))
            })
    }

    pub(crate) fn file_display(&self) -> std::path::Display<'_> {
        self.file.display()
    }

    pub(crate) fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }
}

/// Read a list given inline and in files (one entry a line, `#` starts a comment), handing
/// each entry to `add`, which says whether it was a valid `expected`.
pub(crate) fn read_list(
    ctx: &Ctx,
    prefix: &str,
    which: &str,
    (inline, files): (&[String], &[PathBuf]),
    expected: &str,
    mut add: impl FnMut(&str) -> bool,
) -> Result<(), ConfigError> {
    for (i, entry) in inline.iter().enumerate() {
        if !add(entry.trim()) {
            return Err(ctx.invalid(
                format!("{prefix}.{which}[{i}]"),
                expected,
                format!("{entry:?}"),
            ));
        }
    }
    for (i, path) in files.iter().enumerate() {
        let key = format!("{prefix}.{which}_files[{i}]");
        let full = ctx.resolve(path);
        let text = ctx.read_text(&full).map_err(|e| {
            ctx.invalid(
                &key,
                "a readable list file",
                format!("{} ({e})", full.display()),
            )
        })?;
        for (n, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if !entry.is_empty() && !add(entry) {
                return Err(ctx.invalid(
                    &key,
                    &format!("one {expected} a line"),
                    format!("{entry:?} at {} line {}", full.display(), n + 1),
                ));
            }
        }
    }
    Ok(())
}

/// What a rate limit counts: each client (its address, IPv6 per /64), or each client
/// network (IPv4 /24, IPv6 /48), unless the section sets its prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    PerClient,
    PerNetwork,
}

pub(crate) fn compile_rate_limit(
    ctx: &Ctx,
    key: &str,
    r: &file::RateLimitSection,
    counted: Counted,
) -> Result<RateSpec, ConfigError> {
    let requests = NonZeroU32::new(r.requests)
        .ok_or_else(|| ctx.invalid(format!("{key}.requests"), "a number >= 1", r.requests))?;
    let per = parse_duration(&r.per).ok_or_else(|| {
        ctx.invalid(
            format!("{key}.per"),
            "a duration such as \"1s\", \"10m\", \"1h\" or \"1d\"",
            format!("{:?}", r.per),
        )
    })?;
    let burst_value = r.burst.unwrap_or(r.requests);
    let burst = NonZeroU32::new(burst_value)
        .ok_or_else(|| ctx.invalid(format!("{key}.burst"), "a number >= 1", burst_value))?;
    let (ipv4_default, ipv6_default) = match counted {
        Counted::PerClient => (32, 64),
        Counted::PerNetwork => (24, 48),
    };
    let ipv4_prefix =
        match (counted, r.ipv4_prefix) {
            (_, None) => ipv4_default,
            (Counted::PerNetwork, Some(p)) if p <= 32 => p,
            (Counted::PerNetwork, Some(p)) => {
                return Err(ctx.invalid(
                    format!("{key}.ipv4_prefix"),
                    "a prefix length from 0 to 32",
                    p,
                ))
            }
            (Counted::PerClient, Some(_)) => return Err(ctx.invalid(
                format!("{key}.ipv4_prefix"),
                "no ipv4_prefix here (a client is its address; network_rate_limit counts networks)",
                "ipv4_prefix",
            )),
        };
    let ipv6_prefix = r.ipv6_prefix.unwrap_or(ipv6_default);
    if ipv6_prefix > 128 {
        return Err(ctx.invalid(
            format!("{key}.ipv6_prefix"),
            "a prefix length from 0 to 128",
            ipv6_prefix,
        ));
    }
    let max_keys = r.max_keys.unwrap_or(100_000);
    if max_keys == 0 {
        return Err(ctx.invalid(format!("{key}.max_keys"), "a number >= 1", 0));
    }
    let scopes: &[(&str, RateScope)] = match counted {
        Counted::PerClient => &[("local", RateScope::Local), ("shared", RateScope::Shared)],
        // A network's count is a flood brake, kept where it is cheapest.
        Counted::PerNetwork => &[("local", RateScope::Local)],
    };
    let scope = ctx.choice(
        format!("{key}.scope"),
        r.scope.as_deref(),
        RateScope::Local,
        scopes,
    )?;
    let spec = RateSpec {
        requests,
        per,
        burst,
        ipv4_prefix,
        ipv6_prefix,
        max_keys,
        scope,
    };
    match spec.replenish_interval() {
        Some(_) => Ok(spec),
        None => Err(ctx.invalid(
            key,
            "a rate of at most one request per nanosecond",
            format!("{} per {:?}", r.requests, r.per),
        )),
    }
}

/// A secret from the environment, a file (its last line break dropped) or, for demos, the
/// config itself (with a warning): exactly one of them.
pub(crate) fn load_secret(
    ctx: &Ctx,
    at: &str,
    source: &file::SecretSource,
) -> Result<String, ConfigError> {
    if ctx.skip_secrets {
        // Long enough for every minimum; random, so that nothing verifies against it.
        return Ok(format!(
            "offline-placeholder-{:032x}",
            rand::random::<u128>()
        ));
    }
    match (&source.env, &source.file, &source.value) {
        (Some(var), None, None) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ctx.invalid(
                    at,
                    &format!("the environment variable {var} to hold the secret"),
                    "it unset or empty",
                )
            }),
        (None, Some(path), None) => {
            let full = ctx.resolve(path);
            let text = ctx.read_text(&full).map_err(|e| {
                ctx.invalid(
                    at,
                    "a readable secret file",
                    format!("{} ({})", full.display(), e.kind()),
                )
            })?;
            Ok(text.trim_end_matches(['\n', '\r']).to_string())
        }
        (None, None, Some(value)) => {
            ctx.warn(format_args!(
                "{at}: a secret is written in the config file itself; use env or file outside demos"
            ));
            Ok(value.clone())
        }
        _ => Err(ctx.invalid(at, "exactly one of env, file or value", "none or several")),
    }
}

/// "500ms", "1s", "10m", "1h", "1d".
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// A PEM bundle of CA certificates named at `key`, read and checked at load.
pub(crate) fn trusted_ca(
    ctx: &Ctx,
    key: &str,
    file: &Path,
) -> Result<crate::config::TrustedCa, ConfigError> {
    let path = ctx.resolve(file);
    let pem = ctx.read(&path).map_err(|e| {
        ctx.invalid(
            key,
            "a readable PEM file",
            format!("{}: {e}", path.display()),
        )
    })?;
    let ca = crate::config::TrustedCa { path, pem };
    if ca.certificates_der().is_empty() {
        return Err(ctx.invalid(
            key,
            "PEM certificates (-----BEGIN CERTIFICATE-----)",
            ca.path.display(),
        ));
    }
    Ok(ca)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("1 week"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
