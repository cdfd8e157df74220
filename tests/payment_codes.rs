//! Payment codes end to end: the recording backend answers creation requests the way a
//! shop relaying PagoEfectivo does; garita keeps each code with the request's identity
//! keys, settles it with the signed notifications the backend accepted, and the
//! `unpaid_codes` rule reads what it counted.

#[macro_use]
mod fixtures;
mod support;

use fixtures::PE_SECRET;
use support::{ConsoleUser, RawRequest, RawResponse, TestGateway};

const RITA: &str = "rita-reviewer-token-for-tests";

const RULES: &str = concat!(
    r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips.payment_codes]
code = "response_json:/data/cip"
expires = "json:/dateExpiry"

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "unpaid_codes"
fact = "dni"
count = 3
days = 7
weight = 60

[policies.pe.webhook]
profile = "pagoefectivo"
secrets = [{ env = "PE_SECRET" }]
[policies.pe.webhook.settles]

[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "rita", role = "reviewer", env = "RITA_TOKEN" }]
"#,
    cip_and_pe_routes!()
);

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", PE_SECRET)
        .env("RITA_TOKEN", RITA)
        .rules(RULES)
        .start()
}

/// Ask for a code for `dni`; the backend's answer, as the client got it.
fn create(gw: &TestGateway, dni: &str, answer: Option<&str>) -> RawResponse {
    let body = format!(
        r#"{{"userDocumentNumber":"{dni}","amount":"25.00","currency":"PEN","dateExpiry":"2099-01-01 00:00:00-05:00"}}"#
    );
    let mut request =
        RawRequest::new("POST", "/v1/cips").header("Content-Type", "application/json");
    if let Some(encoding) = answer {
        request = request.header("X-Demo-Answer", encoding);
    }
    request.body(body).send(gw.proxy).expect("gateway answers")
}

fn cip_of(answer: &RawResponse) -> String {
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("a JSON answer");
    json["data"]["cip"].as_str().expect("a code").to_string()
}

/// PagoEfectivo's signed notification that `cip` had `event`.
fn notify(gw: &TestGateway, cip: &str, event: &str, operation: &str) -> RawResponse {
    fixtures::pe_code_notification(cip, event, operation)
        .send(gw.proxy)
        .expect("gateway answers")
}

#[test]
fn a_dni_with_three_expired_codes_is_sent_to_review_on_its_fourth() {
    let gw = gateway();
    let mut codes = Vec::new();
    for _ in 0..3 {
        let answer = create(&gw, "11223344", None);
        assert_eq!(answer.status, 200);
        codes.push(cip_of(&answer));
    }
    gw.wait_for_metric(r#"garita_payment_codes_total{outcome="kept",route="cips"} 3"#);
    for (i, cip) in codes.iter().enumerate() {
        assert_eq!(notify(&gw, cip, "expired", &format!("op-{i}")).status, 200);
    }
    gw.wait_for_metric(r#"garita_code_settlements_total{event="expired",outcome="counted"} 3"#);
    // Another DNI is untouched; this one's fourth code goes to review.
    assert_eq!(create(&gw, "55667788", None).status, 200);
    assert_eq!(create(&gw, "11223344", None).status, 200);
    let received = gw.received();
    let creations: Vec<_> = received.iter().filter(|r| r.target == "/v1/cips").collect();
    assert_eq!(creations.len(), 5);
    assert_eq!(creations[3].header("x-garita-decision"), None);
    assert_eq!(creations[4].header("x-garita-decision"), Some("review"));
    assert!(
        creations[4]
            .header("x-garita-reasons")
            .is_some_and(|r| r.contains("unpaid_codes_dni=60")),
        "{:?}",
        creations[4].header("x-garita-reasons")
    );
    // The reviewer sees the DNI's codes and what became of them.
    gw.wait_for_metric(r#"garita_payment_codes_total{outcome="kept",route="cips"} 5"#);
    let rita = ConsoleUser::sign_in(&gw, RITA);
    let queue = rita.page("/console/");
    let id: String = queue
        .split(r#"href="/console/reviews/"#)
        .nth(1)
        .expect("the review is queued")
        .chars()
        .take_while(|c| *c != '"' && *c != '?')
        .collect();
    let page = rita.page(&format!("/console/reviews/{id}"));
    assert!(
        page.contains("Payment codes today: 4 created, 0 paid, 3 expired, 0 refunded."),
        "{page}"
    );
    assert!(
        page.contains("Payment codes, last 30 days: 4 created, 0 paid, 3 expired, 0 refunded."),
        "{page}"
    );
}

#[test]
fn paid_codes_repeats_unknown_codes_and_compressed_answers_are_counted_apart() {
    let gw = gateway();
    let cip = cip_of(&create(&gw, "11223344", None));
    gw.wait_for_metric(r#"garita_payment_codes_total{outcome="kept",route="cips"} 1"#);
    assert_eq!(notify(&gw, &cip, "paid", "op-1").status, 200);
    // The same event again under another operation number: delivered, counted once.
    assert_eq!(notify(&gw, &cip, "paid", "op-2").status, 200);
    assert_eq!(notify(&gw, "999999", "paid", "op-3").status, 200);
    let scrape = gw
        .wait_for_metric(r#"garita_code_settlements_total{event="paid",outcome="unknown_code"} 1"#);
    assert!(
        scrape.contains(r#"garita_code_settlements_total{event="paid",outcome="counted"} 1"#),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"garita_code_settlements_total{event="paid",outcome="repeat"} 1"#),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"garita_webhook_last_verified_timestamp_seconds{profile="pagoefectivo",route="pe-notify"}"#),
        "{scrape}"
    );
    // The audit trail labels the creation request paid, once: what `rules report` reads.
    let creation = gw.wait_for_decisions(1)[0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let settled = settled_lines(&gw, 1);
    assert_eq!(settled.len(), 1, "{settled:?}");
    assert_eq!(settled[0]["request"], creation.as_str());
    assert_eq!(settled[0]["outcome"], "paid");
    assert!(
        !settled[0].to_string().contains(&cip),
        "the code itself is not logged"
    );
    // A compressed answer reaches the client as it was and is not read.
    let gz = create(&gw, "11223344", Some("gzip"));
    assert_eq!(gz.status, 200);
    assert!(!cip_of(&gz).is_empty(), "the client's answer is untouched");
    gw.wait_for_metric(r#"garita_payment_codes_total{outcome="compressed",route="cips"} 1"#);
}

#[test]
fn the_heartbeat_starts_with_the_gateway_and_business_hours_follow_the_shops_clock() {
    // 03:30 UTC is 22:30 in Lima: the shop closed at 22:00.
    let rules = format!(
        "{RULES}\n[identity]\nhash_key_env = \"HASH_KEY\"\nbusiness_hours = \"08:00-22:00\"\n"
    );
    let closed = TestGateway::builder()
        .env("PE_SECRET", PE_SECRET)
        .env("RITA_TOKEN", RITA)
        .env("HASH_KEY", "a-hash-key-of-32-bytes-for-tests")
        .clock("2026-11-25T03:30:00Z")
        .rules(&rules)
        .start();
    // Never verified since it started: silent since the start, not absent (set by the
    // first housekeeping tick, which sets the business-hours gauge before it).
    let scrape = closed.wait_for_metric(
        r#"garita_webhook_last_verified_timestamp_seconds{profile="pagoefectivo",route="pe-notify"} 1795577400"#,
    );
    assert!(scrape.contains("garita_shop_open 0"), "{scrape}");
    // A verified notification moves it to its own time.
    closed.set_clock("2026-11-25T04:00:00Z");
    assert_eq!(notify(&closed, "2364999", "paid", "op-9").status, 200);
    closed.wait_for_metric(
        r#"garita_webhook_last_verified_timestamp_seconds{profile="pagoefectivo",route="pe-notify"} 1795579200"#,
    );
    // Without business hours every hour counts as open.
    gateway().wait_for_metric("garita_shop_open 1");
}

/// The `code_settled` lines of the gateway's audit trail, once there are `n`.
fn settled_lines(gw: &TestGateway, n: usize) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for _ in 0..250 {
        let text = std::fs::read_to_string(gw.path("decisions.jsonl")).unwrap_or_default();
        lines = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["event"] == "code_settled")
            .collect();
        if lines.len() >= n {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    lines
}
