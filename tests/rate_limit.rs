//! Per-address rate limits: exactly the burst passes, then 429 with the retry headers.

mod support;

use support::{reason, TestGateway};

const LIMITED: &str = "[policies.payments]\n\
ip_rules = { allow = [\"192.0.2.200\"] }\n\
rate_limit = { requests = 1, per = \"1h\", burst = 5 }\n\
[[routes]]\nname = \"cips\"\nmethods = [\"POST\"]\npaths = [\"/v1/cips\"]\npolicy = \"payments\"\n";

fn gateway() -> TestGateway {
    TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .rules(LIMITED)
        .start()
}

#[test]
fn exactly_the_burst_passes_then_429_with_retry_after() {
    let gw = gateway();
    for i in 0..5 {
        let r = gw.post_from("192.0.2.1", "/v1/cips", "{}");
        assert_eq!(r.status, 200, "request {i} of the burst");
    }
    let limited = gw.post_from("192.0.2.1", "/v1/cips", "{}");
    assert_eq!(limited.status, 429);
    assert_eq!(reason(&limited), "rate_limited");
    let json = limited.json().unwrap();
    assert_eq!(json["error"], "too_many_requests");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    // One request is earned back every hour.
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"payments\";q=5;w=18000")
    );
    assert_eq!(
        limited.header("ratelimit"),
        Some(format!("\"payments\";r=0;t={retry_after}").as_str())
    );
    assert_eq!(gw.received().len(), 5);
}

#[test]
fn limits_are_per_address_and_allow_listed_addresses_skip_them() {
    let gw = gateway();
    for _ in 0..5 {
        assert_eq!(gw.post_from("192.0.2.1", "/v1/cips", "{}").status, 200);
    }
    assert_eq!(gw.post_from("192.0.2.1", "/v1/cips", "{}").status, 429);
    assert_eq!(gw.post_from("192.0.2.2", "/v1/cips", "{}").status, 200);
    for _ in 0..8 {
        assert_eq!(gw.post_from("192.0.2.200", "/v1/cips", "{}").status, 200);
    }
    // Another route is not limited by this policy.
    let other = support::RawRequest::new("GET", "/v1/orders")
        .header("X-Forwarded-For", "192.0.2.1")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(other.status, 200);
    assert_eq!(gw.received().len(), 5 + 1 + 8 + 1);
}

#[test]
fn ipv6_clients_are_limited_per_prefix() {
    let gw = gateway();
    for i in 0..5 {
        let ip = format!("2001:db8:7:7::{i}");
        assert_eq!(gw.post_from(&ip, "/v1/cips", "{}").status, 200);
    }
    assert_eq!(
        gw.post_from("2001:db8:7:7:ffff::1", "/v1/cips", "{}")
            .status,
        429
    );
    assert_eq!(
        gw.post_from("2001:db8:7:8::1", "/v1/cips", "{}").status,
        200
    );
}
