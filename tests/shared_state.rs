//! Several gateway instances on one Redis: limits hold in total, notifications are
//! delivered once, and when Redis goes away each policy does what it says.

mod fixtures;
mod support;

use support::{reason, RawRequest, RawResponse, Redis, TestGateway};

const HASH_KEY: &str = "a-shared-secret-of-32-bytes-len!";

fn rules(on_store_error: &str) -> String {
    rules_with(on_store_error, "timeout_ms = 200")
}

/// The rules, with more lines for `[state]`.
fn rules_with(on_store_error: &str, state: &str) -> String {
    format!(
        r#"
[identity]
hash_key_env = "GARITA_HASH_KEY"

[state]
backend = "redis"
url_env = "TEST_REDIS_URL"
key_prefix = "garita-test"
{state}

[policies.cips]
on_store_error = "{on_store_error}"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
dni_type = "json:/userDocumentType"

[[policies.cips.limits]]
fact = "dni"
per_day = 5

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#
    )
}

fn gateway(redis: &Redis, on_store_error: &str) -> TestGateway {
    TestGateway::builder()
        .env("TEST_REDIS_URL", &redis.url())
        .env("GARITA_HASH_KEY", HASH_KEY)
        .rules(&rules(on_store_error))
        .start()
}

fn cip(gateway: std::net::SocketAddr, dni: &str) -> RawResponse {
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(fixtures::cip_request(dni, "acct-1"))
        .send(gateway)
        .unwrap()
}

#[test]
fn two_instances_on_one_redis_let_exactly_the_quota_through() {
    let redis = Redis::start();
    let a = gateway(&redis, "closed");
    let b = gateway(&redis, "closed");
    let targets = [a.proxy, b.proxy];
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let target = targets[i % 2];
            std::thread::spawn(move || cip(target, "45678912").status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        45,
        "{statuses:?}"
    );
    assert_eq!(a.received().len() + b.received().len(), 5);
}

#[test]
fn when_redis_goes_away_closed_refuses_open_allows_and_both_recover() {
    let mut redis = Redis::start();
    let closed = gateway(&redis, "closed");
    let open = gateway(&redis, "open");
    assert_eq!(cip(closed.proxy, "11111111").status, 200);
    assert_eq!(cip(open.proxy, "22222222").status, 200);

    redis.stop();
    let refused = cip(closed.proxy, "11111111");
    assert_eq!(
        (refused.status, reason(&refused)),
        (503, "store_unavailable".into())
    );
    assert_eq!(cip(open.proxy, "22222222").status, 200);
    assert_eq!(
        closed.received().len(),
        1,
        "a closed policy forwards nothing"
    );
    assert_eq!(open.received().len(), 2);
    let scrape = open.scrape();
    assert!(scrape.contains("garita_store_up 0"), "{scrape}");
    assert!(
        scrape.contains("garita_store_errors_total{kind=\"unavailable\"}")
            || scrape.contains("garita_store_errors_total{kind=\"timeout\"}"),
        "{scrape}"
    );
    let lines = open.wait_for_decisions(2);
    assert_eq!(lines[1]["decision"], "allow");
    assert_eq!(lines[1]["reasons"][0], "store_unavailable");

    // Back (empty, as after a failover without persistence): both serve again.
    redis.resume();
    let mut recovered = false;
    for _ in 0..100 {
        if cip(closed.proxy, "11111111").status == 200 {
            recovered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(recovered, "the closed policy never recovered");
    assert_eq!(cip(open.proxy, "22222222").status, 200);
    assert!(open.scrape().contains("garita_store_up 1"));
}

#[test]
fn rediss_trusts_the_configured_ca_and_no_other() {
    let redis = Redis::start_tls();
    let start = |state: &str| {
        TestGateway::builder()
            .env("TEST_REDIS_URL", &redis.tls_url())
            .env("GARITA_HASH_KEY", HASH_KEY)
            .rules(&rules_with("closed", state))
            .start()
    };
    let ca = format!("timeout_ms = 2000\ntls_ca_file = {:?}", redis.ca_file());
    let trusting = start(&ca);
    let statuses: Vec<u16> = (0..6)
        .map(|_| cip(trusting.proxy, "45678912").status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "counted over TLS");
    assert!(trusting.scrape().contains("garita_store_up 1"));

    // Without the CA, only the Web PKI is trusted: the test CA's certificate is refused,
    // and a closed policy forwards nothing.
    let doubting = start("timeout_ms = 2000");
    let refused = cip(doubting.proxy, "11111111");
    assert_eq!(
        (refused.status, reason(&refused)),
        (503, "store_unavailable".into())
    );
    assert!(doubting.received().is_empty());
}

#[test]
fn a_shared_per_ip_rate_is_the_rate_in_total_across_instances() {
    let redis = Redis::start();
    let start = || {
        TestGateway::builder()
            .env("TEST_REDIS_URL", &redis.url())
            .env("GARITA_HASH_KEY", HASH_KEY)
            .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
            .rules(
                "[identity]\nhash_key_env = \"GARITA_HASH_KEY\"\n\
                 [state]\nbackend = \"redis\"\nurl_env = \"TEST_REDIS_URL\"\n\
                 [policies.site]\nrate_limit = { requests = 1, per = \"1h\", burst = 5, scope = \"shared\" }\n\
                 [[routes]]\nname = \"site\"\npaths = [\"/shop/**\"]\npolicy = \"site\"\n",
            )
            .start()
    };
    let (a, b) = (start(), start());
    let targets = [a.proxy, b.proxy];
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let target = targets[i % 2];
            std::thread::spawn(move || {
                RawRequest::new("GET", "/shop/item")
                    .header("X-Forwarded-For", "198.51.100.23")
                    .send(target)
                    .unwrap()
            })
        })
        .collect();
    let responses: Vec<RawResponse> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let passed = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        passed,
        5,
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let limited = responses.iter().find(|r| r.status == 429).unwrap();
    assert_eq!(reason(limited), "rate_limited");
    // About one interval (an hour); the instances' clocks may be a moment apart.
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((3000..=3602).contains(&retry), "{retry}");
    assert_eq!(a.received().len() + b.received().len(), 5);
    // Another address has its own budget.
    let other = RawRequest::new("GET", "/shop/item")
        .header("X-Forwarded-For", "198.51.100.24")
        .send(a.proxy)
        .unwrap();
    assert_eq!(other.status, 200);
}

#[test]
fn state_inspect_reads_redis() {
    let redis = Redis::start();
    let gw = gateway(&redis, "closed");
    for _ in 0..2 {
        assert_eq!(cip(gw.proxy, "45678912").status, 200);
    }
    let config = gw.path("garita.toml").display().to_string();
    let out = support::run(
        support::garita_bin(),
        &["state", "inspect", "--config", &config, "dni", "4567-8912"],
        &[
            ("TEST_REDIS_URL", &redis.url()),
            ("GARITA_HASH_KEY", HASH_KEY),
        ],
        None,
    );
    assert!(out.success, "{}", out.text());
    assert!(out.stdout.contains("state: redis"), "{}", out.stdout);
    assert!(
        out.stdout.contains(":day:") && out.stdout.contains(": 2 (kept until"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains(&redis.url()),
        "the URL is never printed"
    );
}

#[test]
fn redis_keys_expire_with_their_windows() {
    let redis = Redis::start();
    let gw = TestGateway::builder()
        .env("TEST_REDIS_URL", &redis.url())
        .env("GARITA_HASH_KEY", HASH_KEY)
        .rules(
            &rules("closed")
                .replace(
                    "dni_type = \"json:/userDocumentType\"\n",
                    "dni_type = \"json:/userDocumentType\"\naccount = \"json:/userId\"\n",
                )
                .replace(
                    "[[routes]]",
                    "[[policies.cips.bindings]]\nfact = \"dni\"\nto = \"account\"\nmax = 2\nwindow = \"30d\"\n[[routes]]",
                ),
        )
        .start();
    assert_eq!(cip(gw.proxy, "45678912").status, 200);
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut ttl = |pattern: &str| -> i64 {
        let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut conn).unwrap();
        assert_eq!(keys.len(), 1, "{pattern}: {keys:?}");
        redis::cmd("TTL").arg(&keys[0]).query(&mut conn).unwrap()
    };
    let day = ttl("{garita-test}:q:*");
    assert!(
        (1..=86_460).contains(&day),
        "a day's counter lives a day: {day}"
    );
    let binding = ttl("{garita-test}:b:*");
    assert!(binding > 29 * 86_400 && binding <= 30 * 86_400, "{binding}");
}

#[test]
fn a_store_that_stops_answering_times_out_and_each_policy_does_what_it_says() {
    let redis = Redis::start();
    let closed = gateway(&redis, "closed");
    let open = gateway(&redis, "open");
    assert_eq!(cip(closed.proxy, "45678912").status, 200);
    redis.freeze();
    // Waits are bounded by the store timeout (200 ms here), whatever Redis does.
    let refused = cip(closed.proxy, "45678912");
    assert_eq!(refused.status, 503);
    assert_eq!(reason(&refused), "store_unavailable");
    assert_eq!(cip(open.proxy, "45678912").status, 200);
    // Counted as a timeout, or as unavailable when the client library's own wait for an
    // answer ends first; either way the store is down.
    for gw in [&closed, &open] {
        let scrape = gw.wait_for_metric("garita_store_up 0");
        assert!(
            scrape.contains("garita_store_errors_total{kind=\"timeout\"}")
                || scrape.contains("garita_store_errors_total{kind=\"unavailable\"}"),
            "{scrape}"
        );
    }
    redis.thaw();
    // Once it answers again, so does the gateway.
    let mut status = 0;
    for _ in 0..50 {
        status = cip(closed.proxy, "45678912").status;
        if status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 200);
    assert_eq!(closed.received().len(), 2);
}
