//! The admin API beyond the review queue, through the real binary: every call wants a
//! valid token and changes nothing without one; health and readiness; block-list entries
//! added, listed and removed at runtime, effective at once on a second instance sharing
//! Redis and after a restart on the embedded store, each change an audit line with the
//! token's name; one key's records looked up by value.

mod support;

use serde_json::Value;
use support::{eventually, reason, RawRequest, RawResponse, Redis, TestGateway};

const TOKEN: &str = "an-admin-token-for-tests";
const DNI: &str = "45678912";

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
email = "json:/userEmail"

[[policies.cips.limits]]
fact = "dni"
per_day = 10

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "ops", env = "ADMIN_TOKEN" }, { name = "oncall", env = "ONCALL_TOKEN" }]
"#;

fn gateway(state: &str, more: &str) -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("ONCALL_TOKEN", "the-oncall-token-of-tests")
        .rules(&format!("{RULES}\n{more}\n[state]\n{state}\n"))
        .start()
}

fn order(gw: &TestGateway, dni: &str) -> RawResponse {
    let body = format!(r#"{{"userDocumentNumber":"{dni}","userEmail":"buyer@example.pe"}}"#);
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
}

fn call(gw: &TestGateway, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let r = gw.admin_call(method, path, Some(TOKEN), body);
    let json = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, json)
}

const BLOCK_DNI: &str = r#"{"fact":"dni","value":"45678912","reason":"chargeback"}"#;

#[test]
fn every_call_without_a_valid_token_gets_401_and_changes_nothing() {
    let gw = gateway("backend = \"memory\"", "");
    let calls: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/admin/healthz", None),
        ("GET", "/admin/readyz", None),
        ("GET", "/admin/reviews", None),
        ("GET", "/admin/blocks", None),
        ("POST", "/admin/blocks", Some(BLOCK_DNI)),
        ("DELETE", "/admin/blocks/dni/00ff", None),
        ("GET", "/admin/keys/dni/45678912", None),
        ("POST", "/admin/reload", None),
    ];
    for (method, path, body) in calls {
        for token in [
            None,
            Some("not-the-token-at-all-no"),
            Some(""),
            Some(&TOKEN[1..]),
        ] {
            let r = gw.admin_call(method, path, token, *body);
            assert_eq!(r.status, 401, "{method} {path} with {token:?}");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            assert_eq!(reason_or_error(&r), "unauthorized");
        }
    }
    assert_eq!(order(&gw, DNI).status, 200, "nothing was blocked");
    let (status, blocks) = call(&gw, "GET", "/admin/blocks", None);
    assert_eq!(
        (status, blocks["blocks"].as_array().unwrap().len()),
        (200, 0)
    );
    assert!(gw.scrape().contains("garita_config_reloads_total 0"));
    assert!(
        !gw.decision_log_text().contains("\"event\""),
        "no admin change"
    );
}

fn reason_or_error(r: &RawResponse) -> String {
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    body["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn health_and_readiness_follow_the_upstreams() {
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("ONCALL_TOKEN", "the-oncall-token-of-tests")
        .dead_upstream()
        .upstream_settings("[upstream.health_check]\ninterval_ms = 100\nunhealthy_threshold = 1\n")
        .rules(RULES)
        .start();
    let (status, body) = call(&gw, "GET", "/admin/healthz", None);
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    eventually("the dead upstream out of the rotation", || {
        call(&gw, "GET", "/admin/readyz", None).0 == 503
    });
    let (_, body) = call(&gw, "GET", "/admin/readyz", None);
    assert_eq!(body["ready"], false);
    assert_eq!(body["store"], "ok");
    assert_eq!(body["upstreams"][0]["up"], false);
    let address = body["upstreams"][0]["address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(gw
        .scrape()
        .contains(&format!("garita_upstream_up{{upstream=\"{address}\"}} 0")));
    // A request finds no upstream: 502, and the log says why.
    let r = RawRequest::new("GET", "/").send(gw.proxy).unwrap();
    assert_eq!((r.status, reason(&r)), (502, "upstream_unavailable".into()));
    let line = gw
        .wait_for_decisions(1)
        .into_iter()
        .find(|l| l["route"] == "default")
        .unwrap();
    assert_eq!(line["decision"], "allow");
    assert_eq!(line["upstream_error"], "upstream_unavailable");

    let healthy = gateway("backend = \"memory\"", "");
    let (status, body) = call(&healthy, "GET", "/admin/readyz", None);
    assert_eq!(
        (status, body["ready"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}

#[test]
fn blocks_take_effect_at_once_on_every_instance_sharing_redis_and_are_audited() {
    let mut redis = Redis::start();
    let state = "backend = \"redis\"\nurl_env = \"TEST_REDIS_URL\"";
    let start = || {
        TestGateway::builder()
            .env("ADMIN_TOKEN", TOKEN)
            .env("ONCALL_TOKEN", "the-oncall-token-of-tests")
            .env("TEST_REDIS_URL", &redis.url())
            .rules(&format!("{RULES}\n[state]\n{state}\n"))
            .start()
    };
    let (a, b) = (start(), start());
    assert_eq!(order(&b, DNI).status, 200);

    let (status, added) = call(&a, "POST", "/admin/blocks", Some(BLOCK_DNI));
    assert_eq!(status, 201, "{added}");
    let hash = added["added"][0]["hash"].as_str().unwrap().to_string();
    assert!(!added.to_string().contains(DNI), "the value is not echoed");
    // The next request with that DNI is refused by the other instance, unforwarded.
    let refused = order(&b, DNI);
    assert_eq!(
        (refused.status, reason(&refused)),
        (403, "identity_blocked".into())
    );
    assert_eq!(b.received().len(), 1);
    assert_eq!(order(&b, "87654321").status, 200, "others pass");
    // Adding it again changes nothing.
    let (status, again) = call(&b, "POST", "/admin/blocks", Some(BLOCK_DNI));
    assert_eq!(
        (status, again["already_blocked"][0]["hash"].as_str()),
        (200, Some(hash.as_str()))
    );

    // Listed on either, with who and why.
    let (_, listed) = call(&b, "GET", "/admin/blocks", None);
    let entry = &listed["blocks"][0];
    assert_eq!(entry["fact"], "dni");
    assert_eq!(entry["hash"], hash.as_str());
    assert_eq!(entry["by"], "ops");
    assert_eq!(entry["reason"], "chargeback");

    // What the state holds for that DNI: its counter and the block.
    let (status, keys) = call(&b, "GET", &format!("/admin/keys/dni/{DNI}"), None);
    assert_eq!(status, 200);
    let kinds: Vec<&str> = keys["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"counter") && kinds.contains(&"blocked"),
        "{keys}"
    );
    assert!(!keys.to_string().contains(DNI));

    // Lifted by another token, on the other instance.
    let lifted = b.admin_call(
        "DELETE",
        &format!("/admin/blocks/dni/{hash}"),
        Some("the-oncall-token-of-tests"),
        None,
    );
    assert_eq!(lifted.status, 200);
    assert_eq!(order(&a, DNI).status, 200);
    assert_eq!(
        call(&a, "DELETE", &format!("/admin/blocks/dni/{hash}"), None).0,
        404
    );
    assert_eq!(
        call(
            &a,
            "POST",
            "/admin/blocks",
            Some(r#"{"fact":"ip","value":"1.2.3.4"}"#)
        )
        .0,
        400
    );
    assert_eq!(
        call(
            &a,
            "POST",
            "/admin/blocks",
            Some(r#"{"fact":"dni","value":"12"}"#)
        )
        .0,
        400
    );

    // Each change is an audit line with the token's name, and no DNI in clear.
    let added_line = a
        .wait_for_decisions(1)
        .into_iter()
        .find(|l| l["event"] == "block_added")
        .expect("the addition audited");
    assert_eq!(
        (added_line["by"].as_str(), added_line["hash"].as_str()),
        (Some("ops"), Some(hash.as_str()))
    );
    eventually("the removal audited", || {
        b.decisions()
            .iter()
            .any(|l| l["event"] == "block_removed" && l["by"] == "oncall")
    });
    assert!(!a.decision_log_text().contains(DNI));
    assert!(!b.decision_log_text().contains(DNI));

    // Readiness follows the store.
    assert_eq!(call(&a, "GET", "/admin/readyz", None).0, 200);
    redis.stop();
    let (status, ready) = call(&a, "GET", "/admin/readyz", None);
    assert_eq!(status, 503);
    assert_ne!(ready["store"], "ok");
}

#[test]
fn blocks_outlive_a_restart_on_the_embedded_store() {
    let mut gw = gateway("backend = \"embedded\"\npath = \"state.redb\"", "");
    assert_eq!(call(&gw, "POST", "/admin/blocks", Some(BLOCK_DNI)).0, 201);
    assert_eq!(order(&gw, DNI).status, 403);
    gw.restart("TERM");
    assert_eq!(order(&gw, DNI).status, 403);
    let (_, listed) = call(&gw, "GET", "/admin/blocks", None);
    assert_eq!(listed["blocks"][0]["reason"], "chargeback");
    // The same DNI typed with spaces is the same person.
    let (_, keys) = call(&gw, "GET", "/admin/keys/dni/%2045678912%20", None);
    assert!(keys["held"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["kind"] == "blocked"));
}

#[test]
fn the_command_line_blocks_lists_lifts_and_reloads_through_the_api() {
    let gw = gateway("backend = \"memory\"", "");
    let config = gw.path("garita.toml");
    let admin = gw.admin.unwrap().to_string();
    let garita = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", config.to_str().unwrap(), "--admin", &admin]);
        support::run(support::garita_bin(), &all, &[("ADMIN_TOKEN", TOKEN)], None)
    };
    let added = garita(&["block", "add", "dni", DNI, "--reason", "chargeback"]);
    assert!(added.success, "{}", added.text());
    assert!(added.stdout.starts_with("blocked dni "), "{}", added.stdout);
    assert!(!added.stdout.contains(DNI));
    assert_eq!(order(&gw, DNI).status, 403);
    let listed = garita(&["block", "list"]);
    assert!(
        listed.stdout.contains("by ops  (chargeback)"),
        "{}",
        listed.stdout
    );
    let hash = listed.stdout.split_whitespace().nth(1).unwrap().to_string();
    let removed = garita(&["block", "remove", "dni", &hash]);
    assert!(removed.success, "{}", removed.text());
    assert_eq!(order(&gw, DNI).status, 200);
    assert_eq!(garita(&["block", "list"]).stdout, "nothing blocked\n");
    let again = garita(&["block", "remove", "dni", &hash]);
    assert!(
        !again.success && again.stderr.contains("not_blocked"),
        "{}",
        again.text()
    );
    let reloaded = garita(&["reload"]);
    assert!(reloaded.success, "{}", reloaded.text());
    assert_eq!(reloaded.stdout, "configuration reloaded\n");
}
