//! The shadow config: a proposal decided beside the live config, through the real binary.
//! Its disagreements are logged beside the live lines and counted; it never changes an
//! answer, and never a live counter (its quotas count apart).

mod support;

use support::{RawRequest, TestGateway};

const FACTS: &str = r#"
[policies.cips.facts]
dni = "json:/dni"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips.score]
review = 50

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#;

/// Live: ten orders a DNI a day; a large order weighs 30, short of review.
const LIVE: &str = r#"
[[policies.cips.limits]]
fact = "dni"
per_day = 10

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 30

[shadow]
config = "proposed.toml"
"#;

/// Proposed: one order a DNI a day; a large order alone goes to review.
const PROPOSED: &str = r#"
[server]
listen = ["127.0.0.1:0"]
default_policy = "open"

[upstream]
addresses = ["127.0.0.1:9"]

[policies.open]

[[policies.cips.limits]]
fact = "dni"
per_day = 1

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 60
"#;

fn order(gw: &TestGateway, dni: &str, amount: &str) -> u16 {
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"dni":"{dni}","amount":"{amount}","currency":"PEN"}}"#
        ))
        .send(gw.proxy)
        .expect("gateway answers")
        .status
}

#[test]
fn the_shadow_logs_and_counts_its_disagreements_and_changes_no_answer_or_live_counter() {
    let gw = TestGateway::builder()
        .rules(&format!("{FACTS}\n{LIVE}"))
        .file("proposed.toml", format!("{PROPOSED}\n{FACTS}"))
        .start();
    assert_eq!(order(&gw, "45678912", "1500.00"), 200);
    assert_eq!(order(&gw, "45678912", "100.00"), 200);
    assert_eq!(order(&gw, "11223344", "100.00"), 200);
    let scrape =
        gw.wait_for_metric(r#"garita_shadow_decisions_total{live="allow",shadow="allow"} 1"#);
    for pair in [
        r#"garita_shadow_decisions_total{live="allow",shadow="review"} 1"#,
        r#"garita_shadow_decisions_total{live="allow",shadow="deny"} 1"#,
    ] {
        assert!(scrape.contains(pair), "{pair}\n{scrape}");
    }
    // Every answer was the live config's: nothing marked for review reached the shop.
    let received = gw.received();
    assert_eq!(received.len(), 3);
    assert!(received
        .iter()
        .all(|r| r.header("x-garita-decision").is_none()));

    // Each shadow line sits beside its live line, by request id.
    let live: Vec<serde_json::Value> = gw
        .decisions()
        .into_iter()
        .filter(|l| l.get("decision").is_some())
        .collect();
    let shadow = gw.wait_for_shadow(3);
    assert_eq!(shadow.len(), 3, "{shadow:?}");
    for (live, shadow) in live.iter().zip(&shadow) {
        assert_eq!(shadow["request_id"], live["request_id"]);
        assert_eq!(shadow["live"]["decision"], live["decision"]);
        assert_eq!(shadow["route"], "cips");
    }
    assert_eq!(shadow[0]["shadow"]["decision"], "review");
    assert_eq!(shadow[0]["shadow"]["score"], 60);
    assert_eq!(shadow[0]["live"]["score"], 30);
    assert_eq!(shadow[1]["shadow"]["decision"], "deny");
    assert!(
        shadow[1]["shadow"]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("quota_exceeded:dni")),
        "{}",
        shadow[1]
    );

    // The live quota counted only the live config's orders: eight more (ten in all) pass,
    // the eleventh is refused.
    for i in 0..8 {
        assert_eq!(order(&gw, "45678912", "100.00"), 200, "order {}", i + 3);
    }
    assert_eq!(order(&gw, "45678912", "100.00"), 429);
}

#[test]
fn check_names_the_shadow() {
    let gw = TestGateway::builder()
        .rules(&format!("{FACTS}\n{LIVE}"))
        .file("proposed.toml", format!("{PROPOSED}\n{FACTS}"))
        .start();
    let out = support::run(
        support::garita_bin(),
        &[
            "check",
            "--config",
            &gw.path("garita.toml").display().to_string(),
        ],
        &[],
        None,
    );
    assert!(out.success, "{}", out.text());
    assert!(
        out.stdout
            .contains("proposed.toml decided beside this config, no effect on answers"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_shadow_that_does_not_load_is_refused_by_check_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("garita.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\ndefault_policy = \"open\"\n[upstream]\naddresses = [\"127.0.0.1:9\"]\n[policies.open]\n[shadow]\nconfig = \"missing.toml\"\n",
    )
    .unwrap();
    let out = support::run(
        support::garita_bin(),
        &["check", "--config", &config.display().to_string()],
        &[],
        None,
    );
    assert!(!out.success);
    assert!(
        out.text().contains("shadow.config") && out.text().contains("missing.toml"),
        "{}",
        out.text()
    );
}
