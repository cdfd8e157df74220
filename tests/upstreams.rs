//! Upstream health, through the real binary: a backend killed mid-load is taken out of the
//! rotation (the requests move to the other, its gauge flips to 0) and comes back when its
//! health checks pass again; an HTTP health check takes out a backend that answers 503;
//! a backend that drips its answer is cut off at the total timeout, and the decision log
//! says why.

mod support;

use garita::cli::demo::shop::DemoShop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{eventually, misbehaving_backend, RawRequest, TestGateway};

fn up(gw: &TestGateway, shop: &DemoShop) -> Option<u8> {
    let needle = format!("garita_upstream_up{{upstream=\"{}\"}} ", shop.addr());
    gw.scrape()
        .lines()
        .find_map(|l| l.strip_prefix(&needle)?.parse().ok())
}

#[test]
fn a_backend_killed_mid_load_leaves_the_rotation_and_comes_back() {
    let (a, b) = (DemoShop::start().unwrap(), DemoShop::start().unwrap());
    let gw = TestGateway::builder()
        .upstreams(&[a.addr(), b.addr()])
        .upstream_settings(
            "max_fails = 1\n[upstream.health_check]\ninterval_ms = 100\nhealthy_threshold = 2\n",
        )
        .start();
    assert_eq!((up(&gw, &a), up(&gw, &b)), (Some(1), Some(1)));

    let stop = Arc::new(AtomicBool::new(false));
    let proxy = gw.proxy;
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    match RawRequest::new("GET", "/pay").send(proxy) {
                        Ok(r) if r.status == 200 => ok += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    eventually("both backends serving", || a.count() > 20 && b.count() > 20);
    b.stop();
    eventually("b out of the rotation", || up(&gw, &b) == Some(0));
    let (a_then, b_then) = (a.count(), b.count());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (ok, failed): (u32, u32) = clients
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold((0, 0), |(o, f), (o2, f2)| (o + o2, f + f2));
    assert!(a.count() > a_then, "the traffic moved to a");
    assert_eq!(b.count(), b_then, "nothing reached the dead b");
    assert_eq!(up(&gw, &a), Some(1));
    // A connection refused is retried on the other upstream; only a request b had already
    // taken when it died may fail (one per client at most).
    assert!(failed <= 3, "{failed} of {} failed", ok + failed);
    gw.wait_for_stderr(&format!("upstream {} is down", b.addr()));

    // b comes back where it was: two passed checks bring it into the rotation again.
    let b_again = DemoShop::start_on(b.addr()).unwrap();
    eventually("b back in the rotation", || up(&gw, &b_again) == Some(1));
    for _ in 0..10 {
        assert_eq!(
            RawRequest::new("GET", "/pay")
                .send(gw.proxy)
                .unwrap()
                .status,
            200
        );
    }
    assert!(
        b_again.count() >= 4,
        "round robin again: {}",
        b_again.count()
    );
}

/// Answer every request, health checks included, with 503.
fn unavailable(mut conn: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            return;
        }
        let body = "{\"error\":\"maintenance\"}";
        let _ = write!(
            conn,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
    }
}

#[test]
fn an_http_health_check_takes_out_a_backend_that_answers_503() {
    let shop = DemoShop::start().unwrap();
    let sick = misbehaving_backend(unavailable);
    let gw = TestGateway::builder()
        .upstreams(&[sick, shop.addr()])
        .upstream_settings(
            "[upstream.health_check]\ninterval_ms = 100\npath = \"/healthz\"\nhost = \"shop.internal\"\nunhealthy_threshold = 2\n",
        )
        .start();
    let needle = format!("garita_upstream_up{{upstream=\"{sick}\"}} 0");
    eventually("the sick backend out", || gw.scrape().contains(&needle));
    assert_eq!(up(&gw, &shop), Some(1));
    for _ in 0..6 {
        let r = RawRequest::new("GET", "/pay").send(gw.proxy).unwrap();
        assert_eq!(r.status, 200, "only the healthy backend gets requests");
    }
    let checks: Vec<_> = shop
        .requests()
        .into_iter()
        .filter(|r| r.target == "/healthz")
        .collect();
    assert!(!checks.is_empty());
    assert_eq!(checks[0].header("host"), Some("shop.internal"));
    assert_eq!(checks[0].header("user-agent"), Some("garita-health-check"));
}

/// Answer at once, then send the body one byte every 100 ms: always within the read
/// timeout, never done within the total one (60 bytes take 6 s).
fn drip(mut conn: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 4096];
    let _ = conn.read(&mut buf);
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 60\r\n\r\n");
    for _ in 0..60 {
        if conn.write_all(b"x").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_backend_that_drips_its_answer_is_cut_off_at_the_total_timeout() {
    let gw = TestGateway::builder()
        .upstream(misbehaving_backend(drip))
        .upstream_settings("read_timeout_ms = 1000\ntotal_timeout_ms = 1500\nmax_fails = 0")
        .start();
    let started = Instant::now();
    let r = RawRequest::new("GET", "/slow").send(gw.proxy).unwrap();
    // The head was on its way already: the answer is cut short, the connection closed.
    assert_eq!(r.status, 200);
    assert!(r.body.len() < 60, "cut short: {} bytes", r.body.len());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let line = &gw.wait_for_decisions(1)[0];
    assert_eq!(line["decision"], "allow");
    assert_eq!(line["upstream_error"], "upstream_timeout", "{line}");
    assert!(line["upstream"].as_str().is_some(), "{line}");
}
