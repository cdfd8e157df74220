//! The audit trail: the decision log rotates at UTC midnight by garita's clock, compresses
//! the day it closed, keeps `retention_days` and deletes what is older; `garita logs
//! export` writes a range of days as JSON lines or CSV. The clock is garita's test clock.

mod support;

use std::path::Path;
use std::time::Duration;
use support::{RawRequest, TestGateway};

fn get(gw: &TestGateway, path: &str) -> String {
    let response = RawRequest::new("GET", path).send(gw.proxy).unwrap();
    assert_eq!(response.status, 200);
    gw.received()
        .last()
        .and_then(|r| r.header("x-request-id").map(str::to_string))
        .expect("forwarded with a request id")
}

/// Wait until `path` exists (the writer and the tidying thread work in the background).
fn wait_for_file(path: &Path) {
    for _ in 0..250 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    panic!(
        "{} never appeared; the directory has {dir:?}",
        path.display()
    );
}

fn wait_for_gone(path: &Path) {
    for _ in 0..250 {
        if !path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} was never deleted", path.display());
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

fn export(gw: &TestGateway, from: &str, to: &str, format: &str) -> support::Output {
    let config = gw.path("garita.toml");
    support::run(
        support::garita_bin(),
        &[
            "logs",
            "export",
            "--config",
            config.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
            "--format",
            format,
        ],
        &[],
        None,
    )
}

#[test]
fn the_log_rotates_at_utc_midnight_compresses_and_keeps_its_retention() {
    let gw = TestGateway::builder()
        // A day a stopped gateway left in the active file, a rotated day not yet
        // compressed, and one older than the retention.
        .file(
            "decisions.jsonl",
            "{\"ts\":\"2026-11-24T22:00:00.000Z\",\"request_id\":\"left-behind\"}\n",
        )
        .file(
            "decisions.2026-11-20.jsonl",
            "{\"ts\":\"2026-11-20T10:00:00.000Z\"}\n",
        )
        .file("decisions.2025-10-20.jsonl.gz", "old")
        .file("decisions.2025-10-21.jsonl.gz", "kept")
        .clock("2026-11-25T23:59:00Z")
        .start();
    // 400 days before the 25th is 2025-10-21: the day before it goes, the day stays.
    wait_for_gone(&gw.path("decisions.2025-10-20.jsonl.gz"));
    assert!(gw.path("decisions.2025-10-21.jsonl.gz").exists());
    let left = gw.path("decisions.2026-11-24.jsonl.gz");
    wait_for_file(&left);
    assert!(gunzip(&left).contains("left-behind"));
    wait_for_file(&gw.path("decisions.2026-11-20.jsonl.gz"));
    assert!(!gw.path("decisions.2026-11-20.jsonl").exists());

    let before = get(&gw, "/before-midnight");
    gw.wait_for_decisions(3);
    gw.set_clock("2026-11-26T00:00:01Z");
    let closed = gw.path("decisions.2026-11-25.jsonl.gz");
    wait_for_file(&closed);
    let after = get(&gw, "/after-midnight");
    // The 20th's line, the one left behind on the 24th, then one a day.
    let trail = gw.wait_for_decisions(4);
    assert_eq!(trail.len(), 4);
    let active: Vec<serde_json::Value> = gw
        .decision_log_text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(active.len(), 1, "the active file holds the new day only");
    assert_eq!(active[0]["request_id"], after.as_str());
    assert!(active[0]["ts"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-26T00:00:01"));
    let day = gunzip(&closed);
    assert_eq!(day.lines().count(), 1);
    assert!(day.contains(&before) && day.contains("2026-11-25T23:59:00"));
    assert!(!gw.path("decisions.2026-11-25.jsonl").exists());

    // Export: one day, or the range; JSON lines as logged, or CSV.
    let one = export(&gw, "2026-11-25", "2026-11-25", "jsonl");
    assert!(one.success, "{}", one.text());
    assert_eq!(one.stdout.lines().count(), 1);
    assert!(one.stdout.contains(&before));
    let range = export(&gw, "2026-11-24", "2026-11-26", "jsonl");
    let ids: Vec<String> = range
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"].to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "\"left-behind\"".to_string(),
            format!("\"{before}\""),
            format!("\"{after}\"")
        ]
    );
    let csv = export(&gw, "2026-11-26", "2026-11-26", "csv");
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert!(
        rows[0].starts_with("ts,event,request_id,route,"),
        "{}",
        rows[0]
    );
    assert_eq!(rows.len(), 2);
    assert!(
        rows[1].contains(&after) && rows[1].contains(",allow,"),
        "{}",
        rows[1]
    );
    let backwards = export(&gw, "2026-11-26", "2026-11-25", "csv");
    assert!(!backwards.success);
}

#[test]
fn a_file_log_without_a_hash_key_is_refused_when_identities_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("garita.toml");
    let base = "[server]\nlisten = [\"127.0.0.1:0\"]\ndefault_policy = \"p\"\n\
                [upstream]\naddresses = [\"127.0.0.1:1\"]\n\
                [policies.p.facts]\ndni = \"json:/dni\"\n";
    let check = |extra: &str| {
        std::fs::write(&config, format!("{base}{extra}")).unwrap();
        support::run(
            support::garita_bin(),
            &["check", "--config", config.to_str().unwrap()],
            &[("A_HASH_KEY", "a-hash-key-of-more-than-16-bytes")],
            None,
        )
    };
    let refused = check("[decision_log]\npath = \"decisions.jsonl\"\n");
    assert!(!refused.success);
    assert!(
        refused.text().contains("identity.hash_key_env"),
        "{}",
        refused.text()
    );
    assert!(check("[decision_log]\npath = \"-\"\n").success);
    assert!(
        check("[decision_log]\npath = \"decisions.jsonl\"\n[identity]\nhash_key_env = \"A_HASH_KEY\"\n")
            .success
    );
}
