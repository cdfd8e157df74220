//! State that outlives the process: quotas, bindings and webhook replay records kept by the
//! embedded store (the default) and by Redis through a graceful restart, and by the
//! embedded store through `kill -9`.

mod fixtures;
mod support;

use garita::core::webhook::{sign, Profile};
use std::net::SocketAddr;
use support::{reason, RawRequest, RawResponse, Redis, TestGateway};

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
dni_type = "json:/userDocumentType"
account = "json:/userId"

[[policies.cips.limits]]
fact = "dni"
per_day = 5

[[policies.cips.bindings]]
fact = "dni"
to = "account"
max = 2
window = "forever"

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[policies.pe.webhook]
profile = "pagoefectivo"
secrets = [{ env = "PE_SECRET" }]

[[routes]]
name = "pe-notify"
methods = ["POST"]
paths = ["/webhooks/pagoefectivo"]
policy = "pe"
"#;

fn gateway(state: &str) -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", fixtures::PE_SECRET)
        .rules(&format!("{RULES}\n[state]\n{state}\n"))
        .start()
}

fn redis_gateway(redis: &Redis) -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", fixtures::PE_SECRET)
        .env("TEST_REDIS_URL", &redis.url())
        .env("GARITA_HASH_KEY", "a-shared-secret-of-32-bytes-len!")
        .rules(&format!(
            "{RULES}\n[state]\nbackend = \"redis\"\nurl_env = \"TEST_REDIS_URL\"\n\
             [identity]\nhash_key_env = \"GARITA_HASH_KEY\"\n"
        ))
        .start()
}

fn cip(gw: &TestGateway, account: &str) -> RawResponse {
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(fixtures::cip_request("45678912", account))
        .send(gw.proxy)
        .unwrap()
}

fn notify(gateway: SocketAddr, operation: &str) -> std::io::Result<RawResponse> {
    let body = fixtures::pe_paid(operation);
    let mut request = RawRequest::new("POST", "/webhooks/pagoefectivo")
        .header("Content-Type", "application/json");
    for (name, value) in sign(
        &Profile::PagoEfectivo,
        fixtures::PE_SECRET.as_bytes(),
        body.as_bytes(),
        0,
        "",
    ) {
        request = request.header(&name, &value);
    }
    request.body(body).send(gateway)
}

/// Whether the response acknowledged a notification delivered before, without forwarding.
fn is_duplicate(response: &RawResponse) -> bool {
    response.status == 200 && response.json().is_some_and(|j| j["status"] == "duplicate")
}

#[test]
fn a_graceful_restart_keeps_quotas_bindings_and_replay_records() {
    restart_keeps_everything(gateway(""));
}

#[test]
fn a_restart_on_redis_keeps_quotas_bindings_and_replay_records() {
    let redis = Redis::start();
    restart_keeps_everything(redis_gateway(&redis));
}

fn restart_keeps_everything(mut gw: TestGateway) {
    for account in ["acct-a", "acct-b", "acct-a"] {
        assert_eq!(cip(&gw, account).status, 200, "{account}");
    }
    assert_eq!(notify(gw.proxy, "9001").unwrap().status, 200);
    let forwarded = gw.received().len();
    assert_eq!(forwarded, 4);

    gw.restart("TERM");

    // The binding remembers both accounts; a third is refused and uses no quota.
    let third = cip(&gw, "acct-c");
    assert_eq!(
        (third.status, reason(&third)),
        (403, "binding_exceeded".into())
    );
    // Three of five were used before the restart: two more pass, then the quota holds.
    assert_eq!(cip(&gw, "acct-b").status, 200);
    assert_eq!(cip(&gw, "acct-a").status, 200);
    let over = cip(&gw, "acct-a");
    assert_eq!((over.status, reason(&over)), (429, "quota_exceeded".into()));
    // The notification delivered before the restart is a duplicate after it.
    assert!(is_duplicate(&notify(gw.proxy, "9001").unwrap()));
    assert_eq!(gw.received().len(), forwarded + 2);
}

#[test]
fn kill_9_loses_no_acknowledged_notification_and_counters_written_back() {
    // Counters are written back every 50 ms here; replay records before each answer.
    let mut gw = gateway("flush_interval_ms = 50");
    for account in ["acct-a", "acct-a", "acct-a", "acct-a"] {
        assert_eq!(cip(&gw, account).status, 200);
    }
    // Notifications keep arriving while the process is killed.
    let proxy = gw.proxy;
    let sender = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for i in 0.. {
            let operation = format!("77{i:04}");
            match notify(proxy, &operation) {
                Ok(r) if r.status == 200 => acknowledged.push(operation),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        acknowledged
    });
    // Let some be delivered, and the counters' write-back interval pass many times over.
    std::thread::sleep(std::time::Duration::from_millis(600));
    gw.restart("KILL");
    let acknowledged = sender.join().unwrap();
    assert!(acknowledged.len() > 3, "{} delivered", acknowledged.len());

    let before = gw.received().len();
    for operation in &acknowledged {
        let again = notify(gw.proxy, operation).unwrap();
        assert!(
            is_duplicate(&again),
            "{operation} was acknowledged, then forgotten"
        );
    }
    assert_eq!(
        gw.received().len(),
        before,
        "nothing acknowledged is forwarded twice"
    );
    // Four of five were counted and written back before the kill.
    assert_eq!(cip(&gw, "acct-a").status, 200);
    assert_eq!(cip(&gw, "acct-a").status, 429);
}

#[test]
fn a_per_ip_daily_quota_needs_no_body_and_resets_at_lima_midnight() {
    let gw = TestGateway::builder()
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .rules(
            "[[policies.catalog.limits]]\nfact = \"ip\"\nper_day = 3\n\
             [[routes]]\nname = \"catalog\"\nmethods = [\"GET\"]\npaths = [\"/catalog/**\"]\npolicy = \"catalog\"\n",
        )
        .clock("2026-11-25T04:59:57Z") // 23:59:57 on the 24th in Lima
        .start();
    let get = |client: &str| {
        RawRequest::new("GET", "/catalog/shoes")
            .header("X-Forwarded-For", client)
            .send(gw.proxy)
            .unwrap()
    };
    for _ in 0..3 {
        assert_eq!(get("192.0.2.1").status, 200);
    }
    let over = get("192.0.2.1");
    assert_eq!((over.status, reason(&over)), (429, "quota_exceeded".into()));
    assert_eq!(over.header("retry-after"), Some("3"));
    // Another address has its own day; IPv6 addresses of one /64 share one.
    assert_eq!(get("192.0.2.2").status, 200);
    for i in 1..=3 {
        assert_eq!(get(&format!("2001:db8:5:5::{i}")).status, 200);
    }
    assert_eq!(get("2001:db8:5:5:ffff::1").status, 429);
    // Midnight UTC is still the 24th in Lima.
    gw.set_clock("2026-11-25T00:00:00Z");
    assert_eq!(get("192.0.2.1").status, 429);
    // Midnight in Lima: a new day.
    gw.set_clock("2026-11-25T05:00:00Z");
    for _ in 0..3 {
        assert_eq!(get("192.0.2.1").status, 200);
    }
    assert_eq!(get("192.0.2.1").status, 429);
    let lines = gw.wait_for_decisions(14);
    assert_eq!(lines.len(), 14);
    assert!(lines
        .iter()
        .any(|l| l["reasons"][0] == "quota_exceeded:ip:day"));
}

#[test]
fn state_inspect_shows_what_is_held_for_one_identity_while_garita_runs() {
    let gw = gateway("flush_interval_ms = 50");
    for account in ["acct-a", "acct-b", "acct-a"] {
        assert_eq!(cip(&gw, account).status, 200);
    }
    assert_eq!(notify(gw.proxy, "9100").unwrap().status, 200);
    // Counters are written back within the interval.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let config = gw.path("garita.toml").display().to_string();
    let inspect = |fact: &str, value: &str| {
        support::run(
            support::garita_bin(),
            &["state", "inspect", "--config", &config, fact, value],
            &[("PE_SECRET", fixtures::PE_SECRET)],
            None,
        )
    };
    // Spelled another way and labelled otherwise, it is the same identity.
    let out = inspect("dni", "CE:045.678.912");
    assert!(out.success, "{}", out.text());
    assert!(out.stdout.contains("state: embedded"), "{}", out.stdout);
    assert!(out.stdout.contains(":day:"), "{}", out.stdout);
    assert!(out.stdout.contains(": 3 (kept until"), "{}", out.stdout);
    assert!(out.stdout.contains("2 member(s)"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("acct-"),
        "members are never shown in clear"
    );
    let event = inspect("event", "9100");
    assert!(event.stdout.contains("delivered"), "{}", event.text());
    let nobody = inspect("dni", "87654321");
    assert!(nobody.stdout.contains("nothing held"), "{}", nobody.text());
    let wrong = inspect("dni", "123");
    assert!(
        !wrong.success && wrong.stderr.contains("not a valid dni"),
        "{}",
        wrong.text()
    );
}

#[test]
fn a_graceful_stop_closes_the_state_file_and_a_crash_is_repaired_and_said_so() {
    let mut gw = gateway("");
    for account in ["acct-a", "acct-b"] {
        assert_eq!(cip(&gw, account).status, 200);
    }
    assert_eq!(notify(gw.proxy, "9200").unwrap().status, 200);
    let status = gw.stop("TERM");
    assert!(status.success(), "a graceful stop exits 0: {status:?}");

    // A stopped gateway's file reads without a repair.
    let config = gw.path("garita.toml").display().to_string();
    let inspect = support::run(
        support::garita_bin(),
        &["state", "inspect", "--config", &config, "dni", "45678912"],
        &[("PE_SECRET", fixtures::PE_SECRET)],
        None,
    );
    assert!(inspect.success, "{}", inspect.text());
    assert!(
        inspect.stdout.contains(": 2 (kept until"),
        "{}",
        inspect.stdout
    );

    // A start after a clean stop repairs nothing.
    gw.start_again();
    assert_eq!(cip(&gw, "acct-a").status, 200);
    assert!(
        !gw.stderr().contains("not closed cleanly"),
        "{}",
        gw.stderr()
    );

    // After kill -9 the next start repairs, says so, and has lost nothing acknowledged.
    assert_eq!(notify(gw.proxy, "9201").unwrap().status, 200);
    gw.restart("KILL");
    gw.wait_for_stderr("was not closed cleanly (a crash or kill -9): repaired in");
    for operation in ["9200", "9201"] {
        assert!(
            is_duplicate(&notify(gw.proxy, operation).unwrap()),
            "{operation}"
        );
    }
}
