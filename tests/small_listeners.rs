//! The admin and metrics listeners get slow-client limits of their own: a head deadline,
//! an idle timeout, connection caps; a body too large for the admin API gets 413 (read by
//! the client, not a reset) and a head of ten thousand headers 431.
//!
//! Each test configures short limits and waits, with generous bounds, for what must
//! happen; none asserts how fast it happened.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{closed_by_server, TestGateway};

const TOKEN: &str = "a-small-listeners-token";

fn gateway(admin_limits: &str, metrics_limits: &str) -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .rules(&format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", env = \"ADMIN_TOKEN\" }}]\n{admin_limits}\n"
        ))
        .metrics_settings(metrics_limits)
        .start()
}

/// Send a head one byte at a time; whether the server closed the connection within 20 s.
fn trickled_until_cut_off(addr: SocketAddr) -> bool {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /admin/healthz HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if conn.write_all(b"a").is_err() || closed_by_server(&mut conn, Duration::from_millis(300))
        {
            return true;
        }
    }
    false
}

/// The status of the answer on `conn` to what was written.
fn status_of(conn: &mut TcpStream) -> u16 {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).expect("an answer, not a reset");
        assert!(n > 0, "closed before answering");
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_trickled_head_is_cut_off_on_the_admin_and_metrics_listeners() {
    let gw = gateway("header_timeout_seconds = 1", "header_timeout_seconds = 1");
    assert!(trickled_until_cut_off(gw.admin.unwrap()), "admin");
    assert!(trickled_until_cut_off(gw.metrics), "metrics");
    // A connection that says nothing at all is closed too.
    let mut silent = TcpStream::connect(gw.admin.unwrap()).unwrap();
    assert!(closed_by_server(&mut silent, Duration::from_secs(20)));
}

#[test]
fn an_idle_kept_alive_admin_connection_is_closed() {
    let gw = gateway("keepalive_timeout_seconds = 1", "");
    let mut conn = TcpStream::connect(gw.admin.unwrap()).unwrap();
    conn.write_all(b"GET /admin/healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert_eq!(status_of(&mut conn), 401);
    assert!(closed_by_server(&mut conn, Duration::from_secs(20)));
}

#[test]
fn connections_over_the_admin_caps_are_closed_at_once_and_counted() {
    let gw = gateway("max_connections = 50\nmax_connections_per_address = 4", "");
    let admin = gw.admin.unwrap();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(admin).unwrap()).collect();
    // The server takes the held ones first: each is open, the fifth is closed.
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = TcpStream::connect(admin).unwrap();
    assert!(closed_by_server(&mut fifth, Duration::from_secs(10)));
    gw.wait_for_metric(
        "garita_connections_refused_total{reason=\"admin_max_connections_per_address\"} 1",
    );
    drop(held);
    // Places come back when connections close.
    support::eventually("the admin listener answers again", || {
        support::RawRequest::new("GET", "/admin/healthz")
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send(admin)
            .is_ok_and(|r| r.status == 200)
    });
}

#[test]
fn a_body_too_large_gets_413_and_ten_thousand_headers_431() {
    let gw = gateway("", "");
    let admin = gw.admin.unwrap();

    let body = vec![b'x'; 5 << 20];
    let mut conn = TcpStream::connect(admin).unwrap();
    let head = format!(
        "POST /admin/blocks HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    // The answer may come before the whole body is sent; either way it is a 413.
    let writer = {
        let mut conn = conn.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = conn.write_all(&body);
        })
    };
    assert_eq!(status_of(&mut conn), 413);
    writer.join().unwrap();

    for addr in [admin, gw.metrics] {
        let mut conn = TcpStream::connect(addr).unwrap();
        let mut head = String::from("GET /metrics HTTP/1.1\r\nHost: a\r\n");
        for i in 0..10_000 {
            head.push_str(&format!("x-{i}: 1\r\n"));
        }
        head.push_str("\r\n");
        let _ = conn.write_all(head.as_bytes());
        assert_eq!(status_of(&mut conn), 431, "{addr}");
    }
    // Both listeners still serve.
    assert_eq!(
        gw.admin_call("GET", "/admin/healthz", Some(TOKEN), None)
            .status,
        200
    );
    assert!(gw.scrape().contains("garita_requests_total"));
}
