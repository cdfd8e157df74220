//! Identity facts on a PagoEfectivo CIP request of about 1 KiB: parsing and extracting the
//! facts, and the whole decision (connection rules, body, facts, block lists, burst limit,
//! binding and calendar quotas against the in-memory store).
//!
//! Run with `cargo bench --bench identity`; results are written down in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use garita::config::Config;
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

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("garita-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.toml");
    std::fs::write(&path, POLICY).unwrap();
    let config = Config::load(&path).expect("bench config");
    let policy = config
        .routes
        .select("POST", "/v1/cips")
        .expect("the CIP route")
        .policy;
    let metrics = std::sync::Arc::new(garita::observe::metrics::Metrics::new());
    let served = Served::new(config, None, metrics).expect("runtime");
    // The store is awaited as the proxy awaits it, on a runtime of its own here.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rules = served.config.policies[policy].identity.as_ref().unwrap();
    let mode = served.config.policies[policy].mode;
    let headers = http::HeaderMap::new();

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
            facts::extract(&rules.selectors, &parsed, &headers, None).unwrap()
        })
    });

    // Rotate over many DNIs so the store and limiters work as under real traffic.
    let bodies: Vec<String> = (0..10_000).map(|i| cip_body(40_000_000 + i)).collect();
    let mut n = 0usize;
    {
        let parsed = body::parse(
            Some("application/json"),
            bodies[0].as_bytes(),
            BodyKind::Json,
        )
        .unwrap();
        let facts = facts::extract(&rules.selectors, &parsed, &headers, None).unwrap();
        let ip = IpAddr::from([192, 0, 2, 1]);
        let hashes = served.hashes(&facts);
        let (_, connection) = served.connection(policy, ClientIp { addr: ip, peer: ip });
        let d = rt.block_on(served.identity(policy, &facts, &hashes, connection.in_mode(mode)));
        assert_eq!(
            d.verdict(),
            garita::core::decision::Verdict::Allow,
            "the benchmark measures the allow path"
        );
    }
    c.bench_function(
        "full decision (1 KiB CIP body, identity rules, memory store)",
        |b| {
            b.iter(|| {
                n = (n + 1) % bodies.len();
                let ip = IpAddr::from([192, 0, 2, (n % 250) as u8]);
                let (_, decision) = served.connection(policy, ClientIp { addr: ip, peer: ip });
                let parsed = body::parse(
                    Some("application/json"),
                    bodies[n].as_bytes(),
                    BodyKind::Json,
                )
                .unwrap();
                let facts = facts::extract(&rules.selectors, &parsed, &headers, None).unwrap();
                let hashes = served.hashes(&facts);
                rt.block_on(served.identity(
                    policy,
                    black_box(&facts),
                    &hashes,
                    decision.in_mode(mode),
                ))
            })
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(identity, benches);
criterion_main!(identity);
