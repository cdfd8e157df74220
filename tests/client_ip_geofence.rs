//! The geofence acts on the client's real address: `X-Forwarded-For` counts only when the
//! peer is a trusted proxy, and both GeoIP record layouts are read.

mod support;

use support::{reason, RawRequest, TestGateway};

const PERU_ONLY: &str = "[policies.payments]\n\
geofence = { allow_countries = [\"PE\"], unknown = \"deny\" }\n\
[[routes]]\nname = \"cips\"\npaths = [\"/v1/cips\"]\npolicy = \"payments\"\n";

fn get_as(gw: &TestGateway, forwarded_for: &str) -> support::RawResponse {
    RawRequest::new("GET", "/v1/cips")
        .header("X-Forwarded-For", forwarded_for)
        .send(gw.proxy)
        .unwrap()
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // Nothing is trusted: the peer (127.0.0.1, no country) is the client.
    let gw = TestGateway::builder()
        .geoip("test-country.mmdb")
        .rules(PERU_ONLY)
        .start();
    let response = get_as(&gw, "192.0.2.10");
    assert_eq!(response.status, 403);
    assert_eq!(reason(&response), "country_unknown");
    assert!(gw.received().is_empty());
    let log = gw.wait_for_decisions(1);
    assert_eq!(log[0]["client_ip"], "127.0.0.1");
}

#[test]
fn forwarded_for_from_a_trusted_proxy_decides_the_country() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country.mmdb")
        .rules(PERU_ONLY)
        .start();
    assert_eq!(get_as(&gw, "192.0.2.10").status, 200);
    let us = get_as(&gw, "192.0.2.10, 198.51.100.7");
    assert_eq!(us.status, 403);
    assert_eq!(reason(&us), "country_not_allowed");
    // A spoofed left-most entry does not help: the right-most untrusted one counts.
    assert_eq!(get_as(&gw, "192.0.2.10, 198.51.100.7").status, 403);
    assert_eq!(get_as(&gw, "2001:db8:51::7").status, 200);
    assert_eq!(get_as(&gw, "2001:db8:1::7").status, 403);

    let received = gw.received();
    assert_eq!(received.len(), 2);
    // The backend sees the chain the trusted proxy vouched for, plus that proxy.
    assert_eq!(
        received[0].header("x-forwarded-for"),
        Some("192.0.2.10, 127.0.0.1")
    );
    let log = gw.wait_for_decisions(5);
    assert_eq!(log[0]["client_ip"], "192.0.2.10");
    assert_eq!(log[0]["country"], "PE");
    assert_eq!(log[1]["client_ip"], "198.51.100.7");
    assert_eq!(log[1]["country"], "US");
}

#[test]
fn the_ip_location_db_layout_works_the_same() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country-ipdb.mmdb")
        .rules(PERU_ONLY)
        .start();
    assert_eq!(get_as(&gw, "192.0.2.10").status, 200);
    assert_eq!(get_as(&gw, "198.51.100.7").status, 403);
}

#[test]
fn a_custom_header_and_a_mangled_chain() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]\nheader = \"CF-Connecting-IP\"")
        .geoip("test-country.mmdb")
        .rules(PERU_ONLY)
        .start();
    let ok = RawRequest::new("GET", "/v1/cips")
        .header("CF-Connecting-IP", "192.0.2.10")
        .header("X-Forwarded-For", "198.51.100.7")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(ok.status, 200);
    let mangled = RawRequest::new("GET", "/v1/cips")
        .header("CF-Connecting-IP", "not-an-ip")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(mangled.status, 400);
    assert_eq!(reason(&mangled), "malformed_forwarded_for");
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn block_countries_and_unknown_allowed() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .geoip("test-country.mmdb")
        .rules("[policies.open.geofence]\nblock_countries = [\"CN\"]\n")
        .start();
    assert_eq!(get_as(&gw, "198.51.100.7").status, 200);
    assert_eq!(get_as(&gw, "10.9.8.7").status, 200);
    let cn = get_as(&gw, "203.0.113.1");
    assert_eq!(cn.status, 403);
    assert_eq!(reason(&cn), "country_blocked");
}
