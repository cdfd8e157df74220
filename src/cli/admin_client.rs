//! The command line's client of the running gateway's admin API (`garita review`,
//! `garita block`, `garita reload`).
//!
//! The admin listener and a token come from the config file's `[admin]` table (the first
//! token, or the one `--token` names), so that the commands work the same on one node
//! with the embedded store (whose file the running gateway holds) and on several sharing
//! Redis. The API is on loopback or a management network: plain HTTP/1.1, one request; a
//! listener with `admin.tls` is for other clients (curl with the CA).
//!
//! Only the `[admin]` table is read, not the whole config: an operator calls these while
//! the rest of the file is being edited (the running gateway serves the version it
//! loaded), and a mistake elsewhere, even one that breaks the TOML, must not lock them out.

use crate::config::file::{AdminSection, AdminTokenSection};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the command line says about where to call: the config, the token's name, and an
/// address that overrides `admin.listen`.
#[derive(clap::Args)]
pub struct Target {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// The admin token to call with, by name (default: the first in [admin]).
    #[arg(long)]
    token: Option<String>,
    /// The admin API's address, when not the one admin.listen gives (0.0.0.0, port 0).
    #[arg(long = "admin")]
    addr: Option<SocketAddr>,
}

impl Target {
    pub(super) fn config(&self) -> &Path {
        &self.config
    }
}

/// Where the admin API is, and the token to call it with.
pub(super) struct Admin {
    addr: SocketAddr,
    token: String,
}

pub(super) fn admin(target: &Target) -> Result<Admin, String> {
    let (config, token_name) = (&target.config, target.token.as_deref());
    let section = admin_section(config)?.ok_or_else(|| {
        format!(
            "{}: no [admin] table: the gateway serves no admin API",
            config.display()
        )
    })?;
    if section.tls.is_some() {
        return Err(format!(
            "{}: the admin API is HTTPS (admin.tls); this command speaks plain HTTP on loopback: use curl with the CA",
            config.display()
        ));
    }
    let listen = section
        .listen
        .as_deref()
        .unwrap_or(crate::config::file::DEFAULT_ADMIN_LISTEN);
    let addr = match target.addr {
        Some(addr) => addr,
        None => listen
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("admin.listen: cannot resolve {listen:?}"))?,
    };
    let chosen: Option<&AdminTokenSection> = match token_name {
        Some(name) => section.tokens.iter().find(|t| t.name == name),
        None => section.tokens.first(),
    };
    let chosen = chosen.ok_or_else(|| match token_name {
        Some(name) => format!("admin.tokens: no token named {name:?}"),
        None => "admin.tokens: none configured".to_string(),
    })?;
    let base = config.parent().unwrap_or(Path::new("."));
    let token = match (&chosen.env, &chosen.file, &chosen.value) {
        (Some(var), _, _) => std::env::var(var)
            .map_err(|_| format!("the admin token's environment variable {var} is not set"))?,
        (_, Some(file), _) => std::fs::read_to_string(base.join(file))
            .map_err(|e| format!("the admin token's file {}: {e}", file.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        (_, _, Some(value)) => value.clone(),
        _ => return Err("the admin token has no env, file or value".into()),
    };
    Ok(Admin { addr, token })
}

/// The `[admin]` table of the config at `path`, read on its own: from the whole file when
/// it parses as TOML, else from the table's own lines (up to the next table that is not
/// one of its own), so that a file broken elsewhere still names the admin API.
pub(super) fn admin_section(path: &Path) -> Result<Option<AdminSection>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let table = match text.parse::<toml::Table>() {
        Ok(mut whole) => whole.remove("admin"),
        Err(_) => {
            let own = admin_lines(&text);
            if own.is_empty() {
                return Ok(None);
            }
            own.parse::<toml::Table>()
                .map_err(|e| format!("{}: the [admin] table: {e}", path.display()))?
                .remove("admin")
        }
    };
    table
        .map(|t| {
            t.try_into::<AdminSection>()
                .map_err(|e| format!("{}: the [admin] table: {e}", path.display()))
        })
        .transpose()
}

/// A string value `table.key` of the config `target` names, if the file parses and has it.
pub(super) fn config_value(target: &Target, table: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(&target.config).ok()?;
    let whole = text.parse::<toml::Table>().ok()?;
    whole.get(table)?.get(key)?.as_str().map(str::to_string)
}

/// The lines of the `[admin]` table and its sub-tables, from a file that may not parse.
fn admin_lines(text: &str) -> String {
    let mut inside = false;
    let mut out = String::new();
    for line in text.lines() {
        let head = line.trim_start();
        if head.starts_with('[') {
            let name = head.trim_start_matches('[').trim_start();
            inside = name.starts_with("admin]") || name.starts_with("admin.");
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One request to the admin API: the status and the JSON body.
pub(super) fn call(
    admin: &Admin,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, serde_json::Value), String> {
    let unreachable = |e: std::io::Error| format!("the admin API at {}: {e}", admin.addr);
    let mut stream =
        TcpStream::connect_timeout(&admin.addr, Duration::from_secs(5)).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(unreachable)?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        admin.addr,
        admin.token,
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(unreachable)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "the admin API answered something that is not HTTP".to_string())?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the admin API answered without a status".to_string())?;
    let json = serde_json::from_str(body.trim()).unwrap_or(serde_json::Value::Null);
    Ok((status, json))
}

pub(super) fn failure(status: u16, json: &serde_json::Value) -> String {
    let reason = json["error"].as_str().unwrap_or("no reason given");
    format!("the admin API refused ({status}): {reason}")
}
