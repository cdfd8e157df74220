//! `garita status` and `garita quota reset`: a running gateway at a glance, and a support
//! action on one identity's quotas, through its admin API ([`super::admin_client`]).

use super::admin_client::{admin, call, failure, Target};
use serde_json::Value;

fn or_dash(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn when(unix: &Value) -> String {
    unix.as_i64()
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or("-".to_string(), |t| {
            t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
        })
}

/// `garita status [--json]`.
pub fn status(target: &Target, json: bool) -> Result<String, String> {
    let admin = admin(target)?;
    let (code, s) = call(&admin, "GET", "/admin/status", None)?;
    if code != 200 {
        return Err(failure(code, &s));
    }
    if json {
        return Ok(format!("{s}\n"));
    }
    let mut out = format!("garita {}\n", or_dash(&s["version"]));
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(or_dash).collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "-".to_string())
    };
    let l = &s["listeners"];
    out.push_str(&format!(
        "listeners:  proxy {}; tls {}; metrics {}; admin {}\n",
        list(&l["proxy"]),
        list(&l["proxy_tls"]),
        or_dash(&l["metrics"]),
        or_dash(&l["admin"])
    ));
    let c = &s["config"];
    let digest = or_dash(&c["digest"]);
    out.push_str(&format!(
        "config:     {} (sha256 {})\n",
        or_dash(&c["file"]),
        &digest[..digest.len().min(16)]
    ));
    let r = &c["last_reload"];
    out.push_str(&match r {
        Value::Null => "reload:     none since start\n".to_string(),
        r => format!(
            "reload:     {} at {} ({}, by {}){}\n",
            if r["ok"] == true { "took" } else { "FAILED" },
            when(&r["at"]),
            or_dash(&r["trigger"]),
            or_dash(&r["by"]),
            r["why"]
                .as_str()
                .map_or(String::new(), |w| format!(": {w}"))
        ),
    });
    let st = &s["store"];
    out.push_str(&format!(
        "store:      {} {}, {} entries\n",
        or_dash(&st["backend"]),
        if st["up"] == true {
            "answering"
        } else {
            "NOT ANSWERING"
        },
        or_dash(&st["entries"])
    ));
    let ups: Vec<String> = s["upstreams"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            format!(
                "{} {}",
                or_dash(&u["address"]),
                if u["up"] == true { "up" } else { "DOWN" }
            )
        })
        .collect();
    out.push_str(&format!("upstreams:  {}\n", ups.join(", ")));
    out.push_str(&format!(
        "reviews:    {} waiting (oldest {} s)\n",
        or_dash(&s["reviews_waiting"]),
        or_dash(&s["oldest_review_waiting_seconds"])
    ));
    out.push_str(&format!("blocks:     {} held\n", or_dash(&s["blocks"])));
    let recent = &s["recent_decisions"];
    let counts: Vec<String> = recent["by_decision"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(label, n)| format!("{label} {n}"))
        .collect();
    out.push_str(&format!(
        "decisions:  {} in the last {} s\n",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        or_dash(&recent["seconds"])
    ));
    Ok(out)
}

/// `garita quota reset FACT VALUE`: the identity's quota counters start again.
pub fn reset_quota(target: &Target, fact: &str, value: &str) -> Result<String, String> {
    let admin = admin(target)?;
    let body = serde_json::json!({ "fact": fact, "value": value }).to_string();
    let (code, answer) = call(&admin, "POST", "/admin/quotas/reset", Some(&body))?;
    match code {
        200 => Ok(format!(
            "{fact}: {} counter(s) reset\n",
            or_dash(&answer["reset"])
        )),
        _ => Err(failure(code, &answer)),
    }
}
