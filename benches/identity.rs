//! Identity facts on a PagoEfectivo CIP request of about 1 KiB: parsing and extracting the
//! facts, and the whole decision (connection rules, body, facts, block lists, burst limit,
//! binding and calendar quotas) with each store: memory, embedded, and Redis when
//! `GARITA_BENCH_REDIS_URL` names one (e.g. `redis+unix:///tmp/redis.sock`).
//!
//! Run with `cargo bench --bench identity`; results are written down in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use garita::config::Config;
use garita::core::policy::PolicyId;
use garita::core::request::body::{self, BodyKind};
use garita::core::request::client_ip::ClientIp;
use garita::core::request::facts;
use garita::proxy::served::Served;
use std::net::IpAddr;

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

const POLICY: &str = r#"
[server]
listen = ["127.0.0.1:1"]
default_policy = "payments"
[upstream]
addresses = ["127.0.0.1:2"]
[policies.payments]
rate_limit = { requests = 1000000, per = "1s", burst = 1000000 }
[policies.payments.facts]
dni = "json:/userDocumentNumber"
dni_type = "json:/userDocumentType"
email = "json:/userEmail"
phone = "json:/userPhone"
account = "json:/userId"
amount = "json:/amount"
currency = "json:/currency"
fold_gmail = true
[policies.payments.block]
dni = ["11223344", "10203040"]
email = ["fraud.ster@gmail.com"]
[[policies.payments.limits]]
fact = "dni"
rate = { requests = 1000000, per = "1s" }
per_hour = 1000000000
per_day = 1000000000
[[policies.payments.limits]]
fact = "email"
per_day = 1000000000
[[policies.payments.bindings]]
fact = "dni"
to = "account"
max = 3
window = "30d"
"#;

/// A CIP-creation body of about 1 KiB, the one the integration tests send.
fn cip_body(dni: u32) -> String {
    fixtures::cip_request(&format!("{dni:08}"), &format!("cust-{dni}"))
}

fn served(dir: &std::path::Path, state: &str) -> (Served, PolicyId) {
    let path = dir.join(format!("bench-{}.toml", state.len()));
    std::fs::write(&path, format!("{POLICY}\n[state]\n{state}\n")).unwrap();
    let config = Config::load(&path).expect("bench config");
    let policy = config
        .routes
        .select("POST", "/v1/cips")
        .expect("the CIP route")
        .policy;
    let metrics = std::sync::Arc::new(garita::observe::metrics::Metrics::new());
    (Served::new(config, None, metrics).expect("runtime"), policy)
}

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("garita-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The store is awaited as the proxy awaits it, on a runtime of its own here.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();

    let (served_memory, policy) = served(&dir, "backend = \"memory\"");
    let selectors = served_memory.config.policies[policy]
        .identity
        .as_ref()
        .unwrap()
        .selectors
        .clone();
    let body_text = cip_body(45_678_912);
    println!("body size: {} bytes", body_text.len());
    c.bench_function("facts: parse + extract (1 KiB CIP body)", |b| {
        b.iter(|| {
            let parsed = body::parse(
                Some("application/json"),
                black_box(body_text.as_bytes()),
                BodyKind::Json,
            )
            .unwrap();
            facts::extract(&selectors, &parsed, &headers, None).unwrap()
        })
    });

    // Rotate over many DNIs so the store and limiters work as under real traffic.
    let bodies: Vec<String> = (0..10_000).map(|i| cip_body(40_000_000 + i)).collect();
    let mut stores = vec![
        ("memory", served_memory),
        (
            "embedded",
            served(
                &dir,
                &format!(
                    "backend = \"embedded\"\npath = {:?}",
                    dir.join("bench.redb")
                ),
            )
            .0,
        ),
    ];
    if std::env::var("GARITA_BENCH_REDIS_URL").is_ok() {
        std::env::set_var("GARITA_BENCH_HASH_KEY", "bench-secret-of-at-least-16");
        let state = "backend = \"redis\"\nurl_env = \"GARITA_BENCH_REDIS_URL\"\nkey_prefix = \"garita-bench\"\n\
                     timeout_ms = 1000\n\
                     [identity]\nhash_key_env = \"GARITA_BENCH_HASH_KEY\"";
        stores.push(("redis", served(&dir, state).0));
    }
    let stores: Vec<(&str, std::sync::Arc<Served>)> = stores
        .into_iter()
        .map(|(name, served)| (name, std::sync::Arc::new(served)))
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    for (name, served) in &stores {
        let decide = |n: usize| {
            let ip = IpAddr::from([192, 0, 2, (n % 250) as u8]);
            rt.block_on(async {
                let (_, decision) = served
                    .connection(policy, ClientIp { addr: ip, peer: ip })
                    .await;
                let parsed = body::parse(
                    Some("application/json"),
                    bodies[n].as_bytes(),
                    BodyKind::Json,
                )
                .unwrap();
                let facts = facts::extract(&selectors, &parsed, &headers, None).unwrap();
                let hashes = served.hashes(&facts);
                let mode = served.config.policies[policy].mode;
                served
                    .identity(
                        policy,
                        black_box(&facts),
                        &hashes,
                        None,
                        decision.in_mode(mode),
                    )
                    .await
            })
        };
        assert_eq!(
            decide(0).verdict(),
            garita::core::decision::Verdict::Allow,
            "the benchmark measures the allow path"
        );
        let mut n = 0usize;
        c.bench_function(
            &format!("full decision (1 KiB CIP body, identity rules, {name} store)"),
            |b| {
                b.iter(|| {
                    n = (n + 1) % bodies.len();
                    decide(n)
                })
            },
        );
        // Throughput: 64 decisions in flight on two worker threads, as a loaded gateway
        // has them; the time per decision is the inverse of decisions per second.
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let pool = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        c.bench_function(
            &format!("decisions in flight (64 at a time, 2 threads, {name} store)"),
            |b| {
                b.iter_custom(|iters| {
                    done.fetch_add(iters, std::sync::atomic::Ordering::Relaxed);
                    let started = std::time::Instant::now();
                    pool.block_on(async {
                        let mut tasks = tokio::task::JoinSet::new();
                        for task in 0..64u64 {
                            let (served, bodies, selectors, failed) = (
                                served.clone(),
                                bodies.clone(),
                                selectors.clone(),
                                failed.clone(),
                            );
                            let share = iters / 64 + u64::from(task < iters % 64);
                            tasks.spawn(async move {
                                let headers = http::HeaderMap::new();
                                for i in 0..share {
                                    let n = ((task * 7919 + i) as usize) % bodies.len();
                                    let ip = IpAddr::from([192, 0, 2, (n % 250) as u8]);
                                    let client = ClientIp { addr: ip, peer: ip };
                                    let (_, decision) = served.connection(policy, client).await;
                                    let parsed = body::parse(
                                        Some("application/json"),
                                        bodies[n].as_bytes(),
                                        BodyKind::Json,
                                    )
                                    .unwrap();
                                    let facts = facts::extract(&selectors, &parsed, &headers, None)
                                        .unwrap();
                                    let hashes = served.hashes(&facts);
                                    let mode = served.config.policies[policy].mode;
                                    let decided = served
                                        .identity(
                                            policy,
                                            &facts,
                                            &hashes,
                                            None,
                                            decision.in_mode(mode),
                                        )
                                        .await;
                                    // A store that times out shows here, not as speed.
                                    if decided.verdict() != garita::core::decision::Verdict::Allow {
                                        failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    }
                                }
                            });
                        }
                        while tasks.join_next().await.is_some() {}
                    });
                    started.elapsed()
                })
            },
        );
        println!(
            "{name} store, in flight: {} of {} decisions were not allowed (store timeouts)",
            failed.load(std::sync::atomic::Ordering::Relaxed),
            done.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    drop(stores);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(identity, benches);
criterion_main!(identity);
