//! Doors an outside attack found, each shut and pinned here through the real binary: a
//! document number spelled as a JSON number, keys and parameters a lenient backend reads
//! differently, header names with `_`, path spellings a framework routes to the payment
//! action, and a connection upgrade that would tunnel past the rules. Each test sends the
//! request the attack sent and checks the answer and what the recording backend saw.

mod fixtures;
mod support;

use support::{reason, RawRequest, RawResponse, TestCa, TestGateway};

const CIPS: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
dni_type = "json:/userDocumentType"
email = "json:/userEmail"
phone = "json:/userPhone"
account = "json:/userId"

[policies.cips.block]
dni = ["11223344"]
email = ["fraud.ster@gmail.com"]

[[policies.cips.limits]]
fact = "dni"
per_day = 3

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"
"#;

fn post(gw: &TestGateway, path: &str, body: &str) -> RawResponse {
    RawRequest::new("POST", path)
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .unwrap()
}

/// A CIP request whose document is `number` as raw JSON (a string or a number).
fn cip(label: &str, number: &str) -> String {
    format!(
        r#"{{"currency":"PEN","amount":"50.00","userEmail":"ana@example.pe","userId":"acct-1","userDocumentType":"{label}","userDocumentNumber":{number}}}"#
    )
}

#[test]
fn a_blocked_dni_spelled_as_a_json_number_is_blocked_under_every_label() {
    let gw = TestGateway::builder().rules(CIPS).start();
    for label in ["DNI", "CE", "PAS"] {
        for number in ["11223344", "11223344.0", "1.1223344e7", "112233440e-1"] {
            let r = post(&gw, "/v1/cips", &cip(label, number));
            assert_eq!(r.status, 403, "{label} {number}");
            assert_eq!(reason(&r), "identity_blocked", "{label} {number}");
        }
        // Not a whole number: not a document, never 112233445 with the dot dropped.
        for number in ["11223344.5", "-11223344", "1.1223344e-7"] {
            let r = post(&gw, "/v1/cips", &cip(label, number));
            assert_eq!(r.status, 400, "{label} {number}");
            assert_eq!(reason(&r), "invalid_document", "{label} {number}");
        }
    }
    assert!(gw.received().is_empty(), "nothing reached the backend");
}

#[test]
fn the_quota_counts_one_person_across_number_spellings_and_labels() {
    let gw = TestGateway::builder().rules(CIPS).start();
    let spellings = [
        ("DNI", "47112233"),
        ("CE", "47112233.0"),
        ("PAS", "4.7112233e7"),
    ];
    for (label, number) in spellings {
        assert_eq!(
            post(&gw, "/v1/cips", &cip(label, number)).status,
            200,
            "{label} {number}"
        );
    }
    for (label, number) in [("CE", "47112233.0"), ("DNI", "\"47112233\"")] {
        let over = post(&gw, "/v1/cips", &cip(label, number));
        assert_eq!(over.status, 429, "{label} {number}: a fourth spelling");
        assert_eq!(reason(&over), "quota_exceeded");
    }
    assert_eq!(gw.received().len(), 3);
}

#[test]
fn phones_and_accounts_given_as_numbers_are_read_by_value() {
    let gw = TestGateway::builder().rules(CIPS).start();
    let body = |phone: &str, account: &str| {
        format!(r#"{{"userDocumentNumber":"45678912","userPhone":{phone},"userId":{account}}}"#)
    };
    assert_eq!(
        post(&gw, "/v1/cips", &body("987654321.0", "77")).status,
        200
    );
    let r = post(&gw, "/v1/cips", &body("98765432.1", "77"));
    assert_eq!((r.status, reason(&r)), (400, "invalid_phone".to_string()));
    let r = post(&gw, "/v1/cips", &body("987654321", "77.5"));
    assert_eq!((r.status, reason(&r)), (400, "invalid_account".to_string()));
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn a_key_repeated_in_another_case_is_refused() {
    let gw = TestGateway::builder().rules(CIPS).start();
    // Go's encoding/json reads the last of keys that match case-insensitively.
    let r = post(
        &gw,
        "/v1/cips",
        r#"{"userDocumentNumber":"45678912","USERDOCUMENTNUMBER":"11223344"}"#,
    );
    assert_eq!((r.status, reason(&r)), (400, "duplicate_key".to_string()));
    let r = post(&gw, "/v1/cips", r#"{"USERDOCUMENTNUMBER":"11223344"}"#);
    assert_eq!((r.status, reason(&r)), (400, "ambiguous_key".to_string()));
    assert!(gw.received().is_empty());
}

#[test]
fn a_query_parameter_named_like_a_body_field_is_refused_unless_allowed() {
    let gw = TestGateway::builder().rules(CIPS).start();
    let clean = cip("DNI", "\"45678912\"");
    for query in [
        "?userDocumentNumber=11223344",
        "?USERDOCUMENTNUMBER=11223344",
        "?user[userDocumentNumber]=11223344",
        "?userEmail=fraud.ster%40gmail.com",
    ] {
        let r = post(&gw, &format!("/v1/cips{query}"), &clean);
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(reason(&r), "ambiguous_parameter", "{query}");
    }
    assert!(gw.received().is_empty());
    // Other parameters pass.
    assert_eq!(post(&gw, "/v1/cips?utm_source=mail", &clean).status, 200);

    let allowed = CIPS.replace(
        "account = \"json:/userId\"",
        "account = \"json:/userId\"\nallow_body_fields_in_query = true",
    );
    let gw = TestGateway::builder().rules(&allowed).start();
    let r = post(&gw, "/v1/cips?userDocumentNumber=1", &clean);
    assert_eq!(r.status, 200, "the policy allows it");
    assert_eq!(gw.received().len(), 1);
}

#[test]
fn header_names_with_underscores_are_dropped_logged_and_counted() {
    let gw = TestGateway::builder().start();
    let r = RawRequest::new("GET", "/shop")
        .header("X_Forwarded_For", "203.0.113.9")
        .header("X_Garita_Decision", "allow")
        .header("X_Request_Id", "forged")
        .header("X-Kept", "yes")
        .send(gw.proxy)
        .unwrap();
    assert_eq!(r.status, 200);
    let seen = &gw.received()[0];
    for name in ["x_forwarded_for", "x_garita_decision", "x_request_id"] {
        assert_eq!(seen.header(name), None, "{name} reached the backend");
    }
    assert_eq!(seen.header("x-kept"), Some("yes"));
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    gw.wait_for_metric("garita_request_headers_dropped_total 3");
    let line = &gw.wait_for_decisions(1)[0];
    assert_eq!(
        line["dropped_headers"],
        "x_forwarded_for, x_garita_decision, x_request_id"
    );

    let keep = TestGateway::builder()
        .server("underscores_in_headers = \"keep\"")
        .start();
    RawRequest::new("GET", "/shop")
        .header("X_Custom", "1")
        .send(keep.proxy)
        .unwrap();
    assert_eq!(keep.received()[0].header("x_custom"), Some("1"));
}

/// The payment route and a webhook route behind a blocked DNI and a signature.
fn guarded() -> TestGateway {
    guarded_with("")
}

/// [`guarded`], with more routes.
fn guarded_with(routes: &str) -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", fixtures::PE_SECRET)
        .rules(&format!(
            "{CIPS}\n[policies.pe.webhook]\nprofile = \"pagoefectivo\"\nsecrets = [{{ env = \"PE_SECRET\" }}]\n\
             [[routes]]\nname = \"pe-notify\"\nmethods = [\"POST\"]\npaths = [\"/webhooks/pagoefectivo\"]\npolicy = \"pe\"\n\
             [[routes]]\nname = \"exact\"\nmethods = [\"POST\"]\npaths = [\"/v1/exact\"]\npolicy = \"cips\"\nexact = true\n{routes}"
        ))
        .start()
}

#[test]
fn path_spellings_a_lenient_backend_routes_are_judged_or_refused() {
    let gw = guarded();
    let blocked = cip("DNI", "\"11223344\"");
    // Rails' (.:format): the payment action under a format suffix, judged as itself.
    for path in ["/v1/cips.json", "/v1/cips.xml", "/V1/CIPS.JSON"] {
        let r = post(&gw, path, &blocked);
        assert_eq!(
            (r.status, reason(&r)),
            (403, "identity_blocked".into()),
            "{path}"
        );
    }
    let r = post(&gw, "/webhooks/pagoefectivo.json", &fixtures::pe_paid("1"));
    assert_eq!(
        r.status, 401,
        "an unsigned notification under a format suffix"
    );
    // An exact route matches only itself: the suffixed path is the default route's.
    assert_eq!(post(&gw, "/v1/exact", &blocked).status, 403);
    assert_eq!(post(&gw, "/v1/exact.json", &blocked).status, 200);
    let forwarded = gw.received();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].target, "/v1/exact.json");

    for base in ["/v1/cips", "/webhooks/pagoefectivo"] {
        for spelling in ["%20", "%2e", "%2E", "%23", "%3f", "%3F", "/..", "/.", "%09"] {
            let path = format!("{base}{spelling}");
            let r = post(&gw, &path, &blocked);
            assert_eq!(r.status, 400, "{path}");
            assert_eq!(reason(&r), "malformed_path", "{path}");
        }
    }
    assert_eq!(gw.received().len(), 1, "no spelling reached the backend");
}

#[test]
fn http2_paths_go_through_the_same_rule() {
    let ca = TestCa::new();
    let (cert, key) = ca.issue("localhost");
    let gw = TestGateway::builder()
        .file("server.pem", &cert)
        .file("server.key", &key)
        .server("[server.tls]\nlisten = [\"127.0.0.1:0\"]\ncert_file = \"server.pem\"\nkey_file = \"server.key\"\n")
        .rules(CIPS)
        .start();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
        .use_rustls_tls()
        .build()
        .unwrap();
    let port = gw.proxy_tls.unwrap().port();
    let send = |path: &str| {
        let r = client
            .post(format!("https://localhost:{port}{path}"))
            .header("content-type", "application/json")
            .body(cip("DNI", "\"11223344\""))
            .send()
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().unwrap();
        (status, body["reason"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(send("/v1/cips.json"), (403, "identity_blocked".into()));
    for path in ["/v1/cips%20", "/v1/cips%2e", "/v1/cips%23", "/v1/cips%3f"] {
        assert_eq!(send(path), (400, "malformed_path".into()), "{path}");
    }
    assert!(gw.received().is_empty());
}

fn upgrade(gw: &TestGateway, method: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    let mut request = RawRequest::new(method, path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
        .send(gw.proxy)
        .unwrap_or_else(|e| panic!("{method} {path} {headers:?}: {e}"))
}

#[test]
fn no_upgrade_unless_the_route_allows_it_and_never_past_identity_rules() {
    let gw = guarded_with(
        "[[routes]]\nname = \"live\"\npaths = [\"/live/**\"]\npolicy = \"open\"\nupgrade = true\n",
    );
    let websocket = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    // Where facts or signatures are judged, an upgrade is refused.
    for (method, path, headers) in [
        ("POST", "/v1/cips", &websocket[..]),
        ("POST", "/webhooks/pagoefectivo", &websocket[..]),
        ("POST", "/v1/cips", &[("Upgrade", "h2c")][..]),
        (
            "POST",
            "/v1/cips",
            &[("Connection", "keep-alive, upgrade")][..],
        ),
    ] {
        let r = upgrade(&gw, method, path, headers);
        assert_eq!(r.status, 400, "{method} {path} {headers:?}");
        assert_eq!(reason(&r), "upgrade_refused");
    }
    assert!(gw.received().is_empty());
    // Elsewhere the request goes on as a plain one: the backend never sees the Upgrade,
    // so no 101 can turn the connection into a tunnel.
    // (This test client sends its own `Connection: close` line, which Pingora reads only
    // when it is the first: the token goes in the same line here.)
    let plain = [("Upgrade", "websocket"), ("Connection", "close, Upgrade")];
    let r = upgrade(&gw, "GET", "/anything", &plain);
    assert_eq!(r.status, 200);
    assert_eq!(gw.received()[0].header("upgrade"), None);
    // A route that says so may upgrade: the request goes on with its Upgrade header (the
    // recording backend answers 200, not 101, so how the exchange ends is not the point).
    let mut request = RawRequest::new("GET", "/live/feed");
    for (name, value) in websocket {
        request = request.header(name, value);
    }
    let _ = request.send(gw.proxy);
    let seen = gw.received();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("upgrade"), Some("websocket"));

    // And `check` refuses an upgrade on a route whose policy reads identities.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garita.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = [\"127.0.0.1:8080\"]\ndefault_policy = \"open\"\n[upstream]\naddresses = [\"127.0.0.1:3000\"]\n[policies.open]\n{}",
            CIPS.replace("policy = \"cips\"", "policy = \"cips\"\nupgrade = true")
        ),
    )
    .unwrap();
    let out = support::run(
        support::garita_bin(),
        &["check", "--config", path.to_str().unwrap()],
        &[],
        None,
    );
    assert!(!out.success);
    assert!(out.text().contains("routes[0].upgrade"), "{}", out.text());
}

#[test]
fn spellings_of_a_blocked_email_are_one_email() {
    let gw = TestGateway::builder().rules(CIPS).start();
    for email in [
        "mailto:fraud.ster@gmail.com",
        "\\\"fraud.ster\\\"@gmail.com",
        "fraud.ster(x)@gmail.com",
    ] {
        let body = format!(r#"{{"userDocumentNumber":"45678912","userEmail":"{email}"}}"#);
        let r = post(&gw, "/v1/cips", &body);
        assert_eq!(r.status, 403, "{email}");
        assert_eq!(reason(&r), "identity_blocked", "{email}");
    }
    let r = post(
        &gw,
        "/v1/cips",
        r#"{"userDocumentNumber":"45678912","userEmail":"\"fraud ster\"@gmail.com"}"#,
    );
    assert_eq!((r.status, reason(&r)), (400, "invalid_email".into()));
    assert!(gw.received().is_empty());
}

#[test]
fn identifiers_in_the_path_never_reach_the_decision_log() {
    let gw = TestGateway::builder().start();
    for path in [
        "/v1/customers/11223344/orders",
        "/account/fraud.ster@gmail.com",
        "/v1/cips;dni=11223344",
    ] {
        RawRequest::new("GET", path).send(gw.proxy).unwrap();
    }
    let lines = gw.wait_for_decisions(3);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["/v1/customers/*/orders", "/account/*", "/v1/cips;*"]
    );
    let text = gw.decision_log_text();
    for secret in ["11223344", "fraud.ster"] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}
