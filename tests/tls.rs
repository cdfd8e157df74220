//! TLS, through the real binary and a real TLS client (reqwest on rustls): a TLS listener
//! serves a client that trusts the test's own CA, over HTTP/2 by ALPN or HTTP/1.1; a
//! renewed certificate is served after a reload without a restart; the admin API can be
//! HTTPS; garita speaks TLS to an upstream (another garita) and refuses one whose
//! certificate it cannot trust; `check` refuses a key that is not the certificate's.

mod support;

use support::{garita_bin, run, TestCa, TestGateway};

const TOKEN: &str = "an-admin-token-for-tls";

fn client(ca: &TestCa, http1: bool) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
        .tls_info(true)
        .use_rustls_tls();
    if http1 {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

/// The DER of the certificate the server presented.
fn presented(response: &reqwest::blocking::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("a peer certificate")
        .to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

fn tls_gateway(ca: &TestCa) -> TestGateway {
    let (cert, key) = ca.issue("localhost");
    TestGateway::builder()
        .env("ADMIN_TOKEN", TOKEN)
        .file("server.pem", &cert)
        .file("server.key", &key)
        .server(
            "watch_interval_ms = 0\n[server.tls]\nlisten = [\"127.0.0.1:0\"]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n",
        )
        .rules(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [{ name = \"ops\", env = \"ADMIN_TOKEN\" }]\n\
             tls = { cert_file = \"server.pem\", key_file = \"server.key\" }\n",
        )
        .start()
}

#[test]
fn a_tls_listener_serves_http2_and_http1_and_a_renewed_certificate_after_reload() {
    let ca = TestCa::new();
    let gw = tls_gateway(&ca);
    let port = gw.proxy_tls.expect("a TLS listener").port();
    let url = format!("https://localhost:{port}/shop/item");

    let h2 = client(&ca, false).get(&url).send().unwrap();
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let first = presented(&h2);
    let h1 = client(&ca, true).get(&url).send().unwrap();
    assert_eq!(
        (h1.status().as_u16(), h1.version()),
        (200, reqwest::Version::HTTP_11)
    );
    let received = gw.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].target, "/shop/item");
    assert_eq!(received[0].header("x-forwarded-for"), Some("127.0.0.1"));

    // The plain listener still serves plain HTTP.
    let plain = reqwest::blocking::get(gw.url("/plain")).unwrap();
    assert_eq!(plain.status(), 200);

    // A renewed certificate: written over, reloaded, served to the next connection.
    let (cert, key) = ca.issue("localhost");
    std::fs::write(gw.path("server.key"), &key).unwrap();
    std::fs::write(gw.path("server.pem"), &cert).unwrap();
    let admin = format!(
        "https://localhost:{}/admin/reload",
        gw.admin.unwrap().port()
    );
    let reloaded = client(&ca, true)
        .post(&admin)
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(reloaded.status(), 200, "the admin API over HTTPS");
    let renewed = client(&ca, false).get(&url).send().unwrap();
    assert_eq!(renewed.status(), 200);
    assert_ne!(presented(&renewed), first);
    assert_eq!(presented(&renewed), der(&cert));

    // A key that is not the certificate's is refused; the running one stays.
    let (_, other_key) = ca.issue("localhost");
    std::fs::write(gw.path("server.key"), &other_key).unwrap();
    let refused = client(&ca, true)
        .post(&admin)
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 422);
    let again = client(&ca, false).get(&url).send().unwrap();
    assert_eq!(presented(&again), der(&cert));
}

#[test]
fn garita_speaks_tls_to_an_upstream_it_trusts_and_refuses_one_it_cannot() {
    let ca = TestCa::new();
    // The upstream is another garita terminating TLS in front of the recording backend.
    let inner = tls_gateway(&ca);
    let inner_tls = inner.proxy_tls.unwrap();
    let outer = TestGateway::builder()
        .upstream(inner_tls)
        .file("ca.pem", &ca.pem)
        .upstream_settings("tls = { server_name = \"localhost\", ca_file = \"ca.pem\" }")
        .start();
    let r = reqwest::blocking::get(outer.url("/through/tls")).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(inner.received()[0].target, "/through/tls");

    // Without the private CA the upstream's certificate is not trusted: nothing forwarded.
    let untrusting = TestGateway::builder()
        .upstream(inner_tls)
        .upstream_settings("tls = { server_name = \"localhost\" }\nmax_fails = 0")
        .start();
    let r = reqwest::blocking::get(untrusting.url("/refused")).unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(inner.received().len(), 1);
}

#[test]
fn check_refuses_a_key_that_is_not_the_certificates() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = ca.issue("localhost");
    let (_, other_key) = ca.issue("localhost");
    std::fs::write(dir.path().join("server.pem"), cert).unwrap();
    std::fs::write(dir.path().join("server.key"), other_key).unwrap();
    let config = dir.path().join("garita.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:0\"]\ndefault_policy = \"open\"\n\
         [server.tls]\nlisten = [\"127.0.0.1:0\"]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n\
         [upstream]\naddresses = [\"127.0.0.1:3000\"]\n[policies.open]\n",
    )
    .unwrap();
    let out = run(
        garita_bin(),
        &["check", "--config", config.to_str().unwrap()],
        &[],
        None,
    );
    assert!(!out.success);
    assert!(
        out.stderr.contains("server.tls.cert_file"),
        "{}",
        out.text()
    );
    assert!(!out.stderr.contains("PRIVATE KEY"), "{}", out.text());
}
