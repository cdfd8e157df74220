//! A graceful upgrade, through the real binary: a new `garita run --upgrade` takes the
//! listening sockets over from the running one, which is sent SIGQUIT, finishes every
//! request it holds and exits cleanly; with clients sending all along (to a backend slow
//! enough that requests are always in flight), not one request fails. The embedded state
//! file passes from the old process to the new.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{misbehaving_backend, RawRequest, TestGateway};

/// Answer each request after 300 ms.
fn slow(mut conn: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 8192];
    let _ = conn.read(&mut buf);
    std::thread::sleep(Duration::from_millis(300));
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
}

#[test]
fn a_graceful_upgrade_with_requests_in_flight_loses_none() {
    let mut gw = TestGateway::builder()
        .upstream(misbehaving_backend(slow))
        .start();
    gw.pin_ports();
    let stop = Arc::new(AtomicBool::new(false));
    let proxy = gw.proxy;
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match RawRequest::new("GET", &format!("/pay/{i}")).send(proxy) {
                        Ok(r) if r.status == 200 && r.body == b"ok" => ok += 1,
                        Ok(r) => failures.push(format!("status {}", r.status)),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                (ok, failures)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let old = gw.upgrade();
    assert!(old.success(), "the old garita exits cleanly: {old:?}");
    // The new one serves alone now.
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut failures = Vec::new();
    for client in clients {
        let (ok, failed) = client.join().unwrap();
        total += ok;
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    assert!(total > 40, "the load ran: {total}");
    let r = RawRequest::new("GET", "/after").send(gw.proxy).unwrap();
    assert_eq!(r.status, 200);
    assert!(gw.scrape().contains("garita_requests_total"));
}
