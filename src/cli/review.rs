//! `garita review list` and `garita review resolve`: the review queue, through the running
//! gateway's admin API ([`super::admin_client`]).

use super::admin_client::{admin, call, failure, Target};

/// The column heads of [`line`].
fn header(zone: &jiff::tz::TimeZone) -> String {
    let local = format!("AT ({})", zone.iana_name().unwrap_or("local"));
    format!(
        "{:<32}  {:<19}  {:<20}  {:<12}  {:>14}  {:>5}  REASONS\n",
        "ID", local, "UTC", "ROUTE", "AMOUNT", "SCORE"
    )
}

/// A review as one line: id, time in the shop's zone and in UTC, route, amount, score,
/// reasons and, once resolved, the outcome.
fn line(review: &serde_json::Value, zone: &jiff::tz::TimeZone) -> String {
    let at = review["at"]
        .as_i64()
        .and_then(|t| jiff::Timestamp::from_second(t).ok());
    let local = at.map_or("?".to_string(), |t| {
        t.to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    });
    let utc = at.map_or("?".to_string(), |t| {
        t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
    });
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
        "{:<32}  {local:<19}  {utc:<20}  {:<12}  {amount:>14}  {score:>5}  {}{resolution}",
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
    let zone = shop_zone(target);
    let mut out = header(&zone);
    for review in &reviews {
        out.push_str(&line(review, &zone));
        out.push('\n');
    }
    Ok(out)
}

/// The shop's time zone, `identity.time_zone` (America/Lima when the file does not say or
/// does not parse).
fn shop_zone(target: &Target) -> jiff::tz::TimeZone {
    let name = super::admin_client::config_value(target, "identity", "time_zone")
        .unwrap_or_else(|| "America/Lima".to_string());
    jiff::tz::TimeZone::get(&name).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// `garita review resolve ID approved|fraud [--block FACTS]`.
pub fn resolve(
    target: &Target,
    id: &str,
    outcome: &str,
    block: Option<&[String]>,
) -> Result<String, String> {
    if !matches!(outcome, "approved" | "fraud") {
        return Err(format!("the outcome is approved or fraud, not {outcome:?}"));
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{id:?} is not a review id"));
    }
    let admin = admin(target)?;
    let mut body = serde_json::json!({ "outcome": outcome });
    if let Some(facts) = block {
        body["block"] = serde_json::json!(facts);
    }
    let body = body.to_string();
    let (status, answer) = call(&admin, "POST", &format!("/admin/reviews/{id}"), Some(&body))?;
    match status {
        200 => {
            let review = &answer["review"];
            let facts: Vec<&str> = review["resolution"]["blocks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .collect();
            let blocked = match (outcome, facts.is_empty()) {
                ("fraud", false) => format!("; blocked: {}", facts.join(", ")),
                _ => String::new(),
            };
            let zone = shop_zone(target);
            Ok(format!(
                "resolved as {outcome}{blocked}\n{}{}\n",
                header(&zone),
                line(review, &zone)
            ))
        }
        _ => Err(failure(status, &answer)),
    }
}
