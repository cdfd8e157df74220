//! A guard of the hot path that cannot flake: the allocations a plain request's decision
//! makes, counted with a counting allocator (timings belong to the benchmarks). What a
//! plain `GET /` goes through before Pingora forwards it: the path normalised, the route
//! selected, the client's address read from `X-Forwarded-For`, and the connection rules
//! (lists, geofence with the GeoIP lookup, the per-address rate limit) on the example
//! config. Raising the bound needs a reason in the commit.

use garita::config::Config;
use garita::core::net::ip_list::IpList;
use garita::core::request::client_ip::ClientIpResolver;
use garita::core::request::path;
use garita::proxy::served::Served;
use std::net::IpAddr;
use std::path::Path;

/// The most allocations one plain request's decision may make (none today: the path is
/// taken as it is, the forwarding hops kept on the stack; one allows for a map that
/// grows now and then).
const MAX_ALLOCATIONS: u64 = 1;

#[test]
fn a_plain_requests_decision_allocates_at_most_a_few_times() {
    std::env::set_var(
        "PAGOEFECTIVO_WEBHOOK_SECRET",
        "a-secret-for-the-allocation-test",
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/garita.toml");
    let mut raw = garita::config::read_file_config(&path).expect("example config");
    raw.state.backend = Some("memory".into());
    let config = Config::compile(raw, &path).expect("example config");
    let metrics = std::sync::Arc::new(garita::observe::metrics::Metrics::new());
    let served = Served::new(config, None, metrics).expect("runtime");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut trusted = IpList::new();
    trusted.insert("127.0.0.1/32".parse().unwrap());
    let resolver = ClientIpResolver::new(trusted, http::HeaderName::from_static("x-forwarded-for"));
    let mut headers = http::HeaderMap::new();
    headers.insert("x-forwarded-for", "192.0.2.10".parse().unwrap());
    let peer: IpAddr = "127.0.0.1".parse().unwrap();

    let decide = || {
        let normalized = path::normalize("/").expect("a path");
        let route = served
            .config
            .routes
            .select("GET", &normalized)
            .expect("a route");
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.as_bytes());
        let client = resolver.resolve(peer, forwarded).expect("an address");
        let (_, decision) = rt.block_on(served.connection(route.policy, client));
        assert!(!decision.is_denied(), "{decision:?}");
    };
    // The first requests fill what is made once (the limiter's entry for the address).
    for _ in 0..10 {
        decide();
    }
    const REQUESTS: u64 = 100;
    let counted = allocation_counter::measure(|| {
        for _ in 0..REQUESTS {
            decide();
        }
    });
    let per_request = counted.count_total.div_ceil(REQUESTS);
    eprintln!(
        "{per_request} allocations per plain request ({} in {REQUESTS})",
        counted.count_total
    );
    assert!(
        per_request <= MAX_ALLOCATIONS,
        "{per_request} allocations per plain request, more than {MAX_ALLOCATIONS}"
    );
}
