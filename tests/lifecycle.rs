//! The process around the proxy: a gateway that cannot listen exits saying why instead of
//! looking alive, and SIGHUP reopens the decision log without ending anything.

mod support;

use std::time::{Duration, Instant};
use support::{garita_bin, run, RawRequest, TestGateway};

/// Run `garita run` with a config whose proxy (or metrics) listener is a port another
/// socket holds; returns its exit status and standard error.
fn run_on_taken_port(metrics_taken: bool) -> (bool, String, String) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (busy, other) = (taken.local_addr().unwrap(), free.local_addr().unwrap());
    drop(free);
    let (proxy, metrics) = if metrics_taken {
        (other, busy)
    } else {
        (busy, other)
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("garita.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{proxy}\"]\ndefault_policy = \"open\"\n\
             [upstream]\naddresses = [\"127.0.0.1:9\"]\n[metrics]\nlisten = \"{metrics}\"\n\
             [decision_log]\npath = \"d.jsonl\"\n[policies.open]\n"
        ),
    )
    .unwrap();
    // garita must exit on its own: were it to keep running, this would never return and
    // the test would hang rather than pass.
    let out = run(
        garita_bin(),
        &["run", "--config", config.to_str().unwrap()],
        &[],
        None,
    );
    drop(taken);
    (out.success, out.stderr, busy.to_string())
}

#[test]
fn run_on_a_taken_port_exits_non_zero_saying_which() {
    for metrics_taken in [false, true] {
        let (success, stderr, busy) = run_on_taken_port(metrics_taken);
        assert!(!success, "{stderr}");
        assert_eq!(
            stderr.trim(),
            format!("error: cannot listen on {busy}: address in use"),
            "metrics taken: {metrics_taken}"
        );
    }
}

#[test]
fn sighup_reopens_the_decision_log_and_the_gateway_keeps_serving() {
    let mut gw = TestGateway::builder().start();
    assert_eq!(
        RawRequest::new("GET", "/first")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    gw.wait_for_decisions(1);
    // What logrotate does without copytruncate: rename, then signal.
    let rotated = gw.path("decisions.jsonl.1");
    std::fs::rename(gw.path("decisions.jsonl"), &rotated).unwrap();
    gw.signal("HUP");
    // The reopened file appears under the configured name.
    let fresh = gw.path("decisions.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fresh.exists() {
        assert!(
            Instant::now() < deadline,
            "the log was not reopened:\n{}",
            gw.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(gw.exited(), None, "SIGHUP ended garita:\n{}", gw.stderr());
    assert_eq!(
        RawRequest::new("GET", "/second")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    let lines = gw.wait_for_decisions(1);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["path"], "/second");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("/first") && !old.contains("/second"), "{old}");
    assert!(gw.stderr().contains("SIGHUP"), "{}", gw.stderr());
    // A second SIGHUP is just as harmless.
    gw.signal("HUP");
    assert_eq!(
        RawRequest::new("GET", "/third")
            .send(gw.proxy)
            .unwrap()
            .status,
        200
    );
    assert_eq!(gw.received().len(), 3);
    assert_eq!(gw.exited(), None);
}
