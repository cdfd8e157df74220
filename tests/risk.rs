//! Risk rules through the real gateway: amounts, sums across Lima midnight, structuring,
//! a day's takings against their trailing mean, newness, odd hours, a billing country that
//! is not where the client connects from, and the score that adds them up. The clock is
//! garita's test clock, moved from outside.

mod support;

use support::{reason, RawRequest, RawResponse, TestGateway};

const FACTS: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
amount = "json:/amount"
currency = "json:/currency"
device = "header:X-Device-Id"
billing_country = "json:/billingCountry"

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#;

/// A gateway whose `cips` policy has `rules` (score and risk tables) on top of the facts.
fn gateway(rules: &str, clock: &str) -> TestGateway {
    TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country.mmdb")
        .rules(&format!("{FACTS}\n{rules}"))
        .clock(clock)
        .start()
}

/// An order from a Peruvian address (192.0.2.0/24 is PE in the test database).
struct Order<'a> {
    dni: &'a str,
    amount: &'a str,
    currency: &'a str,
    device: Option<&'a str>,
    billing: &'a str,
    from: &'a str,
}

fn order<'a>(dni: &'a str, amount: &'a str) -> Order<'a> {
    Order {
        dni,
        amount,
        currency: "PEN",
        device: None,
        billing: "PE",
        from: "192.0.2.10",
    }
}

impl Order<'_> {
    fn send(&self, gw: &TestGateway) -> RawResponse {
        let body = format!(
            r#"{{"userDocumentNumber":"{}","amount":"{}","currency":"{}","billingCountry":"{}"}}"#,
            self.dni, self.amount, self.currency, self.billing
        );
        let mut request = RawRequest::new("POST", "/v1/cips")
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", self.from)
            .body(body);
        if let Some(device) = self.device {
            request = request.header("X-Device-Id", device);
        }
        request.send(gw.proxy).expect("gateway answers")
    }
}

/// The rules that fired on a decision-log line, as `name=weight` (shadow ones marked).
fn fired(line: &serde_json::Value) -> Vec<String> {
    line["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    let shadow = if r["shadow"] == true { " (shadow)" } else { "" };
                    format!("{}={}{shadow}", r["rule"].as_str().unwrap(), r["weight"])
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn several_rules_add_up_to_review_then_to_deny() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50
deny = 100

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000.00", USD = 300 }
weight = 40

[[policies.cips.risk]]
rule = "hours"
hours = "00:00-05:00"
weight = 30

[[policies.cips.risk]]
rule = "first_order"
fact = "dni"
weight = 20

[[policies.cips.risk]]
rule = "country_mismatch"
weight = 50
"#,
        // 13:00 in Lima.
        "2026-11-25T18:00:00Z",
    );
    // A first order in the afternoon: 20, allowed.
    let first = order("45678912", "120.00").send(&gw);
    assert_eq!(first.status, 200);
    // 999.99 is under the large-order threshold, 1000.00 is at it: 40, still allowed.
    assert_eq!(order("45678912", "999.99").send(&gw).status, 200);
    assert_eq!(order("45678912", "1000.00").send(&gw).status, 200);
    // 03:00 in Lima: large and at night, 70: forwarded for review with its score.
    gw.set_clock("2026-11-26T08:00:00Z");
    assert_eq!(order("45678912", "1000.00").send(&gw).status, 200);
    // And billed from the United States: 120, denied.
    let denied = Order {
        billing: "US",
        ..order("45678912", "1000.00")
    }
    .send(&gw);
    assert_eq!(denied.status, 403);
    assert_eq!(reason(&denied), "risk_score");
    assert!(
        !String::from_utf8_lossy(&denied.body).contains("large_order"),
        "the client is not told which rules fired"
    );

    let received = gw.received();
    assert_eq!(
        received.len(),
        4,
        "the denied order never reached the backend"
    );
    assert_eq!(received[0].header("x-garita-decision"), None);
    assert_eq!(
        received[2].header("x-garita-score"),
        None,
        "allowed: no marks"
    );
    let review = &received[3];
    assert_eq!(review.header("x-garita-decision"), Some("review"));
    assert_eq!(review.header("x-garita-score"), Some("70"));
    assert_eq!(
        review.header("x-garita-reasons"),
        Some("risk_score, large_order=40, hours=30")
    );

    let log = gw.wait_for_decisions(5);
    let scores: Vec<_> = log.iter().map(|l| l["score"].as_u64().unwrap()).collect();
    assert_eq!(scores, [20, 0, 40, 70, 120]);
    assert_eq!(fired(&log[0]), ["first_order_dni=20"]);
    assert_eq!(
        fired(&log[4]),
        ["large_order=40", "hours=30", "country_mismatch=50"]
    );
    let decisions: Vec<_> = log
        .iter()
        .map(|l| l["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "allow", "allow", "review", "deny"]);
    assert_eq!(log[4]["reasons"][0], "risk_score");
    assert_eq!(log[4]["facts"]["billing_country"], "US");
    gw.wait_for_metric(
        "garita_risk_rules_fired_total{mode=\"enforce\",policy=\"cips\",rule=\"large_order\"} 3",
    );
}

#[test]
fn a_days_sum_is_judged_at_and_above_its_threshold_and_rolls_over_at_lima_midnight() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50
deny = 100

[[policies.cips.risk]]
rule = "amount_sum"
fact = "dni"
window = "day"
above = { PEN = "300.00" }
weight = 100
"#,
        // 23:50 on the 25th in Lima.
        "2026-11-26T04:50:00Z",
    );
    assert_eq!(order("45678912", "200.00").send(&gw).status, 200);
    // 300.00 in all: at the threshold, not above it.
    assert_eq!(order("45678912", "100.00").send(&gw).status, 200);
    let over = order("45678912", "0.01").send(&gw);
    assert_eq!((over.status, reason(&over)), (403, "risk_score".into()));
    // Another DNI, and the same amount in another currency, are sums of their own.
    assert_eq!(order("87654321", "250.00").send(&gw).status, 200);
    let dollars = Order {
        currency: "USD",
        ..order("45678912", "500.00")
    };
    assert_eq!(
        dollars.send(&gw).status,
        200,
        "no USD threshold: not judged"
    );
    // 00:05 on the 26th in Lima: a new day, a new sum.
    gw.set_clock("2026-11-26T05:05:00Z");
    assert_eq!(order("45678912", "300.00").send(&gw).status, 200);
    let over = order("45678912", "0.50").send(&gw);
    assert_eq!(over.status, 403);
    assert_eq!(gw.received().len(), 5);
}

#[test]
fn a_string_of_small_orders_goes_to_review() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "structuring"
fact = "dni"
below = { PEN = "20.00" }
count = 3
within = "1h"
weight = 60
"#,
        "2026-11-25T18:00:00Z",
    );
    assert_eq!(order("45678912", "19.99").send(&gw).status, 200);
    // A large order in between is not a small one.
    assert_eq!(order("45678912", "20.00").send(&gw).status, 200);
    gw.set_clock("2026-11-25T18:20:00Z");
    assert_eq!(order("45678912", "5.00").send(&gw).status, 200);
    gw.set_clock("2026-11-25T18:40:00Z");
    assert_eq!(order("45678912", "1.00").send(&gw).status, 200);
    // Two hours later the first three are out of the window.
    gw.set_clock("2026-11-25T20:41:00Z");
    assert_eq!(order("45678912", "1.00").send(&gw).status, 200);
    let marks: Vec<_> = gw
        .received()
        .iter()
        .map(|r| r.header("x-garita-decision").map(str::to_string))
        .collect();
    assert_eq!(marks, [None, None, None, Some("review".into()), None]);
    let log = gw.wait_for_decisions(5);
    assert_eq!(fired(&log[3]), ["structuring_dni=60"]);
}

#[test]
fn an_anomaly_day_sends_orders_to_review_and_raises_the_gauge() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "amount_anomaly"
percent = 200
days = 3
weight = 50
"#,
        "2026-11-22T18:00:00Z",
    );
    // Three ordinary days of 100 soles each, from different buyers: a mean of 100.
    for (day, dni) in [("22", "11111111"), ("23", "22222222"), ("24", "33333333")] {
        gw.set_clock(&format!("2026-11-{day}T18:00:00Z"));
        assert_eq!(order(dni, "100.00").send(&gw).status, 200);
    }
    gw.set_clock("2026-11-25T18:00:00Z");
    // 150, then 200: not above twice the mean.
    assert_eq!(order("44444444", "150.00").send(&gw).status, 200);
    assert_eq!(order("55555555", "50.00").send(&gw).status, 200);
    gw.wait_for_metric(
        "garita_amount_anomaly{currency=\"PEN\",policy=\"cips\",rule=\"amount_anomaly_shop\"} 0",
    );
    // 200.01: above. This order and the next go to review while it holds.
    assert_eq!(order("66666666", "0.01").send(&gw).status, 200);
    gw.wait_for_metric(
        "garita_amount_anomaly{currency=\"PEN\",policy=\"cips\",rule=\"amount_anomaly_shop\"} 1",
    );
    assert_eq!(order("77777777", "10.00").send(&gw).status, 200);
    // The next Lima day starts from nothing: the alert clears with its first order.
    gw.set_clock("2026-11-26T18:00:00Z");
    assert_eq!(order("88888888", "10.00").send(&gw).status, 200);
    gw.wait_for_metric(
        "garita_amount_anomaly{currency=\"PEN\",policy=\"cips\",rule=\"amount_anomaly_shop\"} 0",
    );
    let marks: Vec<_> = gw
        .received()
        .iter()
        .map(|r| r.header("x-garita-decision").is_some())
        .collect();
    assert_eq!(
        marks,
        [false, false, false, false, false, true, true, false]
    );
}

#[test]
fn a_first_large_order_and_a_new_device_go_to_review() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "first_large_order"
fact = "dni"
at_least = { PEN = "500.00" }
weight = 60

[[policies.cips.risk]]
rule = "new_device"
fact = "dni"
weight = 50
"#,
        "2026-11-25T18:00:00Z",
    );
    let with = |dni, amount, device| Order {
        device: Some(device),
        ..order(dni, amount)
    };
    // A new DNI whose first order is large: review. Its device is new, but so is the DNI.
    assert_eq!(with("45678912", "800.00", "dev-1").send(&gw).status, 200);
    // Known DNI, known device, large: nothing.
    assert_eq!(with("45678912", "800.00", "dev-1").send(&gw).status, 200);
    // Known DNI on a device never seen with it: review.
    assert_eq!(with("45678912", "10.00", "dev-2").send(&gw).status, 200);
    // A first order that is small: nothing, and the next large one is not a first.
    assert_eq!(with("87654321", "10.00", "dev-9").send(&gw).status, 200);
    assert_eq!(with("87654321", "900.00", "dev-9").send(&gw).status, 200);
    let log = gw.wait_for_decisions(5);
    let fired: Vec<Vec<String>> = log.iter().map(fired).collect();
    assert_eq!(
        fired,
        [
            vec!["first_large_order_dni=60".to_string()],
            vec![],
            vec!["new_device_dni=50".to_string()],
            vec![],
            vec![],
        ]
    );
    let reviewed: Vec<_> = log.iter().map(|l| l["decision"] == "review").collect();
    assert_eq!(reviewed, [true, false, true, false, false]);
}

#[test]
fn shadow_rules_deny_nothing_and_log_what_they_would_have_done() {
    let gw = gateway(
        r#"
[policies.cips.score]
review = 50
deny = 100

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 100
mode = "shadow"

[[policies.cips.risk]]
rule = "hours"
hours = "12:00-14:00"
weight = 10
"#,
        // 13:00 in Lima.
        "2026-11-25T18:00:00Z",
    );
    let large = order("45678912", "5000.00").send(&gw);
    assert_eq!(large.status, 200);
    let received = gw.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("x-garita-decision"), None);
    let log = gw.wait_for_decisions(1);
    assert_eq!(log[0]["decision"], "shadow_deny");
    assert_eq!(log[0]["score"], 10, "the shadow rule added nothing");
    assert_eq!(fired(&log[0]), ["large_order=100 (shadow)", "hours=10"]);
    gw.wait_for_metric(
        "garita_risk_rules_fired_total{mode=\"shadow\",policy=\"cips\",rule=\"large_order\"} 1",
    );
}

#[test]
fn risk_rules_that_do_not_fit_their_facts_are_refused_by_check() {
    for (rules, key) in [
        (
            "[policies.cips.score]\nreview = 50\n[[policies.cips.risk]]\nrule = \"large_order\"\nat_least = { PEN = 1000.5 }\nweight = 10\n",
            "policies.cips.risk[0].at_least.PEN",
        ),
        (
            "[policies.cips.score]\nreview = 50\n[[policies.cips.risk]]\nrule = \"large_order\"\nat_least = { PEN = \"10\" }\nwindow = \"day\"\nweight = 10\n",
            "policies.cips.risk[0].window",
        ),
        (
            "[[policies.cips.risk]]\nrule = \"hours\"\nhours = \"00:00-05:00\"\nweight = 10\n",
            "policies.cips.score",
        ),
        (
            "[policies.cips.score]\nreview = 50\n[[policies.cips.risk]]\nrule = \"amount_sum\"\nfact = \"email\"\nabove = { PEN = \"10\" }\nweight = 10\n",
            "policies.cips.risk[0].fact",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("garita.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\ndefault_policy = \"cips\"\n[upstream]\naddresses = [\"127.0.0.1:1\"]\n{FACTS}\n{rules}"
            ),
        )
        .unwrap();
        let out = support::run(
            support::garita_bin(),
            &["check", "--config", config.to_str().unwrap()],
            &[],
            None,
        );
        assert!(!out.success, "{rules}");
        assert!(out.text().contains(key), "{key}: {}", out.text());
    }
}
