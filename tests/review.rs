//! The review queue, round trip: a risky order is forwarded marked and queued; `garita
//! review list` shows it; `garita review resolve ID fraud` blocks its identity at once, on
//! every instance sharing the store and across a restart; the resolution is in the audit
//! trail; the admin API refuses calls without a valid token.

mod support;

use support::{reason, RawRequest, RawResponse, Redis, TestGateway};

const TOKEN: &str = "an-admin-token-for-tests";

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
email = "json:/userEmail"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 60

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "ops", env = "ADMIN_TOKEN" }]
"#;

fn gateway(state: &str) -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("GARITA_HASH_KEY", "a-shared-secret-of-32-bytes-len!")
        .rules(&format!(
            "{RULES}\n[identity]\nhash_key_env = \"GARITA_HASH_KEY\"\n[state]\n{state}\n"
        ))
        .start()
}

fn order(gw: &TestGateway, dni: &str, amount: &str) -> RawResponse {
    let body = format!(
        r#"{{"userDocumentNumber":"{dni}","userEmail":"{dni}@example.pe","amount":"{amount}","currency":"PEN"}}"#
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
}

/// `garita review ARGS... --config ... --admin ...` against `gw`.
fn review(gw: &TestGateway, args: &[&str]) -> support::Output {
    let config = gw.path("garita.toml");
    let admin = gw.admin.expect("an admin listener").to_string();
    let mut all = vec!["review"];
    all.extend_from_slice(args);
    all.extend(["--config", config.to_str().unwrap(), "--admin", &admin]);
    support::run(support::garita_bin(), &all, &[("ADMIN_TOKEN", TOKEN)], None)
}

fn admin_call(gw: &TestGateway, method: &str, path: &str, token: Option<&str>) -> RawResponse {
    let body = (method == "POST").then_some(r#"{"outcome":"fraud"}"#);
    gw.admin_call(method, path, token, body)
}

#[test]
fn a_fraud_resolution_blocks_the_identity_at_once_and_is_audited() {
    let mut gw = gateway("");
    assert_eq!(order(&gw, "45678912", "1500.00").status, 200);
    let received = gw.received();
    assert_eq!(received[0].header("x-garita-decision"), Some("review"));
    let id = received[0].header("x-request-id").unwrap().to_string();

    let listed = review(&gw, &["list"]);
    assert!(listed.success, "{}", listed.text());
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    assert!(listed.stdout.contains("1500.00 PEN"), "{}", listed.stdout);
    assert!(
        listed.stdout.contains("large_order=60"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains("45678912"), "no DNI in clear");

    let resolved = review(&gw, &["resolve", &id, "fraud"]);
    assert!(resolved.success, "{}", resolved.text());
    assert!(resolved.stdout.contains("resolved as fraud"));

    // The next order with that DNI, however small, is refused and never forwarded.
    let blocked = order(&gw, "45678912", "10.00");
    assert_eq!(
        (blocked.status, reason(&blocked)),
        (403, "identity_blocked".into())
    );
    assert_eq!(order(&gw, "87654321", "10.00").status, 200, "others pass");
    assert_eq!(gw.received().len(), 2);

    // Nothing waits any more; the resolved one is still there with --all.
    assert!(review(&gw, &["list"]).stdout.contains("no reviews waiting"));
    let all = review(&gw, &["list", "--all"]).stdout;
    assert!(all.contains(&id) && all.contains("[fraud by ops]"), "{all}");
    // A second resolution changes nothing.
    let again = review(&gw, &["resolve", &id, "approved"]);
    assert!(!again.success && again.text().contains("already_resolved"));
    let unknown = review(&gw, &["resolve", "0123abcd", "approved"]);
    assert!(!unknown.success && unknown.text().contains("unknown_review"));

    // The audit trail has the resolution, with the token's name and what it blocked.
    let log = gw.wait_for_decisions(5);
    let event = log
        .iter()
        .find(|l| l["event"] == "review_resolved")
        .expect("the resolution in the audit trail");
    assert_eq!(event["review"], id.as_str());
    assert_eq!(event["by"], "ops");
    assert_eq!(event["outcome"], "fraud");
    assert_eq!(event["blocked"], serde_json::json!(["dni", "email"]));

    // The block list and the queue survive a restart.
    gw.restart("TERM");
    assert_eq!(order(&gw, "45678912", "10.00").status, 403);
    assert!(review(&gw, &["list", "--all"]).stdout.contains(&id));
}

#[test]
fn the_admin_api_wants_a_valid_token_and_changes_nothing_without_one() {
    let gw = gateway("");
    assert_eq!(order(&gw, "45678912", "1500.00").status, 200);
    let id = gw.received()[0].header("x-request-id").unwrap().to_string();
    let path = format!("/admin/reviews/{id}");
    for token in [None, Some("wrong-token-of-some-length"), Some("")] {
        let refused = admin_call(&gw, "POST", &path, token);
        assert_eq!(refused.status, 401, "{token:?}");
        assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
        assert_eq!(admin_call(&gw, "GET", "/admin/reviews", token).status, 401);
    }
    assert_eq!(order(&gw, "45678912", "10.00").status, 200, "not blocked");
    let listed = admin_call(&gw, "GET", "/admin/reviews", Some(TOKEN));
    assert_eq!(listed.status, 200);
    let reviews = listed.json().unwrap();
    assert_eq!(reviews["reviews"][0]["id"], id.as_str());
    assert!(reviews["reviews"][0]["resolution"].is_null());
    let bad = RawRequest::new("POST", &path)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .body(r#"{"outcome":"maybe"}"#)
        .send(gw.admin.unwrap())
        .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(
        admin_call(&gw, "GET", "/admin/reviewsx", Some(TOKEN)).status,
        404
    );
    // One review is read with GET (the console's and scripts' view); other methods are 405.
    let one = admin_call(&gw, "GET", &path, Some(TOKEN));
    assert_eq!(one.status, 200);
    assert_eq!(one.json().unwrap()["review"]["id"], id.as_str());
    assert_eq!(admin_call(&gw, "DELETE", &path, Some(TOKEN)).status, 405);
}

#[test]
fn a_fraud_resolution_on_one_instance_blocks_on_another_sharing_redis() {
    let redis = Redis::start();
    let state = "backend = \"redis\"\nurl_env = \"TEST_REDIS_URL\"";
    let start = || {
        TestGateway::builder()
            .env("ADMIN_TOKEN", TOKEN)
            .env("TEST_REDIS_URL", &redis.url())
            .env("GARITA_HASH_KEY", "a-shared-secret-of-32-bytes-len!")
            .rules(&format!(
                "{RULES}\n[identity]\nhash_key_env = \"GARITA_HASH_KEY\"\n[state]\n{state}\n"
            ))
            .start()
    };
    let (a, b) = (start(), start());
    assert_eq!(order(&a, "45678912", "1500.00").status, 200);
    let id = a.received()[0].header("x-request-id").unwrap().to_string();
    // Listed and resolved through the other instance.
    assert!(review(&b, &["list"]).stdout.contains(&id));
    assert!(review(&b, &["resolve", &id, "fraud"]).success);
    assert_eq!(order(&a, "45678912", "10.00").status, 403);
    assert_eq!(order(&b, "45678912", "10.00").status, 403);
}
