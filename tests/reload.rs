//! Hot reload, through the real binary: SIGHUP, `POST /admin/reload` and watched files
//! swap the config while requests flow and none fails; a config that does not compile
//! leaves the running one serving and is counted; a list file or a GeoIP database replaced
//! on disk is picked up; limiter state survives; listener changes are named as needing a
//! restart; the decision log is reopened.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, reason, RawRequest, TestGateway};

const TOKEN: &str = "a-reload-admin-token";

const ADMIN: &str = r#"
[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "deployer", env = "ADMIN_TOKEN" }]
"#;

fn get(gw: &TestGateway, path: &str) -> support::RawResponse {
    RawRequest::new("GET", path)
        .send(gw.proxy)
        .expect("gateway answers")
}

#[test]
fn reloads_under_load_fail_no_request_and_take_effect() {
    let closed = r#"
[policies.closed.ip_rules]
block = ["127.0.0.0/8"]

[[routes]]
name = "closed"
paths = ["/closed"]
policy = "closed"
"#;
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .server("watch_interval_ms = 0")
        .rules(ADMIN)
        .start();
    assert_eq!(get(&gw, "/closed").status, 200, "no such route yet");

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let proxy = gw.proxy;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, served) = (stop.clone(), served.clone());
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match RawRequest::new("GET", "/shop").send(proxy) {
                        Ok(r) if r.status == 200 => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => failures.push(format!("status {}", r.status)),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                failures
            })
        })
        .collect();

    let original = gw.config_text();
    for round in 0..6 {
        let text = if round % 2 == 0 {
            format!("{original}\n{closed}")
        } else {
            original.clone()
        };
        gw.write_config(&text);
        if round % 3 == 0 {
            gw.signal("HUP");
            std::thread::sleep(Duration::from_millis(300));
        } else {
            let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        }
        let expected = if round % 2 == 0 { 403 } else { 200 };
        eventually("the reloaded route", || {
            get(&gw, "/closed").status == expected
        });
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "requests failed: {failures:?}");
    assert!(served.load(Ordering::Relaxed) > 50, "the load ran");
    let scrape = gw.scrape();
    assert!(scrape.contains("garita_config_reloads_total 6"), "{scrape}");
    assert!(scrape.contains("garita_config_reload_failures_total 0"));
    // Admin reloads are audit lines with the token's name.
    let audited = || {
        gw.decisions()
            .into_iter()
            .filter(|l| l["event"] == "config_reloaded" && l["by"] == "deployer")
            .count()
    };
    eventually("four audit lines", || audited() == 4);
}

#[test]
fn a_config_that_does_not_compile_leaves_the_running_one() {
    let rules =
        format!("{ADMIN}\n[policies.open.rate_limit]\nrequests = 2\nper = \"1h\"\nburst = 2\n");
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .server("watch_interval_ms = 0")
        .rules(&rules)
        .start();
    assert_eq!(get(&gw, "/").status, 200);
    let original = gw.config_text();

    // Not TOML at all, by signal.
    gw.write_config(&format!("{original}\nthis is not toml ["));
    gw.signal("HUP");
    gw.wait_for_stderr(
        "configuration reload (SIGHUP, by signal) failed, the running configuration stays",
    );
    gw.wait_for_metric("garita_config_reload_failures_total 1");
    assert!(gw
        .scrape()
        .contains("garita_config_last_reload_successful 0"));

    // Valid TOML, invalid config, by the admin API: 422 with the key at fault.
    gw.write_config(&original.replace("burst = 2", "burst = -1"));
    let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
    assert_eq!(r.status, 422);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "reload_failed");
    assert!(body["why"].as_str().unwrap().contains("burst"), "{body}");
    assert!(gw
        .scrape()
        .contains("garita_config_reload_failures_total 2"));

    // The running config still limits, and its limiter kept its count: one request was
    // served before, so one more passes and the third is refused.
    assert_eq!(get(&gw, "/").status, 200);
    let refused = get(&gw, "/");
    assert_eq!(
        (refused.status, reason(&refused)),
        (429, "rate_limited".into())
    );

    // A good config clears the failure gauge; the same limit keeps its limiter.
    gw.write_config(&original);
    let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
    assert_eq!(r.status, 200);
    assert_eq!(get(&gw, "/").status, 429, "limiter state survives a reload");
    assert!(gw
        .scrape()
        .contains("garita_config_last_reload_successful 1"));
}

#[test]
fn a_changed_list_file_is_picked_up_by_the_watcher() {
    let gw = TestGateway::builder()
        .server("watch_interval_ms = 100")
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .file("blocked.txt", "203.0.113.9\n")
        .rules("[ip_rules]\nblock_files = [\"blocked.txt\"]\n")
        .start();
    let from = |client: &str| {
        RawRequest::new("GET", "/")
            .header("X-Forwarded-For", client)
            .send(gw.proxy)
            .unwrap()
            .status
    };
    assert_eq!(from("203.0.113.9"), 403);
    assert_eq!(from("198.51.100.7"), 200);
    std::fs::write(gw.path("blocked.txt"), "203.0.113.9\n198.51.100.7\n").unwrap();
    eventually("the new list entry", || from("198.51.100.7") == 403);
    assert_eq!(from("203.0.113.9"), 403);
    gw.wait_for_stderr("blocked.txt changed");
    assert!(gw.scrape().contains("garita_config_reloads_total 1"));
}

/// A GeoLite2-layout database giving 198.51.100.0/24 to `country`.
fn country_db(country: &str) -> Vec<u8> {
    let mut writer = mmdb_writer::Writer::builder("garita-reload-test".to_string()).build();
    writer
        .insert(
            "198.51.100.0/24".parse::<ipnet::IpNet>().unwrap(),
            &serde_json::json!({ "country": { "iso_code": country } }),
        )
        .unwrap();
    writer.to_bytes().unwrap()
}

#[test]
fn a_geoip_database_replaced_on_disk_is_picked_up() {
    let gw = TestGateway::builder()
        .server("watch_interval_ms = 100")
        .client_ip("trusted_proxies = [\"127.0.0.1/32\"]")
        .file("country.mmdb", country_db("US"))
        .rules(
            "[geoip]\ndatabase = \"country.mmdb\"\n\
             [policies.open.geofence]\nallow_countries = [\"PE\"]\n",
        )
        .start();
    let status = || {
        RawRequest::new("GET", "/")
            .header("X-Forwarded-For", "198.51.100.7")
            .send(gw.proxy)
            .unwrap()
    };
    let refused = status();
    assert_eq!(
        (refused.status, reason(&refused)),
        (403, "country_not_allowed".into())
    );
    // As geoipupdate does: written beside, renamed over.
    let next = gw.path("country.mmdb.tmp");
    std::fs::write(&next, country_db("PE")).unwrap();
    std::fs::rename(&next, gw.path("country.mmdb")).unwrap();
    eventually("the new database", || status().status == 200);
}

#[test]
fn listener_changes_wait_for_a_restart_and_the_log_is_reopened() {
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .server("watch_interval_ms = 0")
        .rules(ADMIN)
        .start();
    assert_eq!(get(&gw, "/").status, 200);
    gw.wait_for_decisions(1);
    // logrotate moves the file away, then signals.
    std::fs::rename(gw.path("decisions.jsonl"), gw.path("decisions.jsonl.1")).unwrap();
    let text = gw
        .config_text()
        .replace("listen = [\"127.0.0.1:0\"]", "listen = [\"127.0.0.1:1\"]");
    gw.write_config(&text);
    let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
    assert_eq!(r.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["restart_needed"], serde_json::json!(["server.listen"]));
    gw.wait_for_stderr("server.listen changed: it takes effect at the next restart");
    // Still serving where it was.
    assert_eq!(get(&gw, "/").status, 200);
    let fresh = || std::fs::read_to_string(gw.path("decisions.jsonl")).unwrap_or_default();
    eventually("a new decision log file", || fresh().contains("\"route\""));
    assert!(std::fs::read_to_string(gw.path("decisions.jsonl.1"))
        .unwrap()
        .contains("\"route\""));
}

#[test]
fn an_admin_token_file_rotated_on_disk_takes_effect_without_a_restart() {
    let gw = TestGateway::builder()
        .server("watch_interval_ms = 100")
        .file("ops.token", "the-first-token-of-ops\n")
        .rules(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{ name = \"ops\", file = \"ops.token\" }]\n",
        )
        .start();
    let status = |token: &str| {
        gw.admin_call("GET", "/admin/healthz", Some(token), None)
            .status
    };
    assert_eq!(status("the-first-token-of-ops"), 200);
    std::fs::write(gw.path("ops.token"), "the-second-token-of-ops\n").unwrap();
    eventually("the new token", || status("the-second-token-of-ops") == 200);
    assert_eq!(status("the-first-token-of-ops"), 401, "the old one is gone");
}

#[test]
fn a_request_in_flight_finishes_under_the_config_it_started_with() {
    use std::io::{Read, Write};
    let rules = format!(
        "{ADMIN}\n[policies.cips.facts]\ndni = \"json:/userDocumentNumber\"\n\
         [[routes]]\nname = \"cips\"\nmethods = [\"POST\"]\npaths = [\"/v1/cips\"]\npolicy = \"cips\"\n"
    );
    let gw = TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .server("watch_interval_ms = 0")
        .rules(&rules)
        .start();
    let body = r#"{"userDocumentNumber":"45678912"}"#;
    let (first, rest) = body.split_at(10);
    // The head and part of the body: the request has started, under the config without
    // the block, and waits for the rest of its body.
    let mut slow = std::net::TcpStream::connect(gw.proxy).unwrap();
    write!(
        slow,
        "POST /v1/cips HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile the DNI is put on the config's block list.
    let blocked = gw.config_text().replace(
        "[policies.cips.facts]",
        "[policies.cips.block]\ndni = [\"45678912\"]\n[policies.cips.facts]",
    );
    gw.write_config(&blocked);
    let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    slow.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "decided under the old config: {answer}"
    );
    assert_eq!(gw.received().len(), 1);
    // The next one is decided under the new config.
    let next = RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .unwrap();
    assert_eq!(
        (next.status, reason(&next)),
        (403, "identity_blocked".into())
    );
    assert_eq!(gw.received().len(), 1);
}
