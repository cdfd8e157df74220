//! `garita init --dir /etc/garita`: a starter installation that the shipped systemd unit
//! starts as it is.
//!
//! It writes the example config for a shop selling into Peru (`conf/garita.toml`) set up
//! for production: the decision log as a file in the log directory (the audit trail), the
//! embedded state in the state directory, the upgrade socket in the runtime directory, the
//! admin API on loopback, identifiers hashed with a key from the environment; beside it
//! the list files it reads, a GeoIP database (the one `--geoip` names, or the small test
//! database with a warning to replace it), and `garita.env` with fresh random secrets
//! (hash key, admin token) and a placeholder for the merchant's PagoEfectivo secret,
//! which until replaced makes every notification fail verification (401), never pass.
//!
//! Permissions are those the unit needs: the unit runs as a dynamic user, so the directory
//! and everything but `garita.env` are world-readable (they hold no secret); `garita.env`
//! is 0600, read by systemd as root for `EnvironmentFile=`. Existing files are never
//! overwritten.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub(crate) const EXAMPLE: &str = include_str!("../../conf/garita.toml");
pub(crate) const TEST_GEOIP: &[u8] = include_bytes!("../../geoip/test-country.mmdb");
pub(crate) const LISTS: [(&str, &str); 4] = [
    (
        "blocked-dni.txt",
        include_str!("../../conf/lists/blocked-dni.txt"),
    ),
    (
        "blocked-email.txt",
        include_str!("../../conf/lists/blocked-email.txt"),
    ),
    (
        "blocked-networks.txt",
        include_str!("../../conf/lists/blocked-networks.txt"),
    ),
    ("office.txt", include_str!("../../conf/lists/office.txt")),
];

/// Where the installation puts things.
pub struct Layout {
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub run_dir: PathBuf,
    pub geoip: Option<PathBuf>,
}

/// The example config with the production settings of `layout`: each replacement must
/// find its line, so that a change to the example cannot silently skip one.
fn starter_config(layout: &Layout) -> Result<String, String> {
    let path = |p: &Path| format!("{:?}", p.display().to_string());
    let replacements = [
        (
            "path = \"-\"\n",
            format!("path = {}\n", path(&layout.log_dir.join("decisions.jsonl"))),
        ),
        (
            "# upgrade_socket = \"/run/garita/upgrade.sock\"",
            format!(
                "upgrade_socket = {}",
                path(&layout.run_dir.join("upgrade.sock"))
            ),
        ),
        (
            "database = \"../geoip/test-country.mmdb\"",
            "database = \"country.mmdb\"".to_string(),
        ),
        (
            "# hash_key_env = \"GARITA_HASH_KEY\"",
            "hash_key_env = \"GARITA_HASH_KEY\"".to_string(),
        ),
        ("# [admin]\n", "[admin]\n".to_string()),
        (
            "# tokens = [{ name = \"ops\", env = \"GARITA_ADMIN_TOKEN\" }]",
            "tokens = [{ name = \"ops\", env = \"GARITA_ADMIN_TOKEN\" }]".to_string(),
        ),
        (
            "# path = \"/var/lib/garita/state.redb\"",
            format!("path = {}", path(&layout.state_dir.join("state.redb"))),
        ),
    ];
    let mut text = EXAMPLE.replacen(
        "# garita: an example configuration for a shop that sells into Peru.",
        "# garita: a starter configuration for a shop that sells into Peru (garita init).",
        1,
    );
    for (from, to) in replacements {
        if !text.contains(from) {
            return Err(format!("the example config has no line {from:?} to set up"));
        }
        text = text.replacen(from, &to, 1);
    }
    Ok(text)
}

/// 32 random bytes as hex: a secret for `garita.env`.
fn secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn write_new(path: &Path, content: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!(
                    "{} exists already: garita init overwrites nothing",
                    path.display()
                )
            }
            _ => format!("{}: {e}", path.display()),
        })?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(content))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Write the installation; what was written and what is left to do, as text.
pub fn run(layout: &Layout) -> Result<String, String> {
    let config = starter_config(layout)?;
    let geoip = match &layout.geoip {
        Some(file) => fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?,
        None => TEST_GEOIP.to_vec(),
    };
    let dir = &layout.dir;
    fs::create_dir_all(dir.join("lists")).map_err(|e| format!("{}: {e}", dir.display()))?;
    for d in [dir.clone(), dir.join("lists")] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", d.display()))?;
    }
    write_new(&dir.join("garita.toml"), config.as_bytes(), 0o644)?;
    for (name, text) in LISTS {
        write_new(&dir.join("lists").join(name), text.as_bytes(), 0o644)?;
    }
    write_new(&dir.join("country.mmdb"), &geoip, 0o644)?;
    let env = format!(
        "# Secrets for garita (systemd reads this file as root: EnvironmentFile=). Mode 0600.\n\
         # The key of the identifier hashes in the store and the audit trail: keep it, or old\n\
         # logs and state no longer match new requests.\n\
         GARITA_HASH_KEY={}\n\
         # The admin API's token (garita review, block, reload, status use it).\n\
         GARITA_ADMIN_TOKEN={}\n\
         # REPLACE with the merchant secret key from PagoEfectivo: until then every\n\
         # notification fails verification (401) and none reaches the shop.\n\
         PAGOEFECTIVO_WEBHOOK_SECRET=replace-me-{}\n",
        secret(),
        secret(),
        secret()
    );
    write_new(&dir.join("garita.env"), env.as_bytes(), 0o600)?;

    let mut out = format!(
        "wrote {0}/garita.toml, {0}/lists/, {0}/country.mmdb and {0}/garita.env (0600)\n",
        dir.display()
    );
    if layout.geoip.is_none() {
        out.push_str(
            "warning: country.mmdb is garita's small TEST database: replace it with a GeoLite2/GeoIP2 Country database (garita init --geoip FILE), or every real client is country_unknown\n",
        );
    }
    out.push_str(&format!(
        "next: put the merchant's PagoEfectivo secret in {}/garita.env, set upstream.addresses and client_ip.trusted_proxies in garita.toml, then\n  garita check --config {}/garita.toml\n",
        dir.display(),
        dir.display()
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_production_setting_finds_its_line_in_the_example() {
        let layout = Layout {
            dir: "/etc/garita".into(),
            state_dir: "/var/lib/garita".into(),
            log_dir: "/var/log/garita".into(),
            run_dir: "/run/garita".into(),
            geoip: None,
        };
        let text = starter_config(&layout).unwrap();
        assert!(text.contains("path = \"/var/log/garita/decisions.jsonl\""));
        assert!(text.contains("path = \"/var/lib/garita/state.redb\""));
        assert!(text.contains("upgrade_socket = \"/run/garita/upgrade.sock\""));
        assert!(text.contains("\n[admin]\n"));
        assert!(text.contains("\nhash_key_env = \"GARITA_HASH_KEY\""));
    }
}
