//! Payment codes end to end: the recording backend answers creation requests the way a
//! shop relaying PagoEfectivo does; garita keeps each code with the request's identity
//! keys, settles it with the signed notifications the backend accepted, and the
//! `unpaid_codes` rule reads what it counted.

mod fixtures;
mod support;

use fixtures::PE_SECRET;
use garita::core::webhook::{sign, Profile};
use support::{RawRequest, RawResponse, TestGateway};

const RULES: &str = r#"
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

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[[routes]]
name = "pe-notify"
methods = ["POST"]
paths = ["/webhooks/pagoefectivo"]
policy = "pe"
"#;

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", PE_SECRET)
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
    let body = format!(
        r#"{{"eventType":"cip.{event}","operationNumber":"{operation}","data":{{"cip":"{cip}","currency":"PEN","amount":"25.00"}}}}"#
    );
    let mut request = RawRequest::new("POST", "/webhooks/pagoefectivo")
        .header("Content-Type", "application/json");
    for (name, value) in sign(
        &Profile::PagoEfectivo,
        PE_SECRET.as_bytes(),
        body.as_bytes(),
        0,
        "",
    ) {
        request = request.header(&name, &value);
    }
    request.body(body).send(gw.proxy).expect("gateway answers")
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
    // A compressed answer reaches the client as it was and is not read.
    let gz = create(&gw, "11223344", Some("gzip"));
    assert_eq!(gz.status, 200);
    assert!(!cip_of(&gz).is_empty(), "the client's answer is untouched");
    gw.wait_for_metric(r#"garita_payment_codes_total{outcome="compressed",route="cips"} 1"#);
}
