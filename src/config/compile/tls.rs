//! Compiling TLS settings: the certificate chain and key of a listener, read, parsed and
//! checked at load (both parse, and the key is the certificate's), so that `check` and a
//! reload catch a wrong file before a client does, and the listener serves what was parsed
//! here. Both files are watched: a renewed certificate is
//! served after the reload its change triggers.

use crate::config::error::ConfigError;
use crate::config::file;
use crate::config::shared::Ctx;
use crate::config::TlsIdentity;
use std::path::Path;

pub(super) fn tls_identity(
    ctx: &Ctx,
    at: &str,
    cert_file: &Path,
    key_file: &Path,
) -> Result<TlsIdentity, ConfigError> {
    let read = |key: &str, file: &Path| {
        let path = ctx.resolve(file);
        ctx.read(&path).map(|pem| (path.clone(), pem)).map_err(|e| {
            ctx.invalid(
                format!("{at}.{key}"),
                "a readable PEM file",
                format!("{} ({})", path.display(), e.kind()),
            )
        })
    };
    let (cert_file, cert_pem) = read("cert_file", cert_file)?;
    let (key_file, key_pem) = read("key_file", key_file)?;
    TlsIdentity::parse(cert_file, &cert_pem, key_file, &key_pem).map_err(|why| {
        ctx.invalid(
            format!("{at}.cert_file"),
            "a PEM certificate chain and the private key it was issued for",
            why,
        )
    })
}

/// `metrics.tls` / `admin.tls`.
pub(super) fn listener_tls(
    ctx: &Ctx,
    at: &str,
    section: Option<&file::TlsFilesSection>,
) -> Result<Option<TlsIdentity>, ConfigError> {
    section
        .map(|s| tls_identity(ctx, at, &s.cert_file, &s.key_file))
        .transpose()
}
