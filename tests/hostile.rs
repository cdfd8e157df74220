//! Hostile request heads: refused with a clear status, never forwarded, and the gateway
//! keeps serving afterwards.

mod support;

use support::{reason, send_bytes, RawRequest, TestGateway};

#[test]
fn smuggling_shapes_are_refused_and_never_forwarded() {
    let gw = TestGateway::builder().start();
    let cases: Vec<(&str, &[u8])> = vec![
        (
            "two different Content-Lengths",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabcd",
        ),
        (
            "unknown transfer coding",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
        ),
        (
            "space before the colon",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
        ),
        (
            "obsolete line folding",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n",
        ),
        ("a TLS hello on the plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    ];
    for (name, bytes) in cases {
        let response = send_bytes(gw.proxy, bytes).unwrap();
        assert_eq!(response.status, 400, "{name}");
    }
    assert!(gw.received().is_empty(), "{:?}", gw.received());
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn oversized_heads_get_431() {
    let gw = TestGateway::builder().start();
    let big = RawRequest::new("GET", "/")
        .header("X-Big", &"a".repeat(40 * 1024))
        .send(gw.proxy)
        .unwrap();
    assert_eq!(big.status, 431);
    assert_eq!(reason(&big), "headers_too_large");
    let long_target = format!("/search?q={}", "b".repeat(40 * 1024));
    assert_eq!(
        RawRequest::new("GET", &long_target)
            .send(gw.proxy)
            .unwrap()
            .status,
        431
    );
    assert!(gw.received().is_empty());
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
}

#[test]
fn a_length_beside_a_chunked_body_is_refused_on_every_route() {
    let gw = TestGateway::builder()
        .rules(
            "[policies.pay]\n[[routes]]\nname = \"pay\"\nmethods = [\"POST\"]\npaths = [\"/pay\"]\npolicy = \"pay\"\n",
        )
        .start();
    // Framed by length, the body is "0\r\n\r" and the smuggled request follows; framed by
    // chunks, the body is empty. Either way it is refused before anything is forwarded.
    for (target, head) in [
        ("/pay", "Content-Length: 4\r\nTransfer-Encoding: chunked"),
        ("/", "Transfer-Encoding: chunked\r\ncontent-length: 4"),
    ] {
        let raw = format!(
            "POST {target} HTTP/1.1\r\nHost: a\r\n{head}\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        );
        let response = send_bytes(gw.proxy, raw.as_bytes()).unwrap();
        assert_eq!(response.status, 400, "{target}");
        assert_eq!(reason(&response), "conflicting_framing", "{target}");
    }
    assert!(gw.received().is_empty(), "{:?}", gw.received());
    let lines = gw.wait_for_decisions(2);
    assert_eq!(lines[0]["reasons"][0], "conflicting_framing");
    // A chunked body alone is fine.
    let chunked = b"POST /pay HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    assert_eq!(send_bytes(gw.proxy, chunked).unwrap().status, 200);
    assert_eq!(gw.received()[0].body, b"{}");
}

#[test]
fn requests_the_parser_refuses_are_logged_and_counted() {
    let gw = TestGateway::builder().start();
    let garbage: [&[u8]; 4] = [
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 10\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET http://elsewhere.test/ HTTP/1.1\r\nHost: shop.test\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ];
    for bytes in garbage {
        let response = send_bytes(gw.proxy, bytes).unwrap();
        assert_eq!(response.status, 400, "{}", bytes.escape_ascii());
    }
    assert!(gw.received().is_empty());
    gw.wait_for_metric(
        "garita_requests_total{decision=\"deny\",fact=\"\",reason=\"malformed_request\",route=\"unparsed\"} 4",
    );
    let lines = gw.wait_for_decisions(4);
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert_eq!(line["decision"], "deny", "{line}");
        assert_eq!(line["reasons"][0], "malformed_request", "{line}");
        assert_eq!(line["route"], "unparsed", "{line}");
        assert_eq!(line["status"], 400, "{line}");
        assert_eq!(line["peer_ip"], "127.0.0.1", "{line}");
        assert_eq!(
            line["request_id"].as_str().map(str::len),
            Some(32),
            "{line}"
        );
    }
    // Nothing of what was sent is written anywhere.
    assert!(!gw.decision_log_text().contains("elsewhere"));
    assert!(!gw.stderr().contains("elsewhere"), "{}", gw.stderr());
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
}
