//! `garita review list` and `garita review resolve`: the review queue, through the running
//! gateway's admin API ([`super::admin_client`]).

use super::admin_client::{admin, call, failure, Target};

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
