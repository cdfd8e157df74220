//! Framing the hostile run found mishandled: a repeated `Content-Length`, a client waiting
//! for `100 Continue`, and requests pipelined on one connection.

mod fixtures;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::{reason, send_bytes, TestGateway};

const CIPS: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
account = "json:/userId"
[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#;

#[test]
fn a_content_length_given_twice_is_refused_even_with_one_value() {
    let gw = TestGateway::builder().rules(CIPS).start();
    for (name, head) in [
        ("a list", "Content-Length: 4, 4\r\n"),
        ("two lines", "Content-Length: 4\r\nContent-Length: 4\r\n"),
    ] {
        for path in ["/", "/v1/cips"] {
            let bytes = format!(
                "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n{head}Connection: close\r\n\r\n{{}}  "
            );
            let response = send_bytes(gw.proxy, bytes.as_bytes()).unwrap();
            assert_eq!(response.status, 400, "{name} on {path}");
            assert_eq!(reason(&response), "conflicting_framing", "{name} on {path}");
        }
    }
    assert!(gw.received().is_empty(), "{:?}", gw.received());
}

/// Send a head that asks for `100 Continue`, and read what comes back before any body.
fn ask_to_continue(gw: &TestGateway, path: &str, body: &str) -> (TcpStream, String) {
    let mut conn = TcpStream::connect(gw.proxy).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 256];
    let n = conn.read(&mut buf).unwrap_or(0);
    (conn, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn a_client_waiting_for_100_continue_is_told_to_go_on() {
    let gw = TestGateway::builder().rules(CIPS).start();
    let body = fixtures::cip_request("45678912", "acct-1");
    let (mut conn, interim) = ask_to_continue(&gw, "/v1/cips", &body);
    assert!(interim.starts_with("HTTP/1.1 100"), "got {interim:?}");
    conn.write_all(body.as_bytes()).unwrap();
    let mut rest = String::new();
    conn.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("HTTP/1.1 200"), "{rest}");
    let received = gw.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, body.as_bytes());
    // The backend gets the whole body at once, with no expectation left to answer.
    assert!(received[0].header_values("expect").is_empty());

    // A body declared too large is refused without being invited.
    let big = "x".repeat(70 * 1024);
    let (_conn, answer) = ask_to_continue(&gw, "/v1/cips", &big);
    assert!(answer.starts_with("HTTP/1.1 413"), "got {answer:?}");
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let gw = TestGateway::builder().rules(CIPS).start();
    let body = fixtures::cip_request("45678912", "acct-1");
    let requests = format!(
        "GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
         POST /v1/cips HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}\
         DELETE /v1/cips HTTP/1.1\r\nHost: a\r\n\r\n\
         GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut conn = TcpStream::connect(gw.proxy).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(requests.as_bytes()).unwrap();
    let mut answers = String::new();
    conn.read_to_string(&mut answers).unwrap();
    let statuses: Vec<&str> = answers
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &answers[at + 9..at + 12])
        .collect();
    // A refusal without a body to skip leaves the connection to the next request.
    assert_eq!(statuses, ["200", "200", "405", "200"], "{answers}");
    let targets: Vec<String> = gw.received().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/first", "/v1/cips", "/third"]);
}
