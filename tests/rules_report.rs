//! What the outcomes teach: a real gateway decides a day of orders into its audit trail;
//! outcomes with known labels (refunds, a fraud resolution, payments that stayed paid)
//! are added; `garita rules report` prints each rule's exact precision and catch, and the
//! weights it proposes are what `garita replay` then decides the same day with.

mod support;

use std::path::Path;
use support::{garita_bin, run, RawRequest, TestGateway};

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/dni"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 30

# A comment the proposal keeps.
[[policies.cips.risk]]
rule = "hours"
hours = "00:00-05:00"
weight = 20

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#;

/// An order: when (UTC; Lima is UTC-5), the DNI, the amount, and its known outcome.
struct Order {
    at: &'static str,
    dni: &'static str,
    amount: &'static str,
    outcome: Option<&'static str>,
}

const fn order(
    at: &'static str,
    dni: &'static str,
    amount: &'static str,
    outcome: Option<&'static str>,
) -> Order {
    Order {
        at,
        dni,
        amount,
        outcome,
    }
}

/// large_order fires on 1-4 and 7; hours (01:00 in Lima) on 5-7; 7 has both and is
/// reviewed. Bad: 1, 2, 4 and 8 refunded, 7 fraud. Good: 3, 5, 6 paid and kept.
const ORDERS: [Order; 9] = [
    order(
        "2026-11-25T15:00:00Z",
        "10000001",
        "1500.00",
        Some("refunded"),
    ),
    order(
        "2026-11-25T15:01:00Z",
        "10000002",
        "1200.00",
        Some("refunded"),
    ),
    order("2026-11-25T15:02:00Z", "10000003", "1100.00", Some("paid")),
    order(
        "2026-11-25T15:03:00Z",
        "10000004",
        "2000.00",
        Some("refunded"),
    ),
    order("2026-11-26T06:00:00Z", "10000005", "50.00", Some("paid")),
    order("2026-11-26T06:01:00Z", "10000006", "60.00", Some("paid")),
    order("2026-11-26T06:02:00Z", "10000007", "1300.00", Some("fraud")),
    order(
        "2026-11-26T15:00:00Z",
        "10000008",
        "30.00",
        Some("refunded"),
    ),
    order("2026-11-26T15:01:00Z", "10000009", "40.00", None),
];

/// The outcome lines, as the gateway writes them, for the requests decided in `live`.
fn outcomes(live: &[serde_json::Value]) -> String {
    let mut lines = String::new();
    for (order, decided) in ORDERS.iter().zip(live) {
        let id = decided["request_id"].as_str().unwrap();
        let line = match order.outcome {
            Some("fraud") => serde_json::json!({
                "ts": "2026-11-27T10:00:00.000Z", "event": "review_resolved", "by": "rita",
                "review": id, "outcome": "fraud", "route": "cips", "policy": "cips", "blocked": []
            }),
            Some(outcome) => serde_json::json!({
                "ts": "2026-11-27T10:00:00.000Z", "event": "code_settled", "request": id,
                "route": "cips", "outcome": outcome, "created_at": 0
            }),
            None => continue,
        };
        lines.push_str(&format!("{line}\n"));
    }
    // Three weeks on: the payments stayed unrefunded for more than 14 days.
    lines.push_str(&format!(
        "{}\n",
        serde_json::json!({"ts": "2026-12-20T10:00:00.000Z", "event": "config_reloaded"})
    ));
    lines
}

fn garita(args: &[&str]) -> support::Output {
    let out = run(garita_bin(), args, &[], None);
    assert!(out.success, "garita {args:?}: {}", out.text());
    out
}

fn line_of<'a>(report: &'a str, rule: &str) -> Vec<&'a str> {
    let line = report
        .lines()
        .find(|l| l.starts_with(&format!("{rule} ")))
        .unwrap_or_else(|| panic!("no line for {rule}:\n{report}"));
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn the_report_prints_exact_figures_and_its_proposal_replays_as_predicted() {
    let gw = TestGateway::builder()
        .rules(RULES)
        .clock(ORDERS[0].at)
        .start();
    for order in &ORDERS {
        gw.set_clock(order.at);
        let answer = RawRequest::new("POST", "/v1/cips")
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"dni":"{}","amount":"{}","currency":"PEN"}}"#,
                order.dni, order.amount
            ))
            .send(gw.proxy)
            .expect("gateway answers");
        assert_eq!(answer.status, 200);
    }
    let live = gw.wait_for_decisions(ORDERS.len());
    assert_eq!(live.len(), ORDERS.len());
    let decided: Vec<&str> = live
        .iter()
        .map(|l| l["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decided,
        ["allow", "allow", "allow", "allow", "allow", "allow", "review", "allow", "allow"]
    );

    // The trail's decisions (in one file: the gateway's own rotated with its clock), then
    // the outcomes that came later.
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("decisions.jsonl");
    let logged: String = live.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&trail, format!("{logged}{}", outcomes(&live))).unwrap();
    let config = gw.path("garita.toml");
    let proposed = gw.path("proposed.toml");
    let report = garita(&[
        "rules",
        "report",
        "--config",
        &config.display().to_string(),
        "--log",
        &trail.display().to_string(),
        "--from",
        "2026-11-25",
        "--to",
        "2026-11-26",
        "--min-labelled",
        "3",
        "--propose",
        &proposed.display().to_string(),
    ])
    .stdout;
    assert!(
        report.contains("outcomes read: 1 fraud, 0 approved, 3 paid, 4 refunded"),
        "{report}"
    );
    assert!(
        report.contains("policy cips: 9 requests, 5 labelled bad, 3 labelled good; review at 50"),
        "{report}"
    );
    // large_order: fired on 5, 4 of them bad and 1 good; caught 4 of the 5 bad.
    assert_eq!(
        line_of(&report, "large_order"),
        [
            "large_order",
            "5",
            "4",
            "1",
            "4/5 = 80.0%",
            "4/5 = 80.0%",
            "30",
            "80",
            "50 x 80.0% / 50%"
        ]
    );
    // hours: fired on 3, 1 bad and 2 good; caught 1 of the 5 bad.
    assert_eq!(
        line_of(&report, "hours"),
        [
            "hours",
            "3",
            "1",
            "2",
            "1/3 = 33.3%",
            "1/5 = 20.0%",
            "20",
            "33",
            "50 x 33.3% / 50%"
        ]
    );
    assert!(report.contains("2 weights changed"), "{report}");

    // The proposal keeps the file's comments and changes only the weights.
    let text = std::fs::read_to_string(&proposed).unwrap();
    assert!(text.contains("# A comment the proposal keeps."), "{text}");
    assert!(
        text.contains("weight = 80") && text.contains("weight = 33"),
        "{text}"
    );

    // Replayed under the proposal, each large order is reviewed on its own.
    let replayed = dir.path().join("replayed.jsonl");
    garita(&[
        "replay",
        "--config",
        &proposed.display().to_string(),
        "--decisions",
        &replayed.display().to_string(),
        &trail.display().to_string(),
    ]);
    let predicted: Vec<String> = read_lines(&replayed)
        .iter()
        .map(|l| l["replayed"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        predicted,
        ["review", "review", "review", "review", "allow", "allow", "review", "allow", "allow"]
    );
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_report_without_bad_labels_says_so_and_a_bad_range_is_refused() {
    let gw = TestGateway::builder().rules(RULES).start();
    let config = gw.path("garita.toml").display().to_string();
    let report = garita(&["rules", "report", "--config", &config, "--from", "today"]).stdout;
    assert!(
        report.contains("no request in the range is labelled bad"),
        "{report}"
    );
    let backwards = run(
        garita_bin(),
        &[
            "rules",
            "report",
            "--config",
            &config,
            "--from",
            "2026-11-26",
            "--to",
            "2026-11-25",
        ],
        &[],
        None,
    );
    assert!(!backwards.success);
    assert!(
        backwards.stderr.contains("is after"),
        "{}",
        backwards.text()
    );
}
