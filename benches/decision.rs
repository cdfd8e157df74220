//! The connection-level decision without sockets: path normalisation, route selection,
//! client-address resolution, GeoIP lookup and the full gate (lists, geofence, rate limit).
//!
//! Run with `cargo bench --bench decision`; results are written down in the README.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use garita::config::Config;
use garita::core::net::ip_list::IpList;
use garita::core::request::client_ip::ClientIpResolver;
use garita::core::request::path;
use garita::proxy::served::Served;
use std::net::IpAddr;
use std::path::Path;

/// The example config, with its state in memory (a benchmark leaves no files behind).
fn config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/garita.toml");
    let mut raw = garita::config::read_file_config(&path).expect("example config");
    raw.state.backend = Some("memory".into());
    Config::compile(raw, &path).expect("example config")
}

fn benches(c: &mut Criterion) {
    let config = config();

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
    let site = config
        .routes
        .select("GET", "/")
        .expect("the default")
        .policy;
    let metrics = std::sync::Arc::new(garita::observe::metrics::Metrics::new());
    let served = Served::new(config, None, metrics).expect("runtime");
    c.bench_function("geoip country lookup", |b| {
        b.iter(|| served.runtime.country(black_box(client.addr)))
    });

    // The site policy: lists, no geofence, a limit high enough to stay allowed... for a
    // while; use many addresses so the limiter table is exercised too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut n = 0u32;
    c.bench_function("gate decide (site policy, rotating addresses)", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 | (n & 0xff)));
            let client = garita::core::request::client_ip::ClientIp { addr: ip, peer: ip };
            rt.block_on(served.connection(site, black_box(client)))
        })
    });
}

criterion_group!(decision, benches);
criterion_main!(decision);
