//! Per-address rate limits: exactly the burst passes, then 429 with the retry headers.

mod support;

use support::{reason, TestGateway};

const LIMITED: &str = "[policies.payments]\n\
ip_rules = { allow = [\"192.0.2.200\"] }\n\
rate_limit = { requests = 1, per = \"1h\", burst = 5 }\n\
[[routes]]\nname = \"cips\"\nmethods = [\"POST\"]\npaths = [\"/v1/cips\"]\npolicy = \"payments\"\n";

fn gateway() -> TestGateway {
    TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .rules(LIMITED)
        .start()
}

#[test]
fn exactly_the_burst_passes_then_429_with_retry_after() {
    let gw = gateway();
    for i in 0..5 {
        let r = gw.post_from("192.0.2.1", "/v1/cips", "{}");
        assert_eq!(r.status, 200, "request {i} of the burst");
    }
    let limited = gw.post_from("192.0.2.1", "/v1/cips", "{}");
    assert_eq!(limited.status, 429);
    assert_eq!(reason(&limited), "rate_limited");
    let json = limited.json().unwrap();
    assert_eq!(json["error"], "too_many_requests");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    // One request is earned back every hour.
    assert!((3500..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"payments\";q=5;w=18000")
    );
    assert_eq!(
        limited.header("ratelimit"),
        Some(format!("\"payments\";r=0;t={retry_after}").as_str())
    );
    assert_eq!(gw.received().len(), 5);
}

#[test]
fn limits_are_per_address_and_allow_listed_addresses_skip_them() {
    let gw = gateway();
    for _ in 0..5 {
        assert_eq!(gw.post_from("192.0.2.1", "/v1/cips", "{}").status, 200);
    }
    assert_eq!(gw.post_from("192.0.2.1", "/v1/cips", "{}").status, 429);
    assert_eq!(gw.post_from("192.0.2.2", "/v1/cips", "{}").status, 200);
    for _ in 0..8 {
        assert_eq!(gw.post_from("192.0.2.200", "/v1/cips", "{}").status, 200);
    }
    // Another route is not limited by this policy.
    let other = support::RawRequest::new("GET", "/v1/orders")
        .header("X-Forwarded-For", "192.0.2.1")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(other.status, 200);
    assert_eq!(gw.received().len(), 5 + 1 + 8 + 1);
}

#[test]
fn ipv6_clients_are_limited_per_prefix() {
    let gw = gateway();
    for i in 0..5 {
        let ip = format!("2001:db8:7:7::{i}");
        assert_eq!(gw.post_from(&ip, "/v1/cips", "{}").status, 200);
    }
    assert_eq!(
        gw.post_from("2001:db8:7:7:ffff::1", "/v1/cips", "{}")
            .status,
        429
    );
    assert_eq!(
        gw.post_from("2001:db8:7:8::1", "/v1/cips", "{}").status,
        200
    );
}

/// Send `count` GETs to `path`, each from a different address behind the trusted proxy
/// (10.0.0.0 + `first` onwards), pipelined in batches on one connection; the statuses seen.
fn flood(
    proxy: std::net::SocketAddr,
    path: &str,
    first: u32,
    count: u32,
) -> std::collections::HashMap<u16, u32> {
    use std::io::{Read, Write};
    const BATCH: u32 = 500;
    let mut statuses = std::collections::HashMap::new();
    let mut conn = std::net::TcpStream::connect(proxy).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut sent = 0;
    while sent < count {
        let n = BATCH.min(count - sent);
        let mut batch = Vec::with_capacity(n as usize * 80);
        for i in sent..sent + n {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + first + i);
            write!(
                batch,
                "GET {path} HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: {ip}\r\n\r\n"
            )
            .unwrap();
        }
        conn.write_all(&batch).unwrap();
        // Read until every answer of the batch is in, counting status lines as they come
        // (a line may straddle two reads, so the scan resumes a little before the end).
        let mut text = Vec::new();
        let mut buf = [0u8; 65536];
        let mut seen = 0;
        let mut scanned = 0;
        while seen < n {
            let got = conn.read(&mut buf).unwrap();
            assert!(got > 0, "the gateway closed the connection mid-flood");
            text.extend_from_slice(&buf[..got]);
            while let Some(at) = text[scanned..]
                .windows(12)
                .position(|w| w.starts_with(b"HTTP/1.1 "))
            {
                let line = &text[scanned + at..scanned + at + 12];
                let status: u16 = std::str::from_utf8(&line[9..12]).unwrap().parse().unwrap();
                *statuses.entry(status).or_default() += 1;
                seen += 1;
                scanned += at + 12;
            }
        }
        sent += n;
    }
    statuses
}

#[test]
fn a_flood_of_new_addresses_does_not_lock_out_newcomers() {
    // Every flood address stays counted for an hour: the table fills with keys that are
    // all still counting, the hardest case for making room.
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .rules(
            "[policies.flooded]\n\
             rate_limit = { requests = 1, per = \"1h\", burst = 3, max_keys = 10000 }\n\
             [[routes]]\nname = \"flooded\"\npaths = [\"/flooded\"]\npolicy = \"flooded\"\n",
        )
        .start();
    // Two connections, one for each of the gateway's threads.
    let half = 150_000;
    let floods: Vec<_> = (0..2)
        .map(|n| {
            let proxy = gw.proxy;
            std::thread::spawn(move || flood(proxy, "/flooded", n * half, half))
        })
        .collect();
    let mut allowed = 0;
    for flood in floods {
        let statuses = flood.join().unwrap_or_else(|_| {
            panic!(
                "flood failed; gateway stderr:\n{}\n{}",
                gw.stderr(),
                gw.scrape()
                    .lines()
                    .filter(|l| ["connections", "header", "overflow", "evicted"]
                        .iter()
                        .any(|w| l.contains(w)))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        allowed += statuses.get(&200).copied().unwrap_or(0);
    }
    // Only requests that found the table full while the other thread was making room
    // share the overflow bucket; at most 1% of the flood.
    assert!(
        allowed >= 2 * half * 99 / 100,
        "{allowed} of {} allowed",
        2 * half
    );

    // A hundred addresses never seen before each get their whole burst, then the limit.
    for i in 0..100u32 {
        let ip = std::net::Ipv4Addr::from(0x0b00_0000 + i).to_string();
        for n in 0..3 {
            let r = support::RawRequest::new("GET", "/flooded")
                .header("X-Forwarded-For", &ip)
                .send(gw.proxy)
                .unwrap();
            assert_eq!(r.status, 200, "newcomer {ip}, request {n}: {}", reason(&r));
        }
        let r = support::RawRequest::new("GET", "/flooded")
            .header("X-Forwarded-For", &ip)
            .send(gw.proxy)
            .unwrap();
        assert_eq!(r.status, 429, "newcomer {ip} past its burst");
    }
}

#[test]
fn a_network_is_limited_as_a_whole() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .rules(
            "[policies.netted]\n\
             network_rate_limit = { requests = 1, per = \"1h\", burst = 4 }\n\
             [[routes]]\nname = \"netted\"\npaths = [\"/netted\"]\npolicy = \"netted\"\n",
        )
        .start();
    let get = |client: &str| {
        support::RawRequest::new("GET", "/netted")
            .header("X-Forwarded-For", client)
            .send(gw.proxy)
            .unwrap()
    };
    // Four addresses of one /24 use up the network's burst; a fifth is refused, though it
    // never sent anything before.
    for i in 1..=4 {
        assert_eq!(get(&format!("192.0.2.{i}")).status, 200, "192.0.2.{i}");
    }
    let refused = get("192.0.2.99");
    assert_eq!(refused.status, 429);
    assert_eq!(reason(&refused), "network_rate_limited");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"netted-network\";q=4;w=14400")
    );
    assert_eq!(get("198.51.100.1").status, 200, "another /24");
    // IPv6: four /64s of one /48, then the /48 is full; another /48 is not.
    for i in 1..=4 {
        assert_eq!(get(&format!("2001:db8:1:{i}::1")).status, 200);
    }
    assert_eq!(get("2001:db8:1:ff::1").status, 429);
    assert_eq!(get("2001:db8:2::1").status, 200);
    assert_eq!(gw.received().len(), 10);
}
