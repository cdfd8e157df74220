//! The connection-level decision without sockets: path normalisation, route selection,
//! client-address resolution, GeoIP lookup and the full gate (lists, geofence, rate limit).
//!
//! Run with `cargo bench --bench decision`; results are written down in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use garita::config::Config;
use garita::core::net::ip_list::IpList;
use garita::core::policy::PolicyId;
use garita::core::request::client_ip::{ClientIp, ClientIpResolver};
use garita::core::request::path;
use garita::proxy::served::Served;
use std::net::IpAddr;
use std::path::Path;

/// The example config, changed by `adjust`, with its state in memory (a benchmark leaves
/// no files behind), served; and its site policy, the one `GET /` falls under.
fn served(adjust: impl FnOnce(&mut garita::config::file::FileConfig)) -> (Served, PolicyId) {
    // conf/garita.toml reads its webhook secret from here; any value does.
    if std::env::var_os("PAGOEFECTIVO_WEBHOOK_SECRET").is_none() {
        std::env::set_var("PAGOEFECTIVO_WEBHOOK_SECRET", "a-benchmark-secret");
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/garita.toml");
    let mut raw = garita::config::read_file_config(&path).expect("example config");
    raw.state.backend = Some("memory".into());
    adjust(&mut raw);
    let config = Config::compile(raw, &path).expect("example config");
    let site = config
        .routes
        .select("GET", "/")
        .expect("the default")
        .policy;
    let metrics = std::sync::Arc::new(garita::observe::metrics::Metrics::new());
    (Served::new(config, None, metrics).expect("runtime"), site)
}

/// The connection decision for a client at `ip`, as the proxy asks for it.
fn decide(rt: &tokio::runtime::Runtime, served: &Served, site: PolicyId, ip: IpAddr) {
    let client = ClientIp { addr: ip, peer: ip };
    black_box(rt.block_on(served.connection(site, black_box(client))));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The connection decision with a million client addresses tracked by the rate limiter,
/// and the memory each of them costs (printed: criterion has no column for it).
fn million_keys(c: &mut Criterion) {
    const KEYS: u32 = 1_000_000;
    let (served, site) = served(|raw| {
        let site = raw.policies.get_mut("site").expect("a site policy");
        site.rate_limit.as_mut().expect("a rate limit").max_keys = Some(2 * KEYS as usize);
    });
    let limiter = served
        .runtime
        .ip_limiter(site)
        .expect("the site policy's limiter");
    let address = |i: u32| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
    let before = resident_bytes();
    for i in 0..KEYS {
        limiter.check_key(garita::core::rules::rate::LimiterKey::for_ip(
            address(i),
            32,
            64,
        ));
    }
    let after = resident_bytes();
    eprintln!(
        "rate limiter: {} keys tracked, {} bytes of resident memory each",
        limiter.spec().max_keys.min(KEYS as usize),
        (after.saturating_sub(before)) / u64::from(KEYS)
    );
    let rt = runtime();
    let mut n = 0u32;
    c.bench_function("gate decide (site policy, 1M addresses tracked)", |b| {
        b.iter(|| {
            // A stride through all million, so that lookups miss the caches as traffic would.
            n = n.wrapping_add(7_919) % KEYS;
            decide(&rt, &served, site, address(n))
        })
    });
}

fn benches(c: &mut Criterion) {
    let (served, site) = served(|_| {});
    let config = &served.config;

    c.bench_function("path::normalize (tricky path)", |b| {
        b.iter(|| path::normalize(black_box("/x/../V1//cips;jsessionid=1/%2e/")))
    });

    c.bench_function("route select", |b| {
        b.iter(|| {
            config
                .routes
                .select(black_box("POST"), black_box("/v1/cips"))
        })
    });

    let mut trusted = IpList::new();
    trusted.insert("10.0.0.0/8".parse().unwrap());
    let resolver = ClientIpResolver::new(trusted, http::HeaderName::from_static("x-forwarded-for"));
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    c.bench_function("client ip (3 hops)", |b| {
        b.iter(|| {
            resolver.resolve(
                black_box(peer),
                std::iter::once(black_box(b"203.0.113.9, 192.0.2.1, 10.9.9.9".as_slice())),
            )
        })
    });

    let mut big = IpList::new();
    for i in 0..100_000u32 {
        big.insert(ipnet::IpNet::from(IpAddr::from(std::net::Ipv4Addr::from(
            0x0b00_0000 + i * 7,
        ))));
    }
    big.insert("172.16.0.0/12".parse().unwrap());
    c.bench_function("block list lookup (100k entries)", |b| {
        b.iter(|| big.contains(black_box("192.0.2.1".parse().unwrap())))
    });

    let client = resolver
        .resolve(peer, std::iter::once(b"192.0.2.1".as_slice()))
        .unwrap();
    c.bench_function("geoip country lookup", |b| {
        b.iter(|| served.runtime.country(black_box(client.addr)))
    });

    // The site policy: lists, no geofence, a limit high enough to stay allowed... for a
    // while; use many addresses so the limiter table is exercised too.
    let rt = runtime();
    let mut n = 0u32;
    c.bench_function("gate decide (site policy, rotating addresses)", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 | (n & 0xff)));
            decide(&rt, &served, site, ip)
        })
    });
}

criterion_group!(decision, benches, million_keys);
criterion_main!(decision);
