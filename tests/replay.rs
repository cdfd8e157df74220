//! Backtesting: a log made live under one config, replayed under another, predicts exactly
//! the decisions a live run of the other config makes on the same traffic.

mod support;

use garita::observe::audit_files::Trail;
use std::path::PathBuf;
use support::{RawRequest, TestGateway};

const FACTS: &str = r#"
[policies.cips.facts]
dni = "json:/dni"
email = "json:/email"
amount = "json:/amount"
currency = "json:/currency"
billing_country = "json:/country"

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[[routes]]
name = "shop"
paths = ["/shop/**"]
policy = "shop"
"#;

/// What runs today: a generous quota, one soft rule, one blocked DNI.
const TODAY: &str = r#"
[policies.shop]

[policies.cips.block]
dni = ["11223344"]

[[policies.cips.limits]]
fact = "dni"
per_day = 10

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 40
"#;

/// What is proposed: Peru only for the shop, two codes a DNI a Lima day, a blocked email,
/// sums and odd hours scored, and a deny threshold.
const PROPOSED: &str = r#"
[policies.shop]
geofence = { allow_countries = ["PE"], unknown = "deny" }

[policies.cips.block]
dni = ["11223344"]
email = ["fraud@example.pe"]

[[policies.cips.limits]]
fact = "dni"
per_day = 2

[policies.cips.score]
review = 50
deny = 100

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 60

[[policies.cips.risk]]
rule = "amount_sum"
fact = "email"
window = "day"
above = { PEN = "1500" }
weight = 50

[[policies.cips.risk]]
rule = "hours"
hours = "00:00-05:00"
weight = 45

[[policies.cips.risk]]
rule = "country_mismatch"
weight = 10
"#;

/// One request of the traffic, at a moment of garita's clock.
struct Hit {
    at: &'static str,
    from: &'static str,
    path: &'static str,
    order: Option<(&'static str, &'static str, &'static str, &'static str)>,
}

const fn order(
    at: &'static str,
    from: &'static str,
    dni: &'static str,
    email: &'static str,
    amount: &'static str,
    country: &'static str,
) -> Hit {
    Hit {
        at,
        from,
        path: "/v1/cips",
        order: Some((dni, email, amount, country)),
    }
}

const fn visit(at: &'static str, from: &'static str, path: &'static str) -> Hit {
    Hit {
        at,
        from,
        path,
        order: None,
    }
}

/// Two Lima days of traffic (Lima is UTC-5: the 26th begins at 05:00Z).
const TRAFFIC: [Hit; 14] = [
    visit("2026-11-25T15:00:00Z", "192.0.2.10", "/shop/shoes"),
    visit("2026-11-25T15:01:00Z", "198.51.100.7", "/shop/shoes"),
    order(
        "2026-11-25T15:02:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "120.00",
        "PE",
    ),
    order(
        "2026-11-25T15:03:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "1200.00",
        "PE",
    ),
    order(
        "2026-11-25T15:04:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "80.00",
        "PE",
    ),
    order(
        "2026-11-25T15:05:00Z",
        "192.0.2.11",
        "11223344",
        "luis@example.pe",
        "50.00",
        "PE",
    ),
    order(
        "2026-11-25T15:06:00Z",
        "192.0.2.12",
        "87654321",
        "fraud@example.pe",
        "10.00",
        "PE",
    ),
    order(
        "2026-11-25T16:00:00Z",
        "198.51.100.7",
        "22334455",
        "jo@example.com",
        "900.00",
        "US",
    ),
    order(
        "2026-11-25T16:01:00Z",
        "192.0.2.13",
        "22334455",
        "jo@example.com",
        "700.00",
        "PE",
    ),
    // 01:30 in Lima on the 26th: another day for the quota, and an odd hour.
    order(
        "2026-11-26T06:30:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "100.00",
        "PE",
    ),
    order(
        "2026-11-26T06:31:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "1100.00",
        "US",
    ),
    order(
        "2026-11-26T14:00:00Z",
        "192.0.2.10",
        "45678912",
        "ana@example.pe",
        "10.00",
        "PE",
    ),
    visit("2026-11-26T14:01:00Z", "203.0.113.5", "/shop/cart"),
    order(
        "2026-11-26T14:02:00Z",
        "192.0.2.14",
        "33445566",
        "eva@example.pe",
        "2000.00",
        "PE",
    ),
];

fn gateway(rules: &str) -> TestGateway {
    TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country.mmdb")
        .rules(&format!("{FACTS}\n{rules}"))
        .clock(TRAFFIC[0].at)
        .start()
}

/// Play the traffic through `gw`, moving its clock before each request.
fn play(gw: &TestGateway) {
    for hit in &TRAFFIC {
        gw.set_clock(hit.at);
        let request = match hit.order {
            Some((dni, email, amount, country)) => RawRequest::new("POST", hit.path)
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"dni":"{dni}","email":"{email}","amount":"{amount}","currency":"PEN","country":"{country}"}}"#
                )),
            None => RawRequest::new("GET", hit.path),
        };
        request
            .header("X-Forwarded-For", hit.from)
            .send(gw.proxy)
            .expect("gateway answers");
    }
}

/// The gateway's decision-log files, oldest first.
fn log_files(gw: &TestGateway) -> Vec<PathBuf> {
    let trail = Trail::new(&gw.path("decisions.jsonl"));
    let mut files: Vec<PathBuf> = trail
        .rotated()
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    files.push(trail.active().to_path_buf());
    files
}

#[test]
fn a_replay_predicts_exactly_what_the_proposed_config_decides_live() {
    let today = gateway(TODAY);
    play(&today);
    let logged = today.wait_for_decisions(TRAFFIC.len());
    assert_eq!(
        logged.len(),
        TRAFFIC.len(),
        "{:?}\n{logged:#?}",
        log_files(&today)
    );

    let proposed = gateway(PROPOSED);
    play(&proposed);
    let live = proposed.wait_for_decisions(TRAFFIC.len());
    assert_eq!(live.len(), TRAFFIC.len());

    let out = proposed.path("replayed.jsonl");
    let config = proposed.path("garita.toml");
    let mut args = vec![
        "replay".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--decisions".into(),
        out.display().to_string(),
    ];
    args.extend(log_files(&today).iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = support::run(support::garita_bin(), &args, &[], None);
    assert!(report.success, "{}", report.text());

    let replayed: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replayed.len(), TRAFFIC.len(), "{}", report.stdout);
    for (i, (predicted, live)) in replayed.iter().zip(&live).enumerate() {
        let what = format!(
            "request {i} ({}): {predicted} against {live}",
            TRAFFIC[i].at
        );
        assert_eq!(predicted["replayed"], live["decision"], "{what}");
        assert_eq!(predicted["reasons"], live["reasons"], "{what}");
        assert_eq!(predicted["score"], live["score"], "{what}");
        let live_rules: Vec<&str> = live["rules"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["rule"].as_str()).collect())
            .unwrap_or_default();
        let predicted_rules: Vec<&str> = predicted["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.as_str())
            .collect();
        assert_eq!(predicted_rules, live_rules, "{what}");
        assert_eq!(predicted["logged"], logged[i]["decision"], "{what}");
    }
    // The proposal changes things, and the report says how.
    let changed = replayed
        .iter()
        .filter(|r| r["logged"] != r["replayed"])
        .count();
    assert!(changed >= 5, "{}", report.stdout);
    assert!(
        report.stdout.contains(&format!("{changed} would change")),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.contains("amount_sum_email_day"),
        "{}",
        report.stdout
    );
    assert!(report.stdout.contains("allow ->"), "{}", report.stdout);
    // Nothing in clear reached the report.
    assert!(!report.stdout.contains("45678912") && !report.stdout.contains("ana@"));
}

/// The shadow config decides on the replay engine from the live request's typed facts,
/// not from its logged line: it must come to what the proposal decides live all the same.
#[test]
fn a_shadow_of_the_proposal_decides_each_request_as_the_proposal_does_live() {
    let proposed = gateway(PROPOSED);
    play(&proposed);
    let live = proposed.wait_for_decisions(TRAFFIC.len());
    assert_eq!(live.len(), TRAFFIC.len());

    let shadowed = gateway(&format!(
        "{TODAY}\n[shadow]\nconfig = \"{}\"\n",
        proposed.path("garita.toml").display()
    ));
    play(&shadowed);
    // A shadow line is written after its live line: once all are there, so are those.
    let shadow = shadowed.wait_for_shadow(TRAFFIC.len());
    assert_eq!(shadow.len(), TRAFFIC.len(), "{shadow:#?}");
    let today: Vec<serde_json::Value> = shadowed
        .decisions()
        .into_iter()
        .filter(|l| l.get("decision").is_some())
        .collect();
    assert_eq!(today.len(), TRAFFIC.len());

    let mut disagreements = 0;
    for (i, (today, live)) in today.iter().zip(&live).enumerate() {
        let line = shadow
            .iter()
            .find(|s| s["request_id"] == today["request_id"])
            .unwrap_or_else(|| panic!("no shadow line for request {i}: {today}"));
        let what = format!("request {i} ({}): {line} against {live}", TRAFFIC[i].at);
        assert_eq!(line["ts"], today["ts"], "{what}");
        assert_eq!(line["live"]["decision"], today["decision"], "{what}");
        assert_eq!(line["live"]["score"], today["score"], "{what}");
        assert_eq!(line["shadow"]["decision"], live["decision"], "{what}");
        assert_eq!(line["shadow"]["reasons"], live["reasons"], "{what}");
        assert_eq!(line["shadow"]["score"], live["score"], "{what}");
        disagreements += usize::from(line["shadow"]["decision"] != line["live"]["decision"]);
    }
    // The proposal differs from today's config on this traffic: the shadow saw it.
    assert!(disagreements >= 5, "{shadow:#?}");
}
