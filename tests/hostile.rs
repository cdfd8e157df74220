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
fn a_request_behind_a_chunked_body_with_a_length_is_never_smuggled() {
    let gw = TestGateway::builder().start();
    // Framed by length, the body is "0\r\n\r" and the smuggled request follows; framed by
    // chunks, the body is empty. garita frames by chunks and then closes the connection.
    let raw =
        b"POST /pay HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let response = send_bytes(gw.proxy, raw).unwrap();
    assert_eq!(response.status, 200);
    let received = gw.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].target, "/pay");
    assert_eq!(received[0].header("content-length"), None);
    assert_eq!(received[0].header("transfer-encoding"), Some("chunked"));
    assert!(received[0].body.is_empty());
}
