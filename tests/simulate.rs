//! `garita simulate` through the real binary: each flow of a payment code passes against
//! a sandbox backend that checks signatures itself, and the forged flow fails, naming
//! its step, against one that accepts a forged notification sent to it directly.

#[macro_use]
mod fixtures;
mod support;

use fixtures::PE_SECRET;
use support::{garita_bin, run, TestGateway};

const RITA: &str = "rita-reviewer-token-for-tests";

const RULES: &str = concat!(
    r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
amount = "json:/amount"
currency = "json:/currency"
order = "json:/transactionCode"

[policies.cips.payment_codes]
code = "response_json:/data/cip"
expires = "json:/dateExpiry"

[policies.pe.webhook]
profile = "pagoefectivo"
secrets = [{ env = "PE_SECRET" }]
[policies.pe.webhook.settles]

[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "rita", role = "reviewer", env = "RITA_TOKEN" }]
"#,
    cip_and_pe_routes!()
);

const FLOWS: [&str; 8] = [
    "paid",
    "expired",
    "refunded",
    "duplicate",
    "late",
    "forged",
    "out-of-order",
    "timeout",
];

fn gateway(verifying: bool) -> TestGateway {
    let builder = TestGateway::builder()
        .env("PE_SECRET", PE_SECRET)
        .env("RITA_TOKEN", RITA)
        .upstream_settings("read_timeout_ms = 500")
        .rules(RULES);
    if verifying {
        builder.shop_verifying(PE_SECRET).start()
    } else {
        builder.start()
    }
}

fn simulate(gw: &TestGateway, flow: &str) -> support::Output {
    let config = gw.path("garita.toml").display().to_string();
    let gateway = gw.proxy.to_string();
    let admin = gw.admin.expect("an admin listener").to_string();
    run(
        garita_bin(),
        &[
            "simulate",
            "--config",
            &config,
            "--flow",
            flow,
            "--gateway",
            &gateway,
            "--admin",
            &admin,
        ],
        &[("PE_SECRET", PE_SECRET), ("RITA_TOKEN", RITA)],
        None,
    )
}

#[test]
fn every_flow_passes_against_a_backend_that_checks_its_notifications() {
    let gw = gateway(true);
    for flow in FLOWS {
        let out = simulate(&gw, flow);
        assert!(out.success, "{flow}: {}", out.text());
        assert!(
            out.stdout.contains(&format!("flow {flow}: passed")),
            "{flow}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("step 1, create: POST /v1/cips"),
            "{}",
            out.stdout
        );
    }
    // What each step printed: garita's part, the backend's, the store's.
    let out = simulate(&gw, "duplicate");
    assert!(
        out.stdout.contains("step 2, paid: POST /webhooks/pagoefectivo -> forwarded, the backend answered 200; store: kept, paid at "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("step 3, paid again: POST /webhooks/pagoefectivo -> garita acknowledged it (duplicate_notification), not forwarded; store: kept, paid at "),
        "{}",
        out.stdout
    );
    let out = simulate(&gw, "timeout");
    assert!(
        out.stdout
            .contains("garita answered 504 (upstream_timeout); store: kept, open, no event yet"),
        "{}",
        out.stdout
    );
    let out = simulate(&gw, "forged");
    assert!(
        out.stdout.contains("garita answered 401 (bad_signature)")
            && out.stdout.contains(
                "straight to the backend: POST /webhooks/pagoefectivo -> the backend answered 401"
            ),
        "{}",
        out.stdout
    );
}

#[test]
fn the_forged_flow_fails_naming_its_step_against_a_backend_that_accepts_forgeries() {
    let gw = gateway(false);
    // The flows garita alone makes safe still pass.
    assert!(simulate(&gw, "paid").success);
    let out = simulate(&gw, "forged");
    assert!(!out.success, "{}", out.text());
    assert!(
        out.stdout.contains(
            "FAILED at step 3 (paid, forged, straight to the backend): expected refused by the backend itself (not 2xx)"
        ),
        "{}",
        out.stdout
    );
}
