//! No secret that anybody can sign with: a webhook secret of fewer than 16 bytes of key
//! material (empty, `whsec_` alone, one byte, fifteen) is refused by `check`, by `run` and
//! by a reload, for every profile, naming the key; sixteen bytes are accepted. The admin
//! token and the hash key keep their minimums too.

mod support;

use base64::Engine;
use garita::core::webhook::{sign, Profile};
use support::{garita_bin, run, RawRequest, TestGateway};

const TOKEN: &str = "a-secrets-admin-token";

/// Every profile's webhook table, reading its secret from `secret.key`.
const PROFILES: &[(&str, &str)] = &[
    ("pagoefectivo", ""),
    ("stripe", ""),
    ("standard-webhooks", ""),
    ("checkout", ""),
    ("dlocal", ""),
    ("mercadopago", ""),
    (
        "hmac",
        "header = \"X-Signature\"\nreplay_key = [\"json:/id\"]\n",
    ),
];

/// The secret text that carries `n` bytes of key material for `profile`.
fn secret_of(profile: &str, n: usize) -> String {
    let material = "k".repeat(n);
    match profile {
        "standard-webhooks" => format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(material)
        ),
        "stripe" => format!("whsec_{material}"),
        _ => material,
    }
}

/// Secrets too weak to sign with, by name, for `profile`.
fn weak_secrets(profile: &str) -> Vec<(&'static str, String)> {
    vec![
        ("an empty file", String::new()),
        ("whsec_ alone", "whsec_".to_string()),
        ("one byte", secret_of(profile, 1)),
        ("fifteen bytes", secret_of(profile, 15)),
    ]
}

fn rules(profile: &str, extra: &str) -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", env = \"ADMIN_TOKEN\" }}]\n\
         [policies.hook.webhook]\nprofile = \"{profile}\"\nsecrets = [{{ file = \"secret.key\" }}]\n{extra}\n\
         [[routes]]\nname = \"notify\"\nmethods = [\"POST\"]\npaths = [\"/webhooks/notify\"]\npolicy = \"hook\"\n"
    )
}

fn check(config: &std::path::Path) -> support::Output {
    run(
        garita_bin(),
        &["check", "--config", config.to_str().unwrap()],
        &[("ADMIN_TOKEN", TOKEN)],
        None,
    )
}

fn assert_refused(out: &support::Output, what: &str) {
    let text = out.text();
    assert!(!out.success, "{what}: accepted\n{text}");
    assert!(
        text.contains("policies.hook.webhook.secrets[0]"),
        "{what}: names the key\n{text}"
    );
    assert!(
        text.contains("at least 16 bytes"),
        "{what}: says why\n{text}"
    );
}

#[test]
fn weak_webhook_secrets_are_refused_by_check_run_and_reload_for_every_profile() {
    for &(profile, extra) in PROFILES {
        let gw = TestGateway::builder()
            .env("ADMIN_TOKEN", TOKEN)
            .file("secret.key", secret_of(profile, 16))
            .rules(&rules(profile, extra))
            .start();
        let config = gw.path("garita.toml");
        let sixteen = check(&config);
        assert!(sixteen.success, "{profile}: 16 bytes\n{}", sixteen.text());

        for (what, secret) in weak_secrets(profile) {
            let what = format!("{profile}, {what}");
            std::fs::write(gw.path("secret.key"), &secret).unwrap();
            assert_refused(&check(&config), &format!("check: {what}"));

            let started = run(
                garita_bin(),
                &["run", "--config", config.to_str().unwrap()],
                &[("ADMIN_TOKEN", TOKEN)],
                None,
            );
            assert_refused(&started, &format!("run: {what}"));

            let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
            assert_eq!(r.status, 422, "reload: {what}");
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let why = body["why"].as_str().unwrap_or_default();
            assert!(
                why.contains("secrets[0]") && why.contains("at least 16 bytes"),
                "reload: {what}: {body}"
            );
            assert!(
                secret.len() < 6 || !why.contains(&secret),
                "reload: {what}: the secret is not echoed"
            );
        }
    }
}

#[test]
fn a_notification_signed_with_an_empty_key_is_not_forwarded_after_a_refused_reload() {
    for (profile, name) in [
        (Profile::PagoEfectivo, "pagoefectivo"),
        (Profile::StandardWebhooks, "standard-webhooks"),
    ] {
        let gw = TestGateway::builder()
            .env("ADMIN_TOKEN", TOKEN)
            .file("secret.key", secret_of(name, 32))
            .rules(&rules(name, ""))
            .start();
        std::fs::write(gw.path("secret.key"), "whsec_").unwrap();
        let r = gw.admin_call("POST", "/admin/reload", Some(TOKEN), None);
        assert_eq!(r.status, 422, "{name}");

        let body = r#"{"eventType":"cip.paid","operationNumber":"77","id":"evt_77"}"#;
        let now = jiff::Timestamp::now().as_second();
        let mut request =
            RawRequest::new("POST", "/webhooks/notify").header("Content-Type", "application/json");
        for (header, value) in sign(&profile, b"", body.as_bytes(), now, "msg_77") {
            request = request.header(&header, &value);
        }
        let answer = request.body(body).send(gw.proxy).unwrap();
        assert_eq!(answer.status, 401, "{name}: forged with an empty key");
        assert!(gw.received().is_empty(), "{name}: nothing forwarded");
    }
}

#[test]
fn admin_tokens_and_the_hash_key_keep_their_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[server]\nlisten = [\"127.0.0.1:8080\"]\ndefault_policy = \"open\"\n\
                [upstream]\naddresses = [\"127.0.0.1:3000\"]\n[policies.open]\n";
    for (section, key) in [
        (
            "[admin]\ntokens = [{ name = \"ops\", file = \"token\" }]\n",
            "admin.tokens[0]",
        ),
        (
            "[identity]\nhash_key_env = \"GARITA_SECRETS_TEST_KEY\"\n",
            "identity.hash_key_env",
        ),
    ] {
        for short in ["", "k", "fifteen-bytes.."] {
            std::fs::write(dir.path().join("token"), short).unwrap();
            let path = dir.path().join("garita.toml");
            std::fs::write(&path, format!("{base}{section}")).unwrap();
            let out = run(
                garita_bin(),
                &["check", "--config", path.to_str().unwrap()],
                &[("GARITA_SECRETS_TEST_KEY", short)],
                None,
            );
            assert!(!out.success, "{key} of {} bytes accepted", short.len());
            assert!(out.text().contains(key), "{}", out.text());
            assert!(out.text().contains("16 bytes"), "{}", out.text());
        }
    }
}
