//! Every request is accounted for: one decision-log line and the metrics, which
//! `promtool check metrics` accepts.

mod support;

use support::{RawRequest, TestGateway};

const RULES: &str = "[ip_rules]\nblock = [\"198.51.100.0/24\"]\n\
[policies.payments]\nrate_limit = { requests = 1, per = \"1h\", burst = 1 }\n\
[[routes]]\nname = \"cips\"\nmethods = [\"POST\"]\npaths = [\"/v1/cips\"]\npolicy = \"payments\"\n";

fn gateway() -> TestGateway {
    TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country.mmdb")
        .rules(RULES)
        .start()
}

/// Allowed, rate limited, blocked and malformed: four decisions.
fn play(gw: &TestGateway) {
    assert_eq!(
        gw.post_from("192.0.2.1", "/v1/cips?dni=12345678", "{}")
            .status,
        200
    );
    assert_eq!(gw.post_from("192.0.2.1", "/v1/cips", "{}").status, 429);
    assert_eq!(gw.post_from("198.51.100.1", "/", "{}").status, 403);
    assert_eq!(gw.post_from("192.0.2.1", "/%zz", "{}").status, 400);
}

#[test]
fn one_decision_log_line_per_request_in_utc() {
    let gw = gateway();
    play(&gw);
    let lines = gw.wait_for_decisions(4);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(gw.decisions().len(), 4, "exactly one line each");
    let summary: Vec<(String, String, String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["route"].as_str().unwrap().to_string(),
                l["decision"].as_str().unwrap().to_string(),
                l["reasons"].to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("cips".into(), "allow".into(), "[]".into(), 200),
            (
                "cips".into(),
                "deny".into(),
                "[\"rate_limited\"]".into(),
                429
            ),
            (
                "default".into(),
                "deny".into(),
                "[\"ip_blocked\"]".into(),
                403
            ),
            (
                "default".into(),
                "deny".into(),
                "[\"malformed_path\"]".into(),
                400
            ),
        ]
    );
    let first = &lines[0];
    assert_eq!(first["client_ip"], "192.0.2.1");
    assert_eq!(first["peer_ip"], "127.0.0.1");
    assert_eq!(first["country"], "PE");
    assert_eq!(first["upstream_status"], 200);
    assert_eq!(first["path"], "/v1/cips", "no query string in the log");
    assert!(first["duration_ms"].as_f64().unwrap() >= 0.0);
    let ts = first["ts"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "{ts}");
    assert!(
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok(),
        "{ts}"
    );
    // The request id in the log is the one the backend saw.
    let backend_id = gw.received()[0].header("x-request-id").unwrap().to_string();
    assert_eq!(first["request_id"], backend_id.as_str());
    assert!(lines[1]["upstream_status"].is_null());
}

#[test]
fn metrics_count_decisions_and_pass_promtool() {
    let gw = gateway();
    play(&gw);
    gw.wait_for_decisions(4);
    let scrape = gw.scrape();
    for expected in [
        r#"garita_requests_total{decision="allow",fact="",reason="none",route="cips"} 1"#,
        r#"garita_requests_total{decision="deny",fact="",reason="rate_limited",route="cips"} 1"#,
        r#"garita_requests_total{decision="deny",fact="",reason="ip_blocked",route="default"} 1"#,
        r#"garita_requests_total{decision="deny",fact="",reason="malformed_path",route="default"} 1"#,
        r#"garita_upstream_responses_total{class="2xx",route="cips"} 1"#,
        r#"garita_decision_duration_seconds_count{route="cips"} 2"#,
        r#"garita_rate_limit_keys{policy="payments"}"#,
        "garita_build_info{version=",
    ] {
        assert!(
            scrape.contains(expected),
            "missing {expected} in:\n{scrape}"
        );
    }

    support::assert_promtool_accepts(&scrape);
}

#[test]
fn the_metrics_listener_answers_health_checks() {
    let gw = gateway();
    let health = RawRequest::new("GET", "/healthz").send(gw.metrics).unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(
        RawRequest::new("GET", "/nope")
            .send(gw.metrics)
            .unwrap()
            .status,
        404
    );
}
