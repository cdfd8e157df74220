//! Webhook routes end to end: only verified, fresh, first-time notifications reach the
//! backend, byte for byte.

mod fixtures;
mod support;

use garita::core::webhook::{sign, Profile};
use support::{reason, RawRequest, RawResponse, TestGateway};

use fixtures::PE_SECRET;

fn paid(operation: &str) -> String {
    fixtures::pe_paid(operation)
}

fn pe_rules(extra: &str) -> String {
    format!(
        "[policies.pe]\n[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ env = \"PE_NEW\" }}, {{ env = \"PE_OLD\" }}]\n{extra}\n\
         [[routes]]\nname = \"pe-notify\"\nmethods = [\"POST\"]\npaths = [\"/webhooks/pagoefectivo\"]\npolicy = \"pe\"\n"
    )
}

fn gateway(extra: &str) -> TestGateway {
    TestGateway::builder()
        .env("PE_NEW", PE_SECRET)
        .env("PE_OLD", "the-secret-before-rotation")
        .rules(&pe_rules(extra))
        .start()
}

fn deliver(gw: &TestGateway, path: &str, body: &str, headers: &[(String, String)]) -> RawResponse {
    let mut request = RawRequest::new("POST", path).header("Content-Type", "application/json");
    for (n, v) in headers {
        request = request.header(n, v);
    }
    request.body(body).send(gw.proxy).unwrap()
}

fn pe_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    sign(
        &Profile::PagoEfectivo,
        secret.as_bytes(),
        body.as_bytes(),
        0,
        "",
    )
}

#[test]
fn a_valid_notification_is_forwarded_byte_identical() {
    let gw = gateway("");
    let body = paid("1001");
    let headers = pe_headers(PE_SECRET, &body);
    let r = deliver(&gw, "/webhooks/pagoefectivo", &body, &headers);
    assert_eq!(r.status, 200);
    let received = gw.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, body.as_bytes());
    assert_eq!(
        received[0].header("pe-signature"),
        Some(headers[0].1.as_str())
    );
}

#[test]
fn forged_edited_and_reformatted_notifications_never_reach_the_backend() {
    let gw = gateway("");
    let body = paid("1002");
    let headers = pe_headers(PE_SECRET, &body);
    let mut flipped = body.clone().into_bytes();
    flipped[40] ^= 0x01;
    let flipped = String::from_utf8(flipped).unwrap();
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    let amount_changed = body.replace("120.00", "1200.00");
    for (name, b) in [
        ("flipped byte", &flipped),
        ("re-serialised", &reformatted),
        ("amount edited", &amount_changed),
    ] {
        let r = deliver(&gw, "/webhooks/pagoefectivo", b, &headers);
        assert_eq!(r.status, 401, "{name}");
        assert_eq!(reason(&r), "bad_signature", "{name}");
    }
    let unsigned = deliver(&gw, "/webhooks/pagoefectivo", &body, &[]);
    assert_eq!(unsigned.status, 401);
    assert_eq!(reason(&unsigned), "missing_signature");
    let wrong_secret = deliver(
        &gw,
        "/webhooks/pagoefectivo",
        &body,
        &pe_headers("guessed", &body),
    );
    assert_eq!(wrong_secret.status, 401);
    assert!(gw.received().is_empty());
    // The forgeries did not burn the event: the real one still goes through.
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &body, &headers).status,
        200
    );
    let scrape =
        gw.wait_for_metric(r#"garita_webhooks_total{outcome="verified",profile="pagoefectivo"} 1"#);
    assert!(
        scrape
            .contains(r#"garita_webhooks_total{outcome="bad_signature",profile="pagoefectivo"} 4"#),
        "{scrape}"
    );
    assert!(scrape.contains(
        r#"garita_webhooks_total{outcome="missing_signature",profile="pagoefectivo"} 1"#
    ));
    support::assert_promtool_accepts(&scrape);
}

#[test]
fn both_secrets_verify_during_a_rotation() {
    let gw = gateway("");
    let first = paid("2001");
    let second = paid("2002");
    assert_eq!(
        deliver(
            &gw,
            "/webhooks/pagoefectivo",
            &first,
            &pe_headers(PE_SECRET, &first)
        )
        .status,
        200
    );
    let old = pe_headers("the-secret-before-rotation", &second);
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &second, &old).status,
        200
    );
    assert_eq!(gw.received().len(), 2);
}

#[test]
fn the_same_notification_twice_is_forwarded_once() {
    let gw = gateway("");
    let body = paid("OP-3001");
    let headers = pe_headers(PE_SECRET, &body);
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &body, &headers).status,
        200
    );
    let again = deliver(&gw, "/webhooks/pagoefectivo", &body, &headers);
    assert_eq!(
        again.status, 200,
        "acknowledged so the provider stops retrying"
    );
    assert_eq!(again.json().unwrap()["status"], "duplicate");
    // Without operationNumber, data.cip + eventType name the event.
    let expired = r#"{"eventType":"cip.expired","data":{"cip":"2538913"}}"#;
    let h = pe_headers(PE_SECRET, expired);
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", expired, &h).status,
        200
    );
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", expired, &h)
            .json()
            .unwrap()["status"],
        "duplicate"
    );
    assert_eq!(gw.received().len(), 2);
    // Acknowledged repeats are counted and logged as duplicates, not denials.
    let log = gw.wait_for_decisions(4);
    let decisions: Vec<&str> = log
        .iter()
        .map(|l| l["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "duplicate", "allow", "duplicate"]);
    // Each line names its event by a keyed hash: the same event the same, another not,
    // the provider's id nowhere.
    let events: Vec<&str> = log.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert!(events[0].len() == 32 && events[0].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(events[0], events[1]);
    assert_eq!(events[2], events[3]);
    assert_ne!(events[0], events[2]);
    assert!(!gw.decision_log_text().contains("OP-3001"));
    gw.wait_for_metric(
        "garita_requests_total{decision=\"duplicate\",fact=\"\",reason=\"duplicate_notification\",route=\"pe-notify\"} 2",
    );
    let no_key = r#"{"eventType":"cip.paid"}"#;
    let r = deliver(
        &gw,
        "/webhooks/pagoefectivo",
        no_key,
        &pe_headers(PE_SECRET, no_key),
    );
    assert_eq!(r.status, 400);
    assert_eq!(reason(&r), "missing_replay_key");
}

#[test]
fn duplicates_can_be_forwarded_marked() {
    let gw = gateway("on_duplicate = \"forward\"");
    let body = paid("4001");
    let headers = pe_headers(PE_SECRET, &body);
    let mut forged_mark = headers.clone();
    forged_mark.push(("X-Garita-Duplicate".into(), "true".into()));
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &body, &forged_mark).status,
        200
    );
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &body, &headers).status,
        200
    );
    let received = gw.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("x-garita-duplicate"), None);
    assert_eq!(received[1].header("x-garita-duplicate"), Some("true"));
}

#[test]
fn a_failed_delivery_is_not_remembered() {
    let gw = TestGateway::builder()
        .env("PE_NEW", PE_SECRET)
        .env("PE_OLD", "an-older-secret-of-the-shop")
        .rules(&pe_rules(""))
        .dead_upstream()
        .start();
    let body = paid("5001");
    let headers = pe_headers(PE_SECRET, &body);
    // The backend is down: the provider will retry, and the retry must not look like a replay.
    for _ in 0..2 {
        let r = deliver(&gw, "/webhooks/pagoefectivo", &body, &headers);
        assert_eq!(r.status, 502);
    }
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let rules = "[policies.stripe.webhook]\nprofile = \"stripe\"\nsecrets = [{ env = \"STRIPE_SECRET\" }]\ntolerance_seconds = 300\n\
                 [[routes]]\nname = \"stripe\"\npaths = [\"/webhooks/stripe\"]\npolicy = \"stripe\"\n";
    let gw = TestGateway::builder()
        .env("STRIPE_SECRET", "whsec_test_secret_stripe")
        .rules(rules)
        .start();
    let now = jiff::Timestamp::now().as_second();
    let event = |id: &str| format!(r#"{{"id":"{id}","type":"payment_intent.succeeded"}}"#);
    let at = |body: &str, t: i64| {
        sign(
            &Profile::Stripe,
            b"whsec_test_secret_stripe",
            body.as_bytes(),
            t,
            "",
        )
    };
    let fresh = event("evt_fresh");
    assert_eq!(
        deliver(&gw, "/webhooks/stripe", &fresh, &at(&fresh, now - 10)).status,
        200
    );
    let stale = event("evt_stale");
    let r = deliver(&gw, "/webhooks/stripe", &stale, &at(&stale, now - 600));
    assert_eq!((r.status, reason(&r).as_str()), (401, "timestamp_too_old"));
    let future = event("evt_future");
    let r = deliver(&gw, "/webhooks/stripe", &future, &at(&future, now + 600));
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (401, "timestamp_in_future")
    );
    // Stripe's event id names the event: a re-signed copy of evt_fresh is still a replay.
    let again = deliver(&gw, "/webhooks/stripe", &fresh, &at(&fresh, now - 5));
    assert_eq!(again.json().unwrap()["status"], "duplicate");
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn only_the_providers_networks_may_notify() {
    let gw = gateway("source_ips = [\"10.0.0.0/8\"]");
    let body = paid("6001");
    let r = deliver(
        &gw,
        "/webhooks/pagoefectivo",
        &body,
        &pe_headers(PE_SECRET, &body),
    );
    assert_eq!(r.status, 403);
    assert_eq!(reason(&r), "webhook_source_not_allowed");
    assert!(gw.received().is_empty());
}

#[test]
fn a_shadow_policy_still_never_forwards_an_unverified_notification() {
    // The connection rules would deny (blocked network), but the policy only records that;
    // verification is not skipped for it.
    let rules = pe_rules("").replace(
        "[policies.pe]\n",
        "[policies.pe]\nmode = \"shadow\"\nip_rules = { block = [\"127.0.0.0/8\"] }\n",
    );
    let gw = TestGateway::builder()
        .env("PE_NEW", PE_SECRET)
        .env("PE_OLD", "an-older-secret-of-the-shop")
        .rules(&rules)
        .start();
    let body = paid("7001");
    let forged = deliver(
        &gw,
        "/webhooks/pagoefectivo",
        &body.replace("120.00", "1.00"),
        &pe_headers(PE_SECRET, &body),
    );
    assert_eq!(forged.status, 401);
    assert_eq!(
        deliver(
            &gw,
            "/webhooks/pagoefectivo",
            &body,
            &pe_headers(PE_SECRET, &body)
        )
        .status,
        200
    );
    assert_eq!(gw.received().len(), 1);
    let lines = gw.wait_for_decisions(2);
    assert_eq!(lines[1]["decision"], "shadow_deny");
    assert_eq!(lines[1]["reasons"][0], "ip_blocked");
}

#[test]
fn a_webhook_path_has_no_second_door_through_another_method() {
    let gw = gateway("");
    let forged = paid("6001");
    for method in ["PUT", "PATCH", "DELETE", "GET"] {
        let r = RawRequest::new(method, "/webhooks/pagoefectivo")
            .header("Content-Type", "application/json")
            .header("PE-Signature", &"0".repeat(64))
            .body(forged.as_str())
            .send(gw.proxy)
            .unwrap();
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("POST"), "{method}");
        assert_eq!(reason(&r), "method_not_allowed", "{method}");
    }
    assert!(gw.received().is_empty(), "{:?}", gw.received());
}

#[test]
fn an_events_records_and_log_lines_are_found_by_its_id() {
    let gw = TestGateway::builder()
        .env("PE_NEW", PE_SECRET)
        .env("PE_OLD", "the-secret-before-rotation")
        .env("ADMIN_TOKEN", "a-token-for-event-lookups")
        .rules(&format!(
            "{}\n[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", env = \"ADMIN_TOKEN\" }}]\n",
            pe_rules("")
        ))
        .start();
    let body = paid("OP-77");
    let headers = pe_headers(PE_SECRET, &body);
    assert_eq!(
        deliver(&gw, "/webhooks/pagoefectivo", &body, &headers).status,
        200
    );
    let line = &gw.wait_for_decisions(1)[0];
    let r = gw.admin_call(
        "GET",
        "/admin/keys/event/OP-77",
        Some("a-token-for-event-lookups"),
        None,
    );
    assert_eq!(r.status, 200);
    let keys = r.json().unwrap();
    assert_eq!(keys["log_hash"], line["event"], "{keys}");
    assert_eq!(keys["held"][0]["kind"], "webhook_event");
    assert_eq!(keys["held"][0]["state"], "delivered");
}
