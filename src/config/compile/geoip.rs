//! `[geoip]`: the MaxMind database the geofences and country rules read.
//!
//! Checked here by its metadata alone (the file is memory-mapped, so only those pages are
//! read); the runtime opens it once for serving.

use super::super::error::ConfigError;
use super::super::file;
use super::super::shared::Ctx;
use super::super::GeoIpSettings;

pub(super) fn geoip(
    ctx: &Ctx,
    section: Option<&file::GeoIpSection>,
) -> Result<Option<GeoIpSettings>, ConfigError> {
    let Some(g) = section else {
        return Ok(None);
    };
    let full = ctx.resolve(&g.database);
    let db = maxminddb::Reader::open_mmap(&full).map_err(|e| {
        ctx.invalid(
            "geoip.database",
            "a readable MaxMind DB (.mmdb) file",
            format!("{} ({e})", full.display()),
        )
    })?;
    Ok(Some(GeoIpSettings {
        path: full,
        database_type: db.metadata.database_type.clone(),
    }))
}
