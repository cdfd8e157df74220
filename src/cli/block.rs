//! `garita block add|list|remove` and `garita reload`: the runtime block list and a config
//! reload, through the running gateway's admin API ([`super::admin_client`]).
//!
//! A block names a DNI, email, phone, account or device in clear on the command line; the
//! gateway hashes it as its rules do and keeps only the hash, which is what `list` shows.
//! `remove` takes the value again or a hash from `list`.

use super::admin_client::{admin, call, failure, Target};
use serde_json::Value;

fn when(since: &Value) -> String {
    since
        .as_i64()
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or("?".to_string(), |t| t.to_string())
}

/// A block as one line: fact, hash, since, by, reason.
fn line(block: &Value) -> String {
    let reason = block["reason"]
        .as_str()
        .map_or(String::new(), |r| format!("  ({r})"));
    format!(
        "{} {}  since {}  by {}{reason}",
        block["fact"].as_str().unwrap_or("?"),
        block["hash"].as_str().unwrap_or("?"),
        when(&block["since"]),
        block["by"]
            .as_str()
            .filter(|b| !b.is_empty())
            .unwrap_or("?"),
    )
}

/// `garita block add FACT VALUE [--reason TEXT]`.
pub fn add(
    target: &Target,
    fact: &str,
    value: &str,
    reason: Option<&str>,
) -> Result<String, String> {
    let admin = admin(target)?;
    let body = serde_json::json!({ "fact": fact, "value": value, "reason": reason }).to_string();
    let (status, answer) = call(&admin, "POST", "/admin/blocks", Some(&body))?;
    match status {
        201 | 200 => {
            let mut out = String::new();
            for block in answer["added"].as_array().into_iter().flatten() {
                out.push_str(&format!("blocked {}\n", line(block)));
            }
            for block in answer["already_blocked"].as_array().into_iter().flatten() {
                out.push_str(&format!("already blocked {}\n", line(block)));
            }
            Ok(out)
        }
        _ => Err(failure(status, &answer)),
    }
}

/// `garita block list`.
pub fn list(target: &Target, json: bool) -> Result<String, String> {
    let admin = admin(target)?;
    let (status, answer) = call(&admin, "GET", "/admin/blocks", None)?;
    if status != 200 {
        return Err(failure(status, &answer));
    }
    if json {
        return Ok(format!("{answer}\n"));
    }
    let blocks = answer["blocks"].as_array().cloned().unwrap_or_default();
    if blocks.is_empty() {
        return Ok("nothing blocked\n".to_string());
    }
    Ok(blocks.iter().map(|b| line(b) + "\n").collect())
}

/// Whether `text` is a block's hash as `list` shows it (32 hex digits), not a value.
fn is_hash(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `garita block remove FACT VALUE|HASH`: the value in clear (hashed by the gateway, as
/// `add` does) or a hash from `list`.
pub fn remove(target: &Target, fact: &str, value_or_hash: &str) -> Result<String, String> {
    let admin = admin(target)?;
    let (status, answer) = if is_hash(value_or_hash) {
        call(
            &admin,
            "DELETE",
            &format!("/admin/blocks/{fact}/{value_or_hash}"),
            None,
        )?
    } else {
        let body = serde_json::json!({ "fact": fact, "value": value_or_hash }).to_string();
        call(&admin, "DELETE", "/admin/blocks", Some(&body))?
    };
    match status {
        200 => Ok(answer["removed"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                format!(
                    "unblocked {} {}\n",
                    r["fact"].as_str().unwrap_or(fact),
                    r["hash"].as_str().unwrap_or("?")
                )
            })
            .collect()),
        _ => Err(failure(status, &answer)),
    }
}

/// `garita reload`: the running gateway reads its config again.
pub fn reload(target: &Target) -> Result<String, String> {
    let admin = admin(target)?;
    let (status, answer) = call(&admin, "POST", "/admin/reload", None)?;
    match status {
        200 => {
            let waiting: Vec<&str> = answer["restart_needed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut out = "configuration reloaded\n".to_string();
            for key in waiting {
                out.push_str(&format!(
                    "{key} changed: it takes effect at the next restart\n"
                ));
            }
            Ok(out)
        }
        422 => Err(format!(
            "the new configuration was refused, the running one stays: {}",
            answer["why"].as_str().unwrap_or("no reason given")
        )),
        _ => Err(failure(status, &answer)),
    }
}
