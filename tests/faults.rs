//! Faults around the gateway: what it answers, what it counts, and that it keeps serving.
//! (A dead backend and a store that goes away are in `passthrough.rs` and
//! `shared_state.rs`.)

mod support;

use std::time::{Duration, Instant};
use support::{garita_bin, misbehaving_backend, run, RawRequest, TestGateway};

/// The value of an unlabelled counter in a scrape, 0 if absent.
fn counter(scrape: &str, name: &str) -> u64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_full_disk_under_the_decision_log_loses_lines_not_requests() {
    // /dev/full takes the file open and refuses every write with ENOSPC.
    let gw = TestGateway::builder().decision_log("/dev/full").start();
    for i in 0..20 {
        let r = RawRequest::new("GET", &format!("/item/{i}"))
            .send(gw.proxy)
            .unwrap();
        assert_eq!(r.status, 200, "request {i}");
    }
    assert_eq!(gw.received().len(), 20);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut scrape = gw.scrape();
    while counter(&scrape, "garita_decision_log_dropped_total") < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        scrape = gw.scrape();
    }
    assert_eq!(
        counter(&scrape, "garita_decision_log_dropped_total"),
        20,
        "{scrape}"
    );
    assert!(
        counter(&scrape, "garita_decision_log_write_errors_total") >= 1,
        "{scrape}"
    );
    // Said once, not once per batch.
    let stderr = gw.stderr();
    assert_eq!(
        stderr.matches("decision log: write failed").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_corrupt_geoip_database_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("country.mmdb");
    // The right size and the wrong bytes: no MaxMind metadata marker anywhere.
    std::fs::write(&corrupt, vec![0x5a; 4096]).unwrap();
    let config = dir.path().join("garita.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndefault_policy = \"open\"\n\
             [upstream]\naddresses = [\"127.0.0.1:9\"]\n\
             [geoip]\ndatabase = {:?}\n[policies.open]\n",
            corrupt.display().to_string()
        ),
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = run(
            garita_bin(),
            &[command, "--config", config.to_str().unwrap()],
            &[],
            None,
        );
        assert!(!out.success, "{command} accepted a corrupt database");
        let text = out.text();
        assert!(text.contains("geoip.database"), "{command}: {text}");
        assert!(text.contains("country.mmdb"), "{command}: {text}");
    }
}

/// Read the request head and then say nothing, holding the connection open.
fn hang(mut conn: std::net::TcpStream) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let _ = conn.read(&mut buf);
    std::thread::sleep(Duration::from_secs(30));
}

/// Read the request head and reset the connection (RST, not FIN).
fn reset(mut conn: std::net::TcpStream) {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let _ = conn.read(&mut buf);
    let socket = socket2::SockRef::from(&conn);
    let _ = socket.set_linger(Some(Duration::ZERO));
}

#[test]
fn a_backend_slower_than_the_read_timeout_gets_504() {
    let gw = TestGateway::builder()
        .upstream(misbehaving_backend(hang))
        .upstream_settings("read_timeout_ms = 300")
        .start();
    let r = RawRequest::new("GET", "/slow").send(gw.proxy).unwrap();
    assert_eq!(r.status, 504);
    assert_eq!(support::reason(&r), "upstream_timeout");
    gw.wait_for_metric("garita_upstream_responses_total{class=\"error\",route=\"default\"} 1");
    let line = &gw.wait_for_decisions(1)[0];
    assert_eq!(line["status"], 504, "{line}");
    assert_eq!(line["upstream_error"], "upstream_timeout", "{line}");
}

#[test]
fn a_backend_that_resets_gets_502_and_the_gateway_keeps_serving() {
    let gw = TestGateway::builder()
        .upstream(misbehaving_backend(reset))
        .start();
    for i in 0..3 {
        let r = RawRequest::new("GET", &format!("/reset/{i}"))
            .send(gw.proxy)
            .unwrap();
        assert_eq!(r.status, 502, "request {i}");
        assert_eq!(support::reason(&r), "upstream_unavailable");
    }
    gw.wait_for_metric("garita_upstream_responses_total{class=\"error\",route=\"default\"} 3");
    assert_eq!(gw.wait_for_decisions(3).len(), 3);
}
