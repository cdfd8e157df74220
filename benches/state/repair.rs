//! How long the embedded store takes to open a state file of N keys: after a clean stop,
//! and after a crash (the file was never closed, so redb repairs it before anything is
//! served: downtime at every start after a crash).
//!
//!     cargo run --release --example state_repair [N]     (default 1 000 000 keys)
//!
//! A child process fills the file with N quota counters, writes them back and exits
//! without closing the store (as `kill -9` would leave it); the parent times the repairing
//! open, closes the store cleanly, and times a clean open.

use garita::state::store::{Counter, EmbeddedStore, Store, StorePlan};
use std::path::Path;
use std::time::{Duration, Instant};

const BATCH: u64 = 10_000;

fn fill(path: &Path, keys: u64) {
    let store = EmbeddedStore::open(path, 0, Duration::from_secs(3600)).expect("open");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for start in (0..keys).step_by(BATCH as usize) {
        let plan = StorePlan {
            now: 0,
            counters: (start..(start + BATCH).min(keys))
                .map(|i| Counter {
                    key: format!("q:payments:dni:{i:032x}:day:2026-12-04"),
                    limit: 10,
                    expires_at: i64::MAX / 2,
                    enforced: true,
                    add: 1,
                })
                .collect(),
            ..StorePlan::default()
        };
        rt.block_on(store.execute(&plan)).expect("counted");
    }
    rt.block_on(store.flush()).expect("written back");
    // Gone without closing: what a crash leaves.
    std::process::exit(0);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fill") {
        fill(Path::new(&args[2]), args[3].parse().unwrap());
    }
    let keys: u64 = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let started = Instant::now();
    let status = std::process::Command::new(&args[0])
        .args(["--fill", path.to_str().unwrap(), &keys.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "{keys} keys written in {:.1} s, file {:.0} MB",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    let timed = |what: &str| {
        let started = Instant::now();
        let store = EmbeddedStore::open(&path, 0, Duration::from_secs(3600)).expect("open");
        println!(
            "open after {what}: {:.2} s",
            started.elapsed().as_secs_f64()
        );
        store.close();
    };
    timed("a crash (repair)");
    timed("a clean stop");
}
