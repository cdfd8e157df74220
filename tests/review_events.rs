//! The loop back to the shop: every resolution of a review becomes a `review.resolved`
//! event, signed the Standard Webhooks way, kept in the store's outbox and posted to the
//! shop's URL until it answers 2xx: through a 500, and through a restart while the shop
//! is down.

mod support;

use base64::Engine as _;
use std::time::Duration;
use support::{EventReceiver, RawRequest, ReceivedEvent, TestGateway};

const TOKEN: &str = "an-admin-token-for-tests";
/// 32 bytes of key, as Standard Webhooks hands out secrets.
const KEY: &[u8; 32] = b"the-shops-review-events-key-32b!";

fn secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    )
}

fn rules(events_at: std::net::SocketAddr) -> String {
    format!(
        r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
amount = "json:/amount"
currency = "json:/currency"
order = "json:/transactionCode"

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = {{ PEN = "1000" }}
weight = 60

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[admin]
listen = "127.0.0.1:0"
tokens = [{{ name = "ops", env = "ADMIN_TOKEN" }}]

[review_events]
url = "http://{events_at}/garita/review-events"
secret = {{ env = "REVIEW_EVENTS_SECRET" }}
timeout_ms = 2000

[identity]
hash_key_env = "GARITA_HASH_KEY"
"#
    )
}

fn gateway(events_at: std::net::SocketAddr) -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("GARITA_HASH_KEY", "a-shared-secret-of-32-bytes-len!")
        .env("REVIEW_EVENTS_SECRET", &secret())
        .clock("2026-11-25T12:00:00Z")
        .rules(&rules(events_at))
        .start()
}

/// A large order, forwarded for review; its request id.
fn reviewed_order(gw: &TestGateway) -> String {
    let body = r#"{"userDocumentNumber":"44556677","amount":"1500.00","currency":"PEN","transactionCode":"T-1001"}"#;
    let answer = RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers");
    assert_eq!(answer.status, 200);
    let listed = gw.admin_call("GET", "/admin/reviews", Some(TOKEN), None);
    let reviews = listed.json().unwrap();
    reviews["reviews"][0]["id"].as_str().unwrap().to_string()
}

fn resolve(gw: &TestGateway, id: &str, outcome: &str) {
    let body = format!(r#"{{"outcome":"{outcome}"}}"#);
    let answer = gw.admin_call(
        "POST",
        &format!("/admin/reviews/{id}"),
        Some(TOKEN),
        Some(&body),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

fn signed_by_the_shops_key(event: &ReceivedEvent) -> bool {
    support::standard_webhooks_signed(event, KEY)
}

fn metric(gw: &TestGateway, line_start: &str) -> Option<f64> {
    gw.scrape()
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_resolution_reaches_the_shop_signed_and_again_after_a_500() {
    let shop = EventReceiver::start(&[500]);
    let gw = gateway(shop.addr);
    let id = reviewed_order(&gw);
    resolve(&gw, &id, "fraud");

    let first = shop.wait_for(1, Duration::from_secs(10));
    assert_eq!(first.len(), 1, "the event is sent at once");
    assert_eq!(first[0].answered, 500);
    // The retry is due 5 s after the failure, on garita's clock.
    gw.set_clock("2026-11-25T12:01:00Z");
    let got = shop.wait_for(2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "sent again after the 500");
    for event in &got {
        assert_eq!(event.path, "/garita/review-events");
        assert_eq!(event.header("content-type"), Some("application/json"));
        assert!(signed_by_the_shops_key(event), "{event:?}");
    }
    assert_eq!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "one event, one id: the shop drops repeats by it"
    );
    let body: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["type"], "review.resolved");
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["outcome"], "fraud");
    assert_eq!(
        body["order"], "T-1001",
        "the order's reference, from the order fact"
    );
    assert_eq!(body["by"], "ops");
    assert!(body["at"].as_i64().is_some());
    assert!(
        !String::from_utf8_lossy(&got[1].body).contains("44556677"),
        "no DNI in clear"
    );

    // Delivered: nothing more is sent, and the metrics say so.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(shop.received().len(), 2);
    assert_eq!(metric(&gw, "garita_outbox_events "), Some(0.0));
    assert_eq!(
        metric(&gw, "garita_reviews_resolved_total{outcome=\"fraud\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&gw, "garita_outbox_deliveries_total{result=\"failed\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&gw, "garita_outbox_deliveries_total{result=\"delivered\"}"),
        Some(1.0)
    );
}

#[test]
fn a_resolution_made_while_the_shop_is_down_survives_a_restart() {
    let down = support::unused_addr();
    let mut gw = gateway(down);
    let id = reviewed_order(&gw);
    resolve(&gw, &id, "approved");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        metric(&gw, "garita_outbox_events ").is_some_and(|n| n >= 1.0),
        "the event waits in the outbox"
    );
    gw.restart("TERM");
    let shop = EventReceiver::start_at(down, &[]);
    gw.set_clock("2026-11-25T13:00:00Z");
    let got = shop.wait_for(1, Duration::from_secs(15));
    assert_eq!(
        got.len(),
        1,
        "delivered once the shop is up, after the restart"
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        (body["request_id"].as_str(), body["outcome"].as_str()),
        (Some(id.as_str()), Some("approved"))
    );
    assert!(signed_by_the_shops_key(&got[0]));
}
