//! `garita demo`: a shop backend and the gateway on loopback, and a scripted mix of
//! ordinary and hostile requests played against them.
//!
//! The demo loads `conf/demo.toml`, points it at the stand-in shop ([`shop::DemoShop`]),
//! moves its listeners to loopback ports the system picks and starts the gateway exactly as
//! `garita run` does. Every scripted request says which address it comes from through `X-Forwarded-For`
//! (the demo config trusts loopback as a proxy, standing in for a CDN). Each row states what
//! it expects, so `garita demo --exit` doubles as an end-to-end check.

pub mod client;
pub mod script;
pub mod shop;
pub mod tryout;

use crate::config::{self, Config};
use crate::proxy::server;
use crate::state::clock::{Clock, ManualClock};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wait until something accepts connections at `addr`.
pub fn wait_until_listening(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub struct DemoOptions {
    /// A config of one's own; without it the demo's built-in one (conf/demo.toml).
    pub config: Option<PathBuf>,
    /// Exit after the script, with failure if any row differed from what it expected.
    pub exit: bool,
}

/// The demo config, built in (with the test GeoIP database `init` embeds), so that `garita demo`
/// works from any directory and from an installed binary.
const DEMO_CONFIG: &str = include_str!("../../../conf/demo.toml");

/// Write the built-in demo config into `dir` (as `conf/demo.toml`, with the database at
/// `geoip/test-country.mmdb`, where the config expects it).
fn write_builtin(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("conf"))?;
    std::fs::create_dir_all(dir.join("geoip"))?;
    std::fs::write(dir.join("geoip/test-country.mmdb"), super::init::TEST_GEOIP)?;
    let config = dir.join("conf/demo.toml");
    std::fs::write(&config, DEMO_CONFIG)?;
    Ok(config)
}

/// What to try by hand once the script is done, each with the status it gets. Addresses
/// and DNIs the script does not use, so that its limits have not been spent.
fn curl_hints(proxy: SocketAddr) -> Vec<String> {
    let cip = |from: &str, dni: &str| {
        format!(
            "curl -i -H 'X-Forwarded-For: {from}' -H 'Content-Type: application/json' -d '{{\"userDocumentType\":\"DNI\",\"userDocumentNumber\":\"{dni}\",\"userEmail\":\"rosa.{dni}@example.pe\",\"userId\":\"c-{dni}\",\"amount\":\"45.00\",\"currency\":\"PEN\"}}' http://{proxy}/v1/cips"
        )
    };
    vec![
        format!("curl -i http://{proxy}/    # 200: the shop's pages pass"),
        format!(
            "{}    # 200: a payment code from Lima",
            cip("192.0.2.77", "70112233")
        ),
        format!(
            "{}    # 403: the same from the United States",
            cip("198.51.100.7", "70112244")
        ),
        format!(
            "{}    # 403: a DNI on the block list",
            cip("192.0.2.78", "11223344")
        ),
    ]
}

/// Run the demo. Returns whether every row went as expected (only returns with `exit`).
pub fn run(options: &DemoOptions) -> Result<bool, String> {
    // Everything the demo writes lives here and goes when it ends.
    let scratch = tempfile::Builder::new()
        .prefix("garita-demo-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let config_path = match &options.config {
        Some(path) => path.clone(),
        None => write_builtin(scratch.path())
            .map_err(|e| format!("cannot write the demo config: {e}"))?,
    };
    let shop = shop::DemoShop::start().map_err(|e| format!("cannot start the demo shop: {e}"))?;
    let mut raw = config::read_file_config(&config_path).map_err(|e| e.to_string())?;
    raw.server.listen = vec!["127.0.0.1:0".to_string()];
    raw.upstream.addresses = vec![shop.addr().to_string()];
    if let Some(metrics) = raw.metrics.as_mut() {
        metrics.listen = "127.0.0.1:0".to_string();
    }
    let log_path = scratch.path().join("decisions.jsonl");
    raw.decision_log.path = Some(log_path.clone());
    if raw.identity.hash_key_env.is_none() {
        // A log file wants a hash key; the demo's lives as long as the demo.
        let key = hex::encode(rand::random::<[u8; 32]>());
        std::env::set_var("GARITA_DEMO_HASH_KEY", key);
        raw.identity.hash_key_env = Some("GARITA_DEMO_HASH_KEY".to_string());
    }
    let config = Config::compile(raw, &config_path).map_err(|e| e.to_string())?;
    for warning in &config.warnings {
        println!("WARNING: {warning}");
    }
    // The demo's own clock: some rows are sent on earlier days.
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let built = server::build_server_at(config, Some(clock.clone() as Arc<dyn Clock>))
        .map_err(|e| e.to_string())?;
    let proxy_addr = built.proxy[0];
    let metrics_addr = built.metrics;
    let gateway = std::thread::Builder::new()
        .name("gateway".into())
        .spawn(move || built.run())
        .map_err(|e| e.to_string())?;
    if !wait_until_listening(proxy_addr, Duration::from_secs(10)) {
        return Err(format!(
            "the gateway did not start listening on {proxy_addr}"
        ));
    }

    println!("demo shop backend: http://{}", shop.addr());
    println!("garita gateway:    http://{proxy_addr}");
    if let Some(m) = metrics_addr {
        println!("metrics:           http://{m}/metrics");
    }
    println!("decision log:      {}\n", log_path.display());
    let rows = script::play(proxy_addr, &shop, &clock);
    let all_ok = script::print_table(&rows);

    if options.exit {
        return Ok(all_ok);
    }
    println!("\nThe gateway keeps serving (the demo config trusts loopback to say who the client is, as a CDN would); try:");
    for hint in curl_hints(proxy_addr) {
        println!("  {hint}");
    }
    println!("Stop with Ctrl-C; the demo's temporary files go with it.");
    // Pingora handles the signal and returns from `run` once it has shut down.
    gateway
        .join()
        .map_err(|_| "the gateway thread panicked".to_string())?;
    drop(scratch);
    Ok(true)
}
