//! Slow and numerous clients: a request head has a total deadline, an idle kept-alive
//! connection is closed, and connections over the per-address or total cap are closed at
//! once and counted.
//!
//! Each test configures short limits and then waits, with generous bounds, for the thing
//! that must happen; none asserts how fast it happened.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{closed_by_server, RawRequest, TestGateway};

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).expect("connect")
}

/// One GET on a new kept-alive connection: the connection, and the answer's head in
/// lower case.
fn kept_alive_answer(addr: SocketAddr) -> (TcpStream, String) {
    let mut conn = connect(addr);
    conn.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    (conn, head)
}

/// Send a started head one byte at a time; whether the server closed the connection
/// within 20 s (twenty times the deadline the tests configure).
fn trickled_until_cut_off(conn: &mut TcpStream) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if conn.write_all(b"a").is_err() || closed_by_server(conn, Duration::from_millis(300)) {
            return true;
        }
    }
    false
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    let gw = TestGateway::builder()
        .server("header_timeout_seconds = 1")
        .start();
    let mut slow = connect(gw.proxy);
    slow.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .unwrap();
    // Each byte comes well inside Pingora's per-read timeout; only a deadline on the whole
    // head ends this. Twenty seconds of trickle is twenty times the deadline.
    assert!(
        trickled_until_cut_off(&mut slow),
        "a head trickled for 20 s was still being read"
    );
    assert!(gw.received().is_empty(), "{:?}", gw.received());
    gw.wait_for_metric("garita_header_timeouts_total 1");
    // Garita's own closing is counted, not reported as an error per connection.
    assert!(
        !gw.stderr().contains("Fail to proxy"),
        "stderr: {}",
        gw.stderr()
    );

    // A head that arrives whole is served as before, and so is one that takes a while
    // but finishes inside the deadline.
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
    let mut patient = connect(gw.proxy);
    patient.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    patient.write_all(b"Connection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    patient.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn the_deadline_applies_to_each_head_on_a_kept_alive_connection() {
    let gw = TestGateway::builder()
        .server("header_timeout_seconds = 1\nkeepalive_timeout_seconds = 30")
        .start();
    let (mut conn, head) = kept_alive_answer(gw.proxy);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let mut buf = [0u8; 4096];
    // Idle for longer than the head deadline is fine between requests...
    std::thread::sleep(Duration::from_millis(1500));
    conn.write_all(b"GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let n = conn.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    // ...but once the next head has begun, it must be finished in time.
    conn.write_all(b"GET /third HTTP/1.1\r\n").unwrap();
    assert!(
        trickled_until_cut_off(&mut conn),
        "the third head was read for 20 s"
    );
    assert_eq!(gw.received().len(), 2);
}

#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let gw = TestGateway::builder()
        .server("keepalive_timeout_seconds = 1")
        .start();
    let (mut conn, head) = kept_alive_answer(gw.proxy);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    // Without a keep-alive timeout Pingora would keep this open for as long as it lives.
    assert!(
        closed_by_server(&mut conn, Duration::from_secs(20)),
        "an idle connection was still open after 20 s"
    );
}

#[test]
fn keep_alive_can_be_turned_off() {
    let gw = TestGateway::builder()
        .server("keepalive_timeout_seconds = 0")
        .start();
    let response = RawRequest::new("GET", "/")
        .header("Connection", "keep-alive")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("connection").map(str::to_ascii_lowercase),
        Some("close".into())
    );
}

/// Open `n` connections that have not sent anything yet.
fn hold(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| connect(addr)).collect()
}

#[test]
fn connections_past_the_per_address_cap_are_closed_at_once() {
    // A long head deadline: an admitted connection stays open for the whole test.
    let gw = TestGateway::builder()
        .server("max_connections_per_address = 3\nheader_timeout_seconds = 120")
        .start();
    let mut held = hold(gw.proxy, 3);
    gw.wait_for_metric("garita_connections_open 3");
    let mut fourth = connect(gw.proxy);
    assert!(
        closed_by_server(&mut fourth, Duration::from_secs(10)),
        "a fourth connection from one address was kept"
    );
    gw.wait_for_metric(
        "garita_connections_refused_total{reason=\"max_connections_per_address\"} 1",
    );
    for conn in &mut held {
        assert!(!closed_by_server(conn, Duration::from_millis(100)));
    }

    // A place given back is a place for the next connection.
    drop(held.pop());
    gw.wait_for_metric("garita_connections_open 2");
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn trusted_proxies_are_exempt_from_the_per_address_cap_but_not_the_total() {
    let gw = TestGateway::builder()
        .server(
            "max_connections_per_address = 2\nmax_connections = 4\nheader_timeout_seconds = 120",
        )
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .start();
    let held = hold(gw.proxy, 4);
    gw.wait_for_metric("garita_connections_open 4");
    let mut fifth = connect(gw.proxy);
    assert!(closed_by_server(&mut fifth, Duration::from_secs(10)));
    gw.wait_for_metric("garita_connections_refused_total{reason=\"max_connections\"} 1");
    let scrape = gw.scrape();
    assert!(
        !scrape.contains("reason=\"max_connections_per_address\""),
        "{scrape}"
    );
    drop(held);
    gw.wait_for_metric("garita_connections_open 0");
    assert_eq!(
        RawRequest::new("GET", "/").send(gw.proxy).unwrap().status,
        200
    );
}

/// Resident KiB each of `count` idle kept-alive connections adds to a gateway with these
/// server settings (after a warm-up, so that what every connection reuses is not counted).
fn resident_kib_per_idle_connection(server: &str, count: usize) -> f64 {
    let gw = TestGateway::builder()
        .server(&format!("max_connections_per_address = 1000\n{server}"))
        .start();
    drop(
        (0..20)
            .map(|_| kept_alive_answer(gw.proxy).0)
            .collect::<Vec<_>>(),
    );
    gw.wait_for_metric("garita_connections_open 0");
    let before = gw.resident_kib();
    let held: Vec<_> = (0..count).map(|_| kept_alive_answer(gw.proxy).0).collect();
    gw.wait_for_metric(&format!("garita_connections_open {count}"));
    let after = gw.resident_kib();
    drop(held);
    after.saturating_sub(before) as f64 / count as f64
}

#[test]
fn an_idle_connection_holds_the_configured_read_buffer_not_pingoras_64_kib() {
    // Pingora's default buffer is 64 KiB; garita's is 16: 48 KiB less per connection, of
    // which at least 32 must show in the process's resident size.
    let pingoras = resident_kib_per_idle_connection("read_buffer_kib = 64", 300);
    let default = resident_kib_per_idle_connection("", 300);
    assert!(
        pingoras - default >= 32.0,
        "64 KiB buffers: {pingoras:.1} KiB per connection; the default: {default:.1}"
    );
}
