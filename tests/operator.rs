//! What a new operator, README in hand, needs to work: fraud resolutions that block only
//! the facts the policy names, blocks lifted by value, `garita status`, a quota reset, the
//! ledger's metrics, every reload in the audit trail with its digest, the admin commands
//! while the config is mid-edit, offline commands without secrets, and replay refusing
//! logs hashed with another key.

mod support;

use support::{run, RawRequest, RawResponse, TestGateway};

const TOKEN: &str = "an-operator-token-for-tests";
const HASH_KEY: &str = "an-operator-hash-key-32-bytes!!!";

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
email = "json:/userEmail"
phone = "json:/userPhone"
amount = "json:/amount"
currency = "json:/currency"

[[policies.cips.limits]]
fact = "dni"
per_day = 2

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

[identity]
hash_key_env = "GARITA_HASH_KEY"
"#;

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("GARITA_HASH_KEY", HASH_KEY)
        .server("watch_interval_ms = 100")
        .rules(RULES)
        .start()
}

fn order(gw: &TestGateway, dni: &str, phone: &str, amount: &str) -> RawResponse {
    let body = format!(
        r#"{{"userDocumentNumber":"{dni}","userEmail":"{dni}@example.pe","userPhone":"{phone}","amount":"{amount}","currency":"PEN"}}"#
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
}

/// `garita ARGS... --config ... --admin ...` against `gw`.
fn garita(gw: &TestGateway, args: &[&str]) -> support::Output {
    let config = gw.path("garita.toml");
    let admin = gw.admin.expect("an admin listener").to_string();
    let mut all = args.to_vec();
    all.extend(["--config", config.to_str().unwrap(), "--admin", &admin]);
    run(support::garita_bin(), &all, &[("ADMIN_TOKEN", TOKEN)], None)
}

/// Queue a review for `dni` and return its id.
fn review_for(gw: &TestGateway, dni: &str, phone: &str) -> String {
    assert_eq!(order(gw, dni, phone, "1500.00").status, 200);
    let received = gw.received();
    let last = received.last().unwrap();
    assert_eq!(last.header("x-garita-decision"), Some("review"));
    last.header("x-request-id").unwrap().to_string()
}

#[test]
fn a_fraud_resolution_blocks_what_the_policy_names_and_a_reviewer_may_narrow_it() {
    let gw = gateway();
    // The default leaves the phone alone: families share phones.
    let first = review_for(&gw, "45678912", "987654321");
    let resolved = garita(&gw, &["review", "resolve", &first, "fraud"]);
    assert!(resolved.success, "{}", resolved.text());
    assert!(
        resolved.stdout.contains("blocked: dni, email"),
        "{}",
        resolved.stdout
    );
    assert_eq!(order(&gw, "45678912", "900000001", "10.00").status, 403);
    assert_eq!(
        order(&gw, "87654321", "987654321", "10.00").status,
        200,
        "only the phone: not blocked"
    );

    // Narrowed to the email: the DNI stays free.
    let second = review_for(&gw, "11112222", "912345678");
    let narrowed = garita(
        &gw,
        &["review", "resolve", &second, "fraud", "--block", "email"],
    );
    assert!(narrowed.success, "{}", narrowed.text());
    let email_only = RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(r#"{"userDocumentNumber":"33334444","userEmail":"11112222@example.pe","amount":"1.00","currency":"PEN"}"#)
        .send(gw.proxy)
        .unwrap();
    assert_eq!(email_only.status, 403, "the email is blocked");
    assert_eq!(order(&gw, "11112222", "912345678", "5.00").status, 403);
    let dni_free = RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(r#"{"userDocumentNumber":"11112222","userEmail":"other@example.pe","amount":"1.00","currency":"PEN"}"#)
        .send(gw.proxy)
        .unwrap();
    assert_eq!(dni_free.status, 200, "the DNI is not");

    // A fact the policy does not name for fraud cannot be added by a reviewer.
    let third = review_for(&gw, "55556666", "923456789");
    let wider = garita(
        &gw,
        &["review", "resolve", &third, "fraud", "--block", "phone"],
    );
    assert!(!wider.success);
    assert!(
        wider.text().contains("not among the facts"),
        "{}",
        wider.text()
    );
}

#[test]
fn fraud_blocks_are_configurable_per_policy() {
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("GARITA_HASH_KEY", HASH_KEY)
        .rules(&RULES.replace(
            "[policies.cips.score]",
            "[policies.cips]\nfraud_blocks = [\"phone\"]\n[policies.cips.score]",
        ))
        .start();
    let id = review_for(&gw, "45678912", "987654321");
    assert!(garita(&gw, &["review", "resolve", &id, "fraud"]).success);
    assert_eq!(order(&gw, "87654321", "987654321", "10.00").status, 403);
    assert_eq!(order(&gw, "45678912", "900000001", "10.00").status, 200);
}

#[test]
fn the_review_list_has_a_header_and_times_in_lima_and_utc() {
    let gw = gateway();
    let id = review_for(&gw, "45678912", "987654321");
    let listed = garita(&gw, &["review", "list"]);
    assert!(listed.success, "{}", listed.text());
    let mut lines = listed.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("ID "), "{header}");
    assert!(
        header.contains("AT (America/Lima)") && header.contains("UTC"),
        "{header}"
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id), "{row}");
    // Lima is UTC-5 all year: the two times are five hours apart.
    let times: Vec<&str> = row.split("  ").filter(|c| c.len() >= 19).collect();
    let lima = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", times[1].trim()).unwrap();
    let utc = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%SZ", times[2].trim()).unwrap();
    assert_eq!(utc - lima, jiff::Span::new().hours(5).fieldwise(), "{row}");
}

#[test]
fn a_block_is_lifted_by_its_value_as_well_as_by_its_hash() {
    let gw = gateway();
    assert!(garita(&gw, &["block", "add", "dni", "41234567"]).success);
    assert_eq!(order(&gw, "41234567", "987654321", "10.00").status, 403);
    let removed = garita(&gw, &["block", "remove", "dni", "4123 4567"]);
    assert!(removed.success, "{}", removed.text());
    assert!(
        removed.stdout.starts_with("unblocked dni "),
        "{}",
        removed.stdout
    );
    assert!(
        !removed.stdout.contains("41234567"),
        "the value is not echoed"
    );
    assert_eq!(order(&gw, "41234567", "987654321", "10.00").status, 200);
    let again = garita(&gw, &["block", "remove", "dni", "41234567"]);
    assert!(
        !again.success && again.text().contains("not_blocked"),
        "{}",
        again.text()
    );
}

#[test]
fn status_shows_the_gateway_at_a_glance_and_the_ledger_has_metrics() {
    let gw = gateway();
    review_for(&gw, "45678912", "987654321");
    assert!(garita(&gw, &["block", "add", "email", "fraud@example.pe"]).success);
    let status = garita(&gw, &["status"]);
    assert!(status.success, "{}", status.text());
    let text = &status.stdout;
    for expected in [
        "listeners:  proxy 127.0.0.1:",
        "config:     ",
        "reload:     none since start",
        "answering, ",
        "upstreams:  127.0.0.1:",
        "reviews:    1 waiting",
        "blocks:     1 held",
        "decisions:  ",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    let json = garita(&gw, &["status", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["config"]["digest"].as_str().unwrap().len(), 64);
    // Housekeeping refreshes the gauges every 10 s: wait for the next tick.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(25);
    let refreshed = |scrape: &str| {
        scrape.contains("garita_reviews_waiting{policy=\"cips\"} 1")
            && scrape.contains("garita_blocks 1")
    };
    while !refreshed(&gw.scrape()) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(refreshed(&gw.scrape()), "{}", gw.scrape());
}

#[test]
fn a_quota_reset_lets_one_identity_start_again_and_is_audited() {
    let gw = gateway();
    for _ in 0..2 {
        assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 200);
    }
    assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 429);
    let reset = garita(&gw, &["quota", "reset", "dni", "45678912"]);
    assert!(reset.success, "{}", reset.text());
    assert!(
        reset.stdout.contains("counter(s) reset"),
        "{}",
        reset.stdout
    );
    assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 200);
    let lines = gw.wait_for_decisions(5);
    let audit = lines
        .iter()
        .find(|l| l["event"] == "quota_reset")
        .expect("the reset in the audit trail");
    assert_eq!(audit["by"], "ops");
    assert_eq!(audit["fact"], "dni");
    assert!(!gw.decision_log_text().contains("45678912"));
}

#[test]
fn every_reload_is_an_audit_line_with_its_trigger_and_digest() {
    let gw = gateway();
    let original = gw.config_text();
    // By signal, by the admin API and by a watched file.
    gw.signal("HUP");
    gw.wait_for_stderr("configuration reloaded (SIGHUP, by signal)");
    assert_eq!(
        gw.admin_call("POST", "/admin/reload", Some(TOKEN), None)
            .status,
        200
    );
    gw.write_config(&format!("{original}\n# an edit\n"));
    gw.wait_for_stderr("changed, by watcher)");
    let lines = gw.wait_for_decisions(3);
    let reloads: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["event"] == "config_reloaded")
        .collect();
    assert_eq!(reloads.len(), 3, "{reloads:?}");
    let by: Vec<&str> = reloads.iter().map(|l| l["by"].as_str().unwrap()).collect();
    assert_eq!(by, ["signal", "ops", "watcher"]);
    for line in &reloads {
        assert_eq!(line["digest"].as_str().unwrap().len(), 64, "{line}");
        assert!(line["trigger"].is_string(), "{line}");
    }
    assert_ne!(
        reloads[1]["digest"], reloads[2]["digest"],
        "the edit changed it"
    );
}

#[test]
fn admin_commands_work_while_the_rest_of_the_config_is_mid_edit() {
    let gw = gateway();
    gw.write_config(&format!(
        "{}\n[policies.half\nthis is not toml",
        gw.config_text()
    ));
    let listed = garita(&gw, &["block", "list"]);
    assert!(listed.success, "{}", listed.text());
    assert!(
        listed.stdout.contains("nothing blocked"),
        "{}",
        listed.stdout
    );
    let status = garita(&gw, &["status"]);
    assert!(status.success, "{}", status.text());
}

#[test]
fn offline_commands_need_no_webhook_secret_or_admin_token() {
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .env("GARITA_HASH_KEY", HASH_KEY)
        .env("PE_SECRET", "a-pagoefectivo-secret-for-tests")
        .rules(&format!(
            "{RULES}\n[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ env = \"PE_SECRET\" }}]\n\
             [state]\nbackend = \"embedded\"\nflush_interval_ms = 50\n"
        ))
        .start();
    assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let config = gw.path("garita.toml");
    let config = config.to_str().unwrap();
    // Only the hash key in the environment: no PE_SECRET, no ADMIN_TOKEN.
    let only_key = [("GARITA_HASH_KEY", HASH_KEY)];
    let inspect = run(
        support::garita_bin(),
        &["state", "inspect", "--config", config, "dni", "45678912"],
        &only_key,
        None,
    );
    assert!(inspect.success, "{}", inspect.text());
    assert!(
        !inspect.stdout.contains("45678912"),
        "the value is not printed"
    );
    let log = gw.path("decisions.jsonl");
    let replay = run(
        support::garita_bin(),
        &["replay", "--config", config, log.to_str().unwrap()],
        &only_key,
        None,
    );
    assert!(replay.success, "{}", replay.text());
}

#[test]
fn replay_under_another_hash_key_says_so_instead_of_reporting_changes() {
    let gw = gateway();
    for dni in ["45678912", "87654321"] {
        assert_eq!(order(&gw, dni, "987654321", "10.00").status, 200);
    }
    let lines = gw.wait_for_decisions(2);
    assert_eq!(lines[0]["key_id"].as_str().unwrap().len(), 8);
    let config = gw.path("garita.toml");
    let log = gw.path("decisions.jsonl");
    let other = run(
        support::garita_bin(),
        &[
            "replay",
            "--config",
            config.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
        &[("GARITA_HASH_KEY", "another-hash-key-of-32-bytes-len")],
        None,
    );
    assert!(!other.success, "{}", other.text());
    assert!(
        other.text().contains("hashed with another key"),
        "{}",
        other.text()
    );
    let same = run(
        support::garita_bin(),
        &[
            "replay",
            "--config",
            config.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
        &[("GARITA_HASH_KEY", HASH_KEY)],
        None,
    );
    assert!(same.success, "{}", same.text());
    assert!(same.stdout.contains("0 would change"), "{}", same.stdout);
}

#[test]
fn logs_export_takes_today_yesterday_and_a_number_of_days() {
    let gw = gateway();
    assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 200);
    gw.wait_for_decisions(1);
    let log = gw.path("decisions.jsonl");
    let export = |range: &[&str]| {
        let mut args = vec!["logs", "export", "--log", log.to_str().unwrap()];
        args.extend_from_slice(range);
        run(support::garita_bin(), &args, &[], None)
    };
    for from in ["today", "7d", "1d"] {
        let out = export(&["--from", from]);
        assert!(out.success, "{from}: {}", out.text());
        assert!(
            out.stdout.contains("\"route\":\"cips\""),
            "{from}: {}",
            out.stdout
        );
    }
    let yesterday = export(&["--from", "yesterday", "--to", "yesterday"]);
    assert!(yesterday.success, "{}", yesterday.text());
    assert!(
        !yesterday.stdout.contains("\"route\""),
        "{}",
        yesterday.stdout
    );
    let bad = export(&["--from", "last week"]);
    assert!(!bad.success && bad.text().contains("7d"), "{}", bad.text());
}

#[test]
fn an_idle_graceful_stop_says_what_it_does_and_that_it_stopped() {
    let mut gw = gateway();
    let status = gw.stop("TERM");
    assert!(status.success());
    let stderr = gw.stderr();
    assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");
    assert!(stderr.contains("stopped: requests finished"), "{stderr}");
}

#[test]
fn a_key_lookup_gives_the_hash_the_decision_log_names_an_identity_by() {
    let gw = gateway();
    assert_eq!(order(&gw, "45678912", "987654321", "10.00").status, 200);
    let line = gw.wait_for_decisions(1).remove(0);
    let logged = line["facts"]["dni"]
        .as_str()
        .expect("the DNI's hash in the log");
    let found = gw.admin_call("GET", "/admin/keys/dni/4567%208912", Some(TOKEN), None);
    assert_eq!(found.status, 200);
    let found = found.json().unwrap();
    assert_eq!(found["log_hash"], logged, "{found}");
    let ip = gw.admin_call("GET", "/admin/keys/ip/192.0.2.1", Some(TOKEN), None);
    assert!(
        ip.json().unwrap()["log_hash"].is_null(),
        "addresses are logged as they are"
    );
}
