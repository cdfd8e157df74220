//! Path tricks do not get a request around its route, a method the route does not take gets
//! 405 instead of a laxer policy, and unreadable paths are refused.

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
    // A neighbour path is not the route.
    assert_eq!(
        RawRequest::new("POST", "/v1/cipsx")
            .body("{}")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn other_methods_on_a_routes_path_get_405_and_never_the_default_policy() {
    let gw = TestGateway::builder().rules(PROTECTED).start();
    let mut refused = 0;
    for method in ["PUT", "PATCH", "DELETE", "GET", "HEAD", "OPTIONS"] {
        for path in ["/v1/cips", "/V1//cips/", "/checkout/pay"] {
            let response = RawRequest::new(method, path)
                .body("{}")
                .send(gw.proxy)
                .unwrap();
            assert_eq!(response.status, 405, "{method} {path}");
            assert_eq!(response.header("allow"), Some("POST"), "{method} {path}");
            if method != "HEAD" {
                assert_eq!(reason(&response), "method_not_allowed", "{method} {path}");
            }
            refused += 1;
        }
    }
    assert!(gw.received().is_empty(), "{:?}", gw.received());
    let lines = gw.wait_for_decisions(refused);
    assert_eq!(lines.len(), refused);
    for line in &lines {
        assert_eq!(line["route"], "cips", "{line}");
        assert_eq!(line["decision"], "deny", "{line}");
        assert_eq!(line["reasons"][0], "method_not_allowed", "{line}");
        assert_eq!(line["status"], 405, "{line}");
    }
    gw.wait_for_metric(&format!(
        "garita_requests_total{{decision=\"deny\",fact=\"\",reason=\"method_not_allowed\",route=\"cips\"}} {refused}"
    ));
}

#[test]
fn several_routes_on_one_path_split_it_by_method() {
    let rules = format!(
        "{PROTECTED}[[routes]]\nname = \"cips-read\"\nmethods = [\"GET\"]\npaths = [\"/v1/cips\"]\npolicy = \"open\"\n"
    );
    let gw = TestGateway::builder().rules(&rules).start();
    let send = |method: &str| RawRequest::new(method, "/v1/cips").send(gw.proxy).unwrap();
    assert_eq!(send("GET").status, 200);
    assert_eq!(send("HEAD").status, 200);
    assert_eq!(
        send("POST").status,
        403,
        "the first route on the path keeps POST"
    );
    let delete = send("DELETE");
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("POST, GET, HEAD"));
    let received = gw.received();
    let methods: Vec<&str> = received.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "HEAD"]);
}

#[test]
fn connect_is_refused_logged_and_counted() {
    let gw = TestGateway::builder().start();
    let raw = b"CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n";
    let response = send_bytes(gw.proxy, raw).unwrap();
    assert_eq!(response.status, 405);
    assert_eq!(reason(&response), "method_not_allowed");
    assert!(gw.received().is_empty());
    let lines = gw.wait_for_decisions(1);
    assert_eq!(lines[0]["method"], "CONNECT");
    assert_eq!(lines[0]["reasons"][0], "method_not_allowed");
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
