//! Path tricks do not get a request around its route, and unreadable paths are refused.

mod support;

use support::{reason, send_bytes, RawRequest, TestGateway};

const PROTECTED: &str = "[policies.closed]\nip_rules = { block = [\"0.0.0.0/0\", \"::/0\"] }\n\
[[routes]]\nname = \"cips\"\nmethods = [\"POST\"]\npaths = [\"/v1/cips\", \"/checkout/**\"]\npolicy = \"closed\"\n";

#[test]
fn spellings_of_a_protected_path_all_hit_its_route() {
    let gw = TestGateway::builder().rules(PROTECTED).start();
    let tricks = [
        "/v1/cips",
        "/v1/cips/",
        "//v1//cips",
        "/v1/./cips",
        "/x/../v1/cips",
        "/checkout/../v1/cips",
        "/V1/CIPS",
        "/v1%2Fcips",
        "/v1%2fcips",
        "/%761/cips",
        "/v1/cips;jsessionid=1",
        "/v1;x/cips",
        "/v1\\cips",
        "/v1/cips?debug=1",
        "/checkout/pay",
        "/checkout/../checkout/pay",
        "/CHECKOUT/pay",
    ];
    for path in tricks {
        let response = RawRequest::new("POST", path)
            .body("{}")
            .send(gw.proxy)
            .unwrap();
        assert_eq!(response.status, 403, "{path}");
        assert_eq!(reason(&response), "ip_blocked", "{path}");
    }
    assert!(gw.received().is_empty());
    // The same paths with another method, or a neighbour path, are not the route.
    assert_eq!(
        RawRequest::new("GET", "/v1/cips")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        RawRequest::new("POST", "/v1/cipsx")
            .body("{}")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    assert_eq!(gw.received().len(), 2);
}

#[test]
fn paths_that_cannot_be_normalised_are_refused() {
    let gw = TestGateway::builder().rules(PROTECTED).start();
    for path in [
        "/v1%252Fcips",
        "/v1/%zz",
        "/v1/cips%00",
        "/../v1/cips",
        "/v1/%c3%28",
    ] {
        let response = RawRequest::new("POST", path)
            .body("{}")
            .send(gw.proxy)
            .unwrap();
        assert_eq!(response.status, 400, "{path}");
        assert_eq!(reason(&response), "malformed_path", "{path}");
    }
    assert!(gw.received().is_empty());
}

#[test]
fn absolute_form_targets_are_routed_by_their_path() {
    let gw = TestGateway::builder().rules(PROTECTED).start();
    let raw = b"POST http://shop.test/x/../v1/cips HTTP/1.1\r\nHost: shop.test\r\n\
Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    let response = send_bytes(gw.proxy, raw).unwrap();
    assert_ne!(response.status, 200);
    assert!(gw.received().is_empty());
}
