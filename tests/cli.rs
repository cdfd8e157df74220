//! `garita check` accepts the shipped configs and rejects bad ones naming the key;
//! `garita demo --exit` plays its script with every row as expected.

mod fixtures;
mod support;

use std::path::Path;
use support::{garita_bin, repo_path, run};

fn check(path: &Path) -> (bool, String) {
    let out = run(
        garita_bin(),
        &["check", "--config", path.to_str().unwrap()],
        // conf/garita.toml reads its webhook secret from here.
        &[
            ("PAGOEFECTIVO_WEBHOOK_SECRET", "a-test-secret-of-24-bytes"),
            ("GARITA_TEST_PLAIN_URL", "redis://localhost:6379"),
            ("GARITA_TEST_TLS_URL", "rediss://localhost:6380"),
            ("GARITA_TEST_HASH_KEY", "a-hash-key-of-at-least-16-bytes"),
        ],
        None,
    );
    (out.success, out.text())
}

const GOOD: &str = r#"
[server]
listen = ["127.0.0.1:8080"]
default_policy = "open"
[upstream]
addresses = ["127.0.0.1:3000"]
[policies.open]
"#;

/// Write `text` to a file named bad.toml and check it.
fn check_text(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    check(&path)
}

#[test]
fn shipped_configs_pass() {
    for file in ["conf/garita.toml", "conf/demo.toml"] {
        let (ok, text) = check(&repo_path(file));
        assert!(ok, "{file}: {text}");
        assert!(text.contains(": ok"), "{text}");
        assert!(text.contains("routes:"), "{text}");
    }
    // The load benchmark's config, with the variables benches/load/run sets.
    let bench = repo_path("conf/bench.toml");
    let out = run(
        garita_bin(),
        &["check", "--config", bench.to_str().unwrap()],
        &[
            ("GARITA_BENCH_HASH_KEY", "bench-hash-key-of-32-bytes-or-so"),
            ("GARITA_BENCH_PE_SECRET", "pe_bench_secret_key"),
        ],
        None,
    );
    assert!(out.success, "{}", out.text());
    // check says which store a config uses.
    let (_, text) = check(&repo_path("conf/garita.toml"));
    assert!(text.contains("state:     embedded,"), "{text}");
    // In words a person uses: limits per hour, replay windows in days.
    assert!(text.contains("10 per hour, burst 5"), "{text}");
    assert!(
        text.contains("200 per hour from one network, burst 50"),
        "{text}"
    );
    assert!(text.contains("replays kept 30 days"), "{text}");
    assert!(!text.contains("3600s"), "{text}");
    // Which secret the identity hashes use, and what a reload changes.
    assert!(
        text.contains("hash key:  generated once and kept in the state file"),
        "{text}"
    );
    assert!(
        text.contains("reload:    on SIGHUP or POST /admin/reload"),
        "{text}"
    );
    let (_, text) = check(&repo_path("conf/demo.toml"));
    assert!(text.contains("state:     memory"), "{text}");
    assert!(text.contains("hash key:  random at each start"), "{text}");
}

#[test]
fn garitas_own_log_can_be_json() {
    let gw = support::TestGateway::builder()
        .env("GARITA_LOG_FORMAT", "json")
        .server("watch_interval_ms = 0")
        .start();
    gw.signal("HUP");
    gw.wait_for_stderr("configuration reloaded (SIGHUP, by signal)");
    let stderr = gw.stderr();
    let mut seen = 0;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["ts"].as_str().is_some() && entry["level"].as_str().is_some());
        if entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("configuration reloaded (SIGHUP, by signal)"))
        {
            assert_eq!(entry["level"], "INFO");
            assert_eq!(entry["target"], "garita::proxy::reload");
            seen += 1;
        }
    }
    assert_eq!(seen, 1, "{stderr}");
}

#[test]
fn bad_files_are_rejected_naming_the_key() {
    let cases: Vec<(String, &str, &str)> = vec![
        (GOOD.replace("listen =", "listn ="), "server", "unknown field `listn`"),
        (format!("{GOOD}[ip_rules]\nblock = [\"10.0.0.0/33\"]\n"), "ip_rules.block[0]", "CIDR"),
        (
            format!("{GOOD}[policies.pay]\nip_rules = {{ allow = [\"192.0.2.1\", \"nope\"] }}\n"),
            "policies.pay.ip_rules.allow[1]",
            "\"nope\"",
        ),
        (
            format!("{GOOD}[geoip]\ndatabase = \"{}\"\n[policies.pay.geofence]\nallow_countries = [\"PE\", \"UK\"]\n",
                repo_path("geoip/test-country.mmdb").display()),
            "policies.pay.geofence.allow_countries[1]",
            "ISO 3166-1",
        ),
        (
            format!("{GOOD}[policies.pay.geofence]\nallow_countries = [\"PE\"]\n"),
            "policies.pay.geofence",
            "[geoip]",
        ),
        (format!("{GOOD}[geoip]\ndatabase = \"missing.mmdb\"\n"), "geoip.database", "missing.mmdb"),
        (
            format!("{GOOD}[ip_rules]\nblock_files = [\"no-such-list.txt\"]\n"),
            "ip_rules.block_files[0]",
            "no-such-list.txt",
        ),
        (
            format!("{GOOD}[[routes]]\nname = \"cips\"\npaths = [\"/v1/cips\"]\npolicy = \"nope\"\n"),
            "routes[0].policy",
            "\"nope\"",
        ),
        (
            format!("{GOOD}[[routes]]\nname = \"cips\"\npaths = [\"v1/cips\"]\npolicy = \"open\"\n"),
            "routes[0].paths[0]",
            "start with '/'",
        ),
        (
            format!("{GOOD}[policies.pay.rate_limit]\nrequests = 5\nper = \"1 week\"\n"),
            "policies.pay.rate_limit.per",
            "duration",
        ),
        (GOOD.replace("[\"127.0.0.1:3000\"]", "[\"localhost\"]"), "upstream.addresses[0]", "host:port"),
        (format!("{GOOD}[state]\nbackend = \"disk\"\n"), "state.backend", "\"redis\""),
        (
            format!("{GOOD}[state]\nbackend = \"memory\"\npath = \"x.redb\"\n"),
            "state.path",
            "no path",
        ),
        (
            format!("{GOOD}[state]\nbackend = \"redis\"\nurl_env = \"GARITA_TEST_UNSET_URL\"\n"),
            "state.url_env",
            "GARITA_TEST_UNSET_URL",
        ),
        (
            format!("{GOOD}[identity]\nhash_key_env = \"GARITA_TEST_HASH_KEY\"\n[state]\nbackend = \"redis\"\nurl_env = \"GARITA_TEST_PLAIN_URL\"\ntls_ca_file = \"ca.pem\"\n"),
            "state.tls_ca_file",
            "rediss://",
        ),
        (
            format!("{GOOD}[identity]\nhash_key_env = \"GARITA_TEST_HASH_KEY\"\n[state]\nbackend = \"redis\"\nurl_env = \"GARITA_TEST_TLS_URL\"\ntls_ca_file = \"missing.pem\"\n"),
            "state.tls_ca_file",
            "a readable PEM file",
        ),
        (
            format!("{GOOD}[state]\nflush_interval_ms = 0\n"),
            "state.flush_interval_ms",
            "10 to 60000",
        ),
        (
            format!("{GOOD}[policies.pay]\non_store_error = \"maybe\"\n"),
            "policies.pay.on_store_error",
            "\"open\"",
        ),
        (
            format!("{GOOD}[policies.pay.rate_limit]\nrequests = 5\nper = \"1m\"\nscope = \"global\"\n"),
            "policies.pay.rate_limit.scope",
            "\"shared\"",
        ),
        (
            format!("{GOOD}[metrics]\nlisten = \"127.0.0.1:8080\"\n"),
            "metrics.listen",
            "not one of server.listen's",
        ),
        (
            GOOD.replace("[\"127.0.0.1:8080\"]", "[\"0.0.0.0:8080\"]")
                + "[metrics]\nlisten = \"127.0.0.1:8080\"\n",
            "metrics.listen",
            "not one of server.listen's",
        ),
        (
            GOOD.replace("[\"127.0.0.1:8080\"]", "[\"127.0.0.1:8080\", \"[::]:8080\"]"),
            "server.listen[1]",
            "no other listener",
        ),
        (GOOD.replace("threads", "x").replace("[upstream]", "threads = \"two\"\n[upstream]"), "server.threads", "expected a whole number >= 0"),
        (GOOD.replace("[upstream]", "max_connections = -5\n[upstream]"), "server.max_connections", "expected a whole number >= 0"),
        (GOOD.replace("[\"127.0.0.1:8080\"]", "\"127.0.0.1:8080\""), "server.listen", "expected a list"),
        (format!("{GOOD}network_rate_limit = {{ requests = 10, per = \"1m\", ipv4_prefix = 33 }}\n"), "policies.open.network_rate_limit.ipv4_prefix", "0 to 32"),
        (format!("{GOOD}network_rate_limit = {{ requests = 10, per = \"1m\", scope = \"shared\" }}\n"), "policies.open.network_rate_limit.scope", "local"),
        (format!("{GOOD}rate_limit = {{ requests = 10, per = \"1m\", ipv4_prefix = 24 }}\n"), "policies.open.rate_limit.ipv4_prefix", "network_rate_limit"),
        (GOOD.replace("[upstream]", "header_timeout_seconds = 0\n[upstream]"), "server.header_timeout_seconds", "between 1 and 3600"),
        (GOOD.replace("[upstream]", "keepalive_timeout_seconds = 86400\n[upstream]"), "server.keepalive_timeout_seconds", "at most 3600"),
        (GOOD.replace("[upstream]", "max_connections = 0\n[upstream]"), "server.max_connections", "at least 1"),
        (GOOD.replace("[upstream]", "max_connections_per_address = 0\n[upstream]"), "server.max_connections_per_address", "at least 1"),
        (GOOD.replace("[upstream]", "read_buffer_kib = 4096\n[upstream]"), "server.read_buffer_kib", "at most 1024 KiB"),
        ("[server\n".to_string(), "", "line 1"),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:userDocumentNumber\"\n"),
            "policies.pay.facts.dni",
            "JSON pointer",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\nemail = \"form:e\"\n"),
            "policies.pay.facts",
            "one body kind",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\nmax_body = 70000\n"),
            "policies.pay.facts.max_body",
            "65536",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\n[[policies.pay.limits]]\nfact = \"email\"\nper_day = 3\n"),
            "policies.pay.limits[0].fact",
            "a selector for email",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\n[[policies.pay.limits]]\nfact = \"ruc\"\nper_day = 3\n"),
            "policies.pay.limits[0].fact",
            "\"ruc\"",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\n[policies.pay.block]\ndni = [\"1234\"]\n"),
            "policies.pay.block.dni[0]",
            "SHA-256",
        ),
        (
            format!("{GOOD}[policies.pay.facts]\ndni = \"json:/a\"\naccount = \"json:/u\"\n[[policies.pay.bindings]]\nfact = \"dni\"\nto = \"account\"\nmax = 3\nwindow = \"a month\"\n"),
            "policies.pay.bindings[0].window",
            "forever",
        ),
        (
            format!("{GOOD}[policies.pay]\nmode = \"dry-run\"\n"),
            "policies.pay.mode",
            "shadow",
        ),
        (format!("{GOOD}[identity]\ntime_zone = \"Lima\"\n"), "identity.time_zone", "IANA"),
        (
            format!("{GOOD}[shadow]\nconfig = \"p.toml\"\nmax_cpu_percent = 0\n"),
            "shadow.max_cpu_percent",
            "1 to 100",
        ),
        (
            format!("{GOOD}[identity]\nbusiness_hours = \"8-22\"\n"),
            "identity.business_hours",
            "HH:MM-HH:MM",
        ),
        (
            format!("{GOOD}[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ env = \"GARITA_TEST_UNSET_SECRET\" }}]\n"),
            "policies.pe.webhook.secrets[0]",
            "GARITA_TEST_UNSET_SECRET",
        ),
        (
            format!("{GOOD}[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ file = \"no-such.key\" }}]\n"),
            "policies.pe.webhook.secrets[0]",
            "no-such.key",
        ),
        (
            format!("{GOOD}[policies.pe.webhook]\nprofile = \"paypal\"\nsecrets = [{{ value = \"x\" }}]\n"),
            "policies.pe.webhook.profile",
            "pagoefectivo, stripe",
        ),
        (
            format!("{GOOD}[policies.h.webhook]\nprofile = \"hmac\"\nheader = \"X-Sig\"\nsecrets = [{{ value = \"a-generic-hmac-secret\" }}]\n"),
            "policies.h.webhook.replay_key",
            "selectors naming each event",
        ),
        (
            format!("{GOOD}[policies.h.webhook]\nprofile = \"hmac\"\nheader = \"X-Sig\"\ntemplate = \"{{timestamp}}.{{body}}\"\nreplay_key = [\"json:/id\"]\nsecrets = [{{ value = \"a-generic-hmac-secret\" }}]\n"),
            "policies.h.webhook.timestamp_header",
            "{timestamp}",
        ),
        (
            format!("{GOOD}[policies.sw.webhook]\nprofile = \"standard-webhooks\"\nsecrets = [{{ value = \"whsec_%%%\" }}]\n"),
            "policies.sw.webhook.secrets[0]",
            "base64",
        ),
        (
            format!("{GOOD}[identity]\nhash_key_env = \"GARITA_TEST_UNSET_KEY\"\n"),
            "identity.hash_key_env",
            "GARITA_TEST_UNSET_KEY",
        ),
    ];
    for (text, key, detail) in cases {
        let (ok, out) = check_text(&text);
        assert!(!ok, "should fail ({key}):\n{text}");
        assert!(out.contains("bad.toml"), "names the file: {out}");
        assert!(out.contains(key), "names the key {key}: {out}");
        assert!(out.contains(detail), "says {detail}: {out}");
        for rust in ["usize", "u32", "u64", "i64", "struct ", "sequence"] {
            assert!(!out.contains(rust), "no Rust type names ({rust}): {out}");
        }
    }
}

#[test]
fn a_bad_line_in_a_list_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("block.txt"),
        "192.0.2.1\n# ok\n192.0.2.999\n",
    )
    .unwrap();
    let path = dir.path().join("garita.toml");
    std::fs::write(
        &path,
        format!("{GOOD}[ip_rules]\nblock_files = [\"block.txt\"]\n"),
    )
    .unwrap();
    let (ok, out) = check(&path);
    assert!(!ok);
    assert!(out.contains("ip_rules.block_files[0]"), "{out}");
    assert!(out.contains("block.txt line 3"), "{out}");
}

#[test]
fn the_demo_plays_as_expected() {
    let demo = repo_path("conf/demo.toml");
    let out = run(
        garita_bin(),
        &["demo", "--exit", "--config", demo.to_str().unwrap()],
        &[],
        None,
    );
    let stdout = &out.stdout;
    assert!(out.success, "{stdout}\n{}", out.stderr);
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    // A structuring burst, a first large order and an anomaly day go to review.
    assert_eq!(stdout.matches(" review ").count(), 3, "{stdout}");
    assert!(stdout.contains("rate_limited"), "{stdout}");
    assert!(stdout.contains("country_not_allowed"), "{stdout}");
    for reason in [
        "quota_exceeded",
        "identity_blocked",
        "binding_exceeded",
        "duplicate_key",
        "bad_signature",
        "duplicate_notification",
    ] {
        assert!(stdout.contains(reason), "{reason}: {stdout}");
    }
}

#[test]
fn a_secret_written_in_the_file_is_accepted_with_a_warning_and_never_printed() {
    let (ok, out) = check_text(&format!(
        "{GOOD}[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ value = \"s3cr3t-value-of-24-bytes\" }}]\n"
    ));
    assert!(ok, "{out}");
    assert!(out.contains("warning: "), "{out}");
    assert!(out.contains("policies.pe.webhook.secrets[0]"), "{out}");
    assert!(!out.contains("s3cr3t-value"), "{out}");
}

fn sign(args: &[&str], body: &str) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("sign")
        .chain(args.iter().copied())
        .collect();
    let env = [
        ("PE_SECRET", fixtures::PE_SECRET),
        ("PAGOEFECTIVO_WEBHOOK_SECRET", fixtures::PE_SECRET),
    ];
    let out = run(garita_bin(), &args, &env, Some(body.as_bytes()));
    (out.success, out.text())
}

#[test]
fn garita_sign_prints_what_the_provider_would_send() {
    // The PagoEfectivo vector of tests/webhook_vectors.rs, computed with Python's hmac.
    let body = &fixtures::pe_paid("1234567");
    let expected =
        "PE-Signature: 0c12a63b8c211644ba47a387b06ca07e4301d3a522f71b0b4c07491cb29c4fe8\n";
    let (ok, out) = sign(
        &["--profile", "pagoefectivo", "--secret-env", "PE_SECRET"],
        body,
    );
    assert!(ok, "{out}");
    assert_eq!(out, expected);
    let config = repo_path("conf/garita.toml");
    let (ok, out) = sign(
        &[
            "--config",
            config.to_str().unwrap(),
            "--policy",
            "pagoefectivo-notify",
        ],
        body,
    );
    assert!(ok, "{out}");
    assert_eq!(out, expected);
    let (ok, out) = sign(
        &[
            "--profile",
            "stripe",
            "--secret-env",
            "PE_SECRET",
            "--timestamp",
            "1764000000",
        ],
        "{}",
    );
    assert!(
        ok && out.starts_with("Stripe-Signature: t=1764000000,v1="),
        "{out}"
    );
    let (ok, out) = sign(
        &["--profile", "pagoefectivo", "--secret-env", "NOPE_UNSET"],
        body,
    );
    assert!(!ok && out.contains("NOPE_UNSET"), "{out}");
}

/// Every option and argument of every subcommand says what it is in `--help`.
#[test]
fn every_flag_has_help_text() {
    let subcommands: [&[&str]; 16] = [
        &["run"],
        &["check"],
        &["sign"],
        &["state", "inspect"],
        &["logs", "export"],
        &["replay"],
        &["review", "list"],
        &["review", "resolve"],
        &["block"],
        &["block", "add"],
        &["block", "list"],
        &["block", "remove"],
        &["reload"],
        &["demo"],
        &["state"],
        &["review"],
    ];
    for sub in subcommands {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = run(garita_bin(), &args, &[], None);
        assert!(out.success, "{sub:?}: {}", out.text());
        let mut section = "";
        for line in out.stdout.lines() {
            if line.ends_with(':') && !line.starts_with(' ') {
                section = line;
                continue;
            }
            let item = line.trim_start();
            let is_item =
                line.starts_with("  ") && (item.starts_with('-') || item.starts_with('<'));
            if !is_item || !(section == "Options:" || section == "Arguments:") {
                continue;
            }
            // `  -c, --config <CONFIG>  The configuration file`: text after the spec.
            let described = item
                .split_once("  ")
                .is_some_and(|(_, help)| !help.trim().is_empty());
            assert!(
                described,
                "garita {}: {line:?} has no help text",
                sub.join(" ")
            );
        }
    }
}

/// Split a curl hint into words, as a shell would with single quotes.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// A child process killed if the test ends before it was waited for (a failed assertion
/// must not leave a gateway running).
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start `garita ARGS` in another directory and read its output up to the line that
/// starts with `until`: the decision log it names and its curl hints.
fn start_with_hints(
    args: &[&str],
    until: &str,
) -> (Running, Option<std::path::PathBuf>, Vec<String>) {
    use std::io::BufRead;
    let elsewhere = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(garita_bin())
        .args(args)
        .current_dir(elsewhere.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = None;
    let mut hints = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(path) = line.strip_prefix("decision log:") {
            log = Some(std::path::PathBuf::from(path.trim()));
        }
        if let Some(hint) = line.trim_start().strip_prefix("curl ") {
            hints.push(hint.to_string());
        }
        if line.starts_with(until) {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    (Running(Some(child)), log, hints)
}

/// Run each hint as printed (`... http://ADDR/PATH    # STATUS: what it shows`) and
/// check the status it gets.
fn run_hints(hints: &[String]) {
    use support::RawRequest;
    for hint in hints {
        let (command, comment) = hint.split_once("    # ").expect("a hint says what it gets");
        let expected: u16 = comment[..3].parse().unwrap();
        let words = shell_words(command);
        let url = words.last().unwrap().strip_prefix("http://").unwrap();
        let (addr, path) = url.split_at(url.find('/').unwrap());
        let mut request = RawRequest::new(
            if words.iter().any(|w| w == "-d") {
                "POST"
            } else {
                "GET"
            },
            path,
        );
        let mut args = words.iter();
        while let Some(word) = args.next() {
            match word.as_str() {
                "-H" => {
                    let (name, value) = args.next().unwrap().split_once(": ").unwrap();
                    request = request.header(name, value);
                }
                "-d" => request = request.body(args.next().unwrap().as_str()),
                _ => {}
            }
        }
        let response = request.send(addr.parse().unwrap()).unwrap();
        assert_eq!(response.status, expected, "curl {hint}");
    }
}

/// Ctrl-C: the process stops cleanly and its temporary directory goes with it.
fn interrupt_and_check_cleanup(mut running: Running, log: &std::path::Path) {
    // Kept in `running` throughout: a failed assertion here still stops it.
    let child = running.0.as_mut().expect("a running child");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = child.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    assert!(!log.parent().unwrap().exists(), "{} is left", log.display());
}

#[test]
fn the_demo_runs_from_any_directory_its_curl_hints_work_and_it_cleans_up() {
    let (child, log, hints) = start_with_hints(&["demo"], "Stop with Ctrl-C");
    let log = log.expect("the demo names its decision log");
    assert!(log.exists());
    assert_eq!(hints.len(), 4, "{hints:?}");
    run_hints(&hints);
    interrupt_and_check_cleanup(child, &log);
}

#[test]
fn try_serves_the_example_config_on_loopback_and_its_hints_get_what_they_say() {
    let (child, log, hints) = start_with_hints(&["try"], "Stop with Ctrl-C");
    let log = log.expect("try names its decision log");
    assert!(
        hints.iter().any(|h| h.contains("/v1/cips    # 200")),
        "a payment code that passes: {hints:?}"
    );
    assert!(
        hints.iter().any(|h| h.contains("/v1/cips    # 403")),
        "a payment code that is refused: {hints:?}"
    );
    for hint in &hints {
        assert!(hint.contains("http://127.0.0.1:"), "on loopback: {hint}");
    }
    run_hints(&hints);
    support::eventually("the payment codes are in the decision log", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("\"route\":\"cip-create\"")
    });
    interrupt_and_check_cleanup(child, &log);
}

#[test]
fn the_admin_api_listens_on_loopback_unless_told_otherwise() {
    let (ok, out) = check_text(&format!(
        "{GOOD}\n[admin]\ntokens = [{{ name = \"ops\", value = \"a-token-for-this-check\" }}]\n"
    ));
    assert!(ok, "{out}");
    assert!(
        out.contains("admin:     http://127.0.0.1:9181/admin/ (tokens: ops)"),
        "{out}"
    );
}

#[test]
fn check_reports_every_mistake_in_one_run() {
    let text = r#"
[server]
listen = ["127.0.0.1:8080"]
threads = 0
default_policy = "open"
[upstream]
addresses = ["127.0.0.1:3000"]
[client_ip]
trusted_proxies = ["10.0.0.0/33"]
[decision_log]
retention_days = 0
[policies.open]
[policies.pay.facts]
dni = "json:/a"
[[policies.pay.limits]]
fact = "ruc"
per_day = 3
[[routes]]
name = "pay"
paths = ["/pay"]
policy = "pay"
[[routes]]
name = "other"
paths = ["/other"]
policy = "nowhere"
"#;
    let (ok, out) = check_text(text);
    assert!(!ok, "{out}");
    for key in [
        "server.threads",
        "client_ip.trusted_proxies[0]",
        "decision_log.retention_days",
        "policies.pay.limits[0].fact",
        "routes[1].policy",
    ] {
        assert!(out.contains(key), "{key} missing:\n{out}");
    }
    assert_eq!(out.matches("error: ").count(), 5, "{out}");
    // The route on the policy that failed is not reported again.
    assert!(!out.contains("routes[0]"), "{out}");
}
