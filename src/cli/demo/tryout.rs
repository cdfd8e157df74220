//! `garita try`: the example config (`conf/garita.toml`, built in) served on loopback in
//! front of the demo shop, so that a first reader can send it a payment code and see it
//! pass or be refused, without editing anything.
//!
//! What differs from a real run of that config, and why: every listener is on 127.0.0.1
//! (ports the system picks, printed); loopback is a trusted proxy, so a curl can say which
//! country it comes from with `X-Forwarded-For` (the example's geofence lets only Peru
//! create payment codes, and loopback has no country); the state file, the decision log
//! and the config copy live in a temporary directory removed at exit; the hash key, and a
//! webhook secret the environment does not give, are random for the session. It prints
//! curl commands with the status each gets (`tests/cli.rs` runs them as printed).

use super::shop::DemoShop;
use super::wait_until_listening;
use crate::config::{self, Config};
use crate::proxy::server;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Write the built-in example config beside its lists and the test GeoIP database, as the
/// repository lays them out (`conf/garita.toml`, `conf/lists/`, `geoip/`).
fn write_example(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("conf/lists"))?;
    std::fs::create_dir_all(dir.join("geoip"))?;
    std::fs::write(
        dir.join("geoip/test-country.mmdb"),
        super::super::init::TEST_GEOIP,
    )?;
    for (name, text) in super::super::init::LISTS {
        std::fs::write(dir.join("conf/lists").join(name), text)?;
    }
    let config = dir.join("conf/garita.toml");
    std::fs::write(&config, super::super::init::EXAMPLE)?;
    Ok(config)
}

/// The commands to try, each with the status it gets under the example config.
fn curl_hints(proxy: SocketAddr, metrics: Option<SocketAddr>) -> Vec<String> {
    let cip = |from: &str, dni: &str| {
        format!(
            "curl -i -H 'X-Forwarded-For: {from}' -H 'Content-Type: application/json' -d '{{\"currency\":\"PEN\",\"amount\":\"45.00\",\"userDocumentType\":\"DNI\",\"userDocumentNumber\":\"{dni}\",\"userEmail\":\"rosa.{dni}@example.pe\",\"userPhone\":\"987654321\",\"userId\":\"c-{dni}\"}}' http://{proxy}/v1/cips"
        )
    };
    let mut hints = vec![
        format!("curl -i http://{proxy}/    # 200: the shop's pages pass"),
        format!(
            "{}    # 200: a payment code from Lima (192.0.2.0/24 is Peru in the test GeoIP database)",
            cip("192.0.2.77", "70112233")
        ),
        format!(
            "{}    # 403: a DNI on conf/lists/blocked-dni.txt",
            cip("192.0.2.78", "11223344")
        ),
        format!(
            "{}    # 403: a payment code from the United States",
            cip("198.51.100.7", "70112244")
        ),
    ];
    if let Some(m) = metrics {
        hints.push(format!(
            "curl -s http://{m}/metrics    # 200: garita_requests_total and the rest"
        ));
    }
    hints
}

/// Serve until Ctrl-C.
pub fn run(upstream: Option<SocketAddr>) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix("garita-try-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let config_path =
        write_example(scratch.path()).map_err(|e| format!("cannot write the example: {e}"))?;
    let shop = match upstream {
        Some(_) => None,
        None => Some(DemoShop::start().map_err(|e| format!("cannot start the demo shop: {e}"))?),
    };
    let backend = upstream
        .or(shop.as_ref().map(DemoShop::addr))
        .expect("a backend");

    let mut raw = config::read_file_config(&config_path).map_err(|e| e.to_string())?;
    raw.server.listen = vec!["127.0.0.1:0".to_string()];
    raw.server.upgrade_socket = Some(scratch.path().join("upgrade.sock"));
    raw.upstream.addresses = vec![backend.to_string()];
    raw.client_ip
        .trusted_proxies
        .extend(["127.0.0.1/32".to_string(), "::1/128".to_string()]);
    if let Some(metrics) = raw.metrics.as_mut() {
        metrics.listen = "127.0.0.1:0".to_string();
    }
    let log_path = scratch.path().join("decisions.jsonl");
    raw.decision_log.path = Some(log_path.clone());
    raw.state.path = Some(scratch.path().join("state.redb"));
    // Secrets the environment does not give live as long as the session.
    let random = || hex::encode(rand::random::<[u8; 32]>());
    if raw.identity.hash_key_env.is_none() {
        std::env::set_var("GARITA_TRY_HASH_KEY", random());
        raw.identity.hash_key_env = Some("GARITA_TRY_HASH_KEY".to_string());
    }
    for policy in raw.policies.values() {
        for source in policy.webhook.iter().flat_map(|w| &w.secrets) {
            if let Some(var) = &source.env {
                if std::env::var_os(var).is_none() {
                    std::env::set_var(var, random());
                }
            }
        }
    }
    let config = Config::compile(raw, &config_path).map_err(|e| e.to_string())?;
    let built = server::build_server(config).map_err(|e| e.to_string())?;
    let proxy = built.proxy[0];
    let metrics = built.metrics;
    let gateway = std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || built.run())
        .map_err(|e| e.to_string())?;
    if !wait_until_listening(proxy, Duration::from_secs(10)) {
        return Err(format!("the gateway did not start listening on {proxy}"));
    }
    match &shop {
        Some(shop) => println!("backend:      the demo shop at http://{}", shop.addr()),
        None => println!("backend:      http://{backend}"),
    }
    println!("garita:       http://{proxy}  (conf/garita.toml, on loopback)");
    println!("decision log: {}\n", log_path.display());
    println!(
        "Loopback is trusted to say where a client is (X-Forwarded-For), as a CDN would be; try:"
    );
    for hint in curl_hints(proxy, metrics) {
        println!("  {hint}");
    }
    println!("Stop with Ctrl-C; the temporary directory goes with it.");
    gateway
        .join()
        .map_err(|_| "the gateway thread panicked".to_string())?;
    drop(scratch);
    Ok(())
}
