//! `garita review list` and `garita review resolve`: the review queue, through the running
//! gateway's admin API.
//!
//! The admin listener and a token come from the config file's `[admin]` table (the first
//! token, or the one `--token` names), so that the command works the same on one node
//! with the embedded store (whose file the running gateway holds) and on several sharing
//! Redis. The API is on loopback or a management network: plain HTTP/1.1, one request.

use crate::config::file::{AdminTokenSection, FileConfig};
use crate::config::read_file_config;
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

/// Where the admin API is, and the token to call it with.
struct Admin {
    addr: SocketAddr,
    token: String,
}

fn admin(target: &Target) -> Result<Admin, String> {
    let (config, token_name) = (&target.config, target.token.as_deref());
    let raw: FileConfig = read_file_config(config).map_err(|e| e.to_string())?;
    let section = raw.admin.ok_or_else(|| {
        format!(
            "{}: no [admin] table: the gateway serves no admin API",
            config.display()
        )
    })?;
    let addr = match target.addr {
        Some(addr) => addr,
        None => section
            .listen
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("admin.listen: cannot resolve {:?}", section.listen))?,
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

/// One request to the admin API: the status and the JSON body.
fn call(
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

fn failure(status: u16, json: &serde_json::Value) -> String {
    let reason = json["error"].as_str().unwrap_or("no reason given");
    format!("the admin API refused ({status}): {reason}")
}

/// A review as one line: id, time, route, amount, score, reasons.
fn line(review: &serde_json::Value) -> String {
    let at = review["at"]
        .as_i64()
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or("?".to_string(), |t| t.to_string());
    let amount = match (review["amount"].as_str(), review["currency"].as_str()) {
        (Some(a), Some(c)) => format!("{a} {c}"),
        _ => "-".to_string(),
    };
    let score = review["score"]
        .as_u64()
        .map_or("-".to_string(), |s| s.to_string());
    let reasons: Vec<&str> = review["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let resolution = match review["resolution"]["outcome"].as_str() {
        Some(outcome) => format!(
            "  [{outcome} by {}]",
            review["resolution"]["by"].as_str().unwrap_or("?")
        ),
        None => String::new(),
    };
    format!(
        "{}  {at}  {}  {amount}  score {score}  {}{resolution}",
        review["id"].as_str().unwrap_or("?"),
        review["route"].as_str().unwrap_or("?"),
        reasons.join(", ")
    )
}

/// `garita review list`: the queue, one line a review (or the JSON with `json`).
pub fn list(target: &Target, all: bool, json: bool) -> Result<String, String> {
    let admin = admin(target)?;
    let path = if all {
        "/admin/reviews?all=true"
    } else {
        "/admin/reviews"
    };
    let (status, answer) = call(&admin, "GET", path, None)?;
    if status != 200 {
        return Err(failure(status, &answer));
    }
    if json {
        return Ok(format!("{answer}\n"));
    }
    let reviews = answer["reviews"].as_array().cloned().unwrap_or_default();
    if reviews.is_empty() {
        return Ok("no reviews waiting\n".to_string());
    }
    Ok(reviews.iter().map(|r| line(r) + "\n").collect())
}

/// `garita review resolve ID approved|fraud`.
pub fn resolve(target: &Target, id: &str, outcome: &str) -> Result<String, String> {
    if !matches!(outcome, "approved" | "fraud") {
        return Err(format!("the outcome is approved or fraud, not {outcome:?}"));
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{id:?} is not a review id"));
    }
    let admin = admin(target)?;
    let body = serde_json::json!({ "outcome": outcome }).to_string();
    let (status, answer) = call(&admin, "POST", &format!("/admin/reviews/{id}"), Some(&body))?;
    match status {
        200 => {
            let review = &answer["review"];
            let blocked = if outcome == "fraud" {
                "; its identity keys are blocked"
            } else {
                ""
            };
            Ok(format!(
                "resolved as {outcome}{blocked}\n{}\n",
                line(review)
            ))
        }
        _ => Err(failure(status, &answer)),
    }
}
