//! People, not one token: each admin token has a role. A viewer reads; a reviewer also
//! works the queue (a fraud resolution still blocks) and looks up identities; only an
//! admin changes blocks, quotas and the config. A call beyond a token's role gets 403 and
//! changes nothing. Reviewers page through the queue, claim a review (another sees who
//! holds it), note and escalate it, over the admin API.

mod support;

use support::{RawRequest, TestGateway};

const ADMIN: &str = "the-admin-token-of-tests";
const REVIEWER: &str = "the-reviewer-token-of-tests";
const VIEWER: &str = "the-viewer-token-of-tests";
const SECOND_REVIEWER: &str = "the-second-reviewer-token";

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
amount = "json:/amount"
currency = "json:/currency"

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
tokens = [
  { name = "ops", env = "ADMIN_TOKEN" },
  { name = "rita", role = "reviewer", env = "REVIEWER_TOKEN" },
  { name = "vera", role = "viewer", env = "VIEWER_TOKEN" },
  { name = "rui", role = "reviewer", env = "SECOND_REVIEWER_TOKEN" },
]
"#;

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("ADMIN_TOKEN", ADMIN)
        .env("REVIEWER_TOKEN", REVIEWER)
        .env("VIEWER_TOKEN", VIEWER)
        .env("SECOND_REVIEWER_TOKEN", SECOND_REVIEWER)
        .rules(RULES)
        .start()
}

fn order(gw: &TestGateway, dni: &str) -> u16 {
    let body = format!(r#"{{"userDocumentNumber":"{dni}","amount":"1500.00","currency":"PEN"}}"#);
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
        .status
}

/// The status of a call with `token`, and the role a 403 says it needs.
fn call(
    gw: &TestGateway,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Option<String>) {
    let r = gw.admin_call(method, path, Some(token), body);
    let needs = r.json().and_then(|j| j["needs"].as_str().map(String::from));
    (r.status, needs)
}

const BLOCK: &str = r#"{"fact":"dni","value":"11223344","reason":"chargeback"}"#;

#[test]
fn each_role_does_what_it_may_and_no_more() {
    let gw = gateway();
    assert_eq!(order(&gw, "45678912"), 200, "forwarded for review");
    let listed = gw.admin_call("GET", "/admin/reviews", Some(VIEWER), None);
    assert_eq!(listed.status, 200, "a viewer reads the queue");
    let id = listed.json().unwrap()["reviews"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resolve = format!("/admin/reviews/{id}");
    let fraud = Some(r#"{"outcome":"fraud"}"#);

    for path in ["/admin/status", "/admin/blocks", "/admin/healthz"] {
        assert_eq!(call(&gw, VIEWER, "GET", path, None).0, 200, "{path}");
    }
    let needs = |role: &str| (403, Some(role.to_string()));
    assert_eq!(
        call(&gw, VIEWER, "POST", &resolve, fraud),
        needs("reviewer")
    );
    assert_eq!(
        call(&gw, VIEWER, "GET", "/admin/keys/dni/45678912", None),
        needs("reviewer"),
        "looking an identity up is a reviewer's"
    );
    assert_eq!(
        call(&gw, VIEWER, "POST", "/admin/blocks", Some(BLOCK)),
        needs("admin")
    );
    assert_eq!(order(&gw, "45678912"), 200, "nothing changed");

    for (method, path, body) in [
        ("POST", "/admin/blocks", Some(BLOCK)),
        ("DELETE", "/admin/blocks", Some(BLOCK)),
        ("POST", "/admin/reload", None),
        ("POST", "/admin/quotas/reset", Some(BLOCK)),
    ] {
        assert_eq!(
            call(&gw, REVIEWER, method, path, body),
            needs("admin"),
            "{method} {path}"
        );
    }
    assert_eq!(
        call(&gw, REVIEWER, "GET", "/admin/keys/dni/45678912", None).0,
        200
    );
    assert_eq!(
        order(&gw, "11223344"),
        200,
        "the reviewer's block was refused"
    );
    assert_eq!(call(&gw, REVIEWER, "POST", &resolve, fraud).0, 200);
    assert_eq!(
        order(&gw, "45678912"),
        403,
        "a fraud resolution still blocks"
    );
    support::eventually(
        "the resolution is the reviewer's, by name, in the audit trail",
        || {
            gw.decisions()
                .iter()
                .any(|l| l["event"] == "review_resolved" && l["by"] == "rita")
        },
    );

    assert_eq!(
        call(&gw, ADMIN, "POST", "/admin/blocks", Some(BLOCK)).0,
        201,
        "an admin adds a block"
    );
    assert_eq!(order(&gw, "11223344"), 403, "an admin's block holds");
}

#[test]
fn an_unknown_role_is_a_config_error_naming_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("garita.toml");
    std::fs::write(
        &config,
        r#"
[server]
listen = ["127.0.0.1:0"]
default_policy = "open"

[upstream]
addresses = ["127.0.0.1:9"]

[policies.open]

[state]
backend = "memory"

[admin]
listen = "127.0.0.1:0"
tokens = [{ name = "ops", role = "superuser", value = "a-token-of-sixteen-bytes" }]
"#,
    )
    .unwrap();
    let out = support::run(
        support::garita_bin(),
        &["check", "--config", config.to_str().unwrap()],
        &[],
        None,
    );
    assert!(!out.success);
    assert!(
        out.text().contains("admin.tokens[0].role"),
        "{}",
        out.text()
    );
}

#[test]
fn reviewers_page_claim_note_and_escalate_over_the_admin_api() {
    let gw = gateway();
    for dni in ["40000001", "40000002", "40000003"] {
        assert_eq!(order(&gw, dni), 200);
    }
    let page = |query: &str| {
        let r = gw.admin_call("GET", &format!("/admin/queue?{query}"), Some(VIEWER), None);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json().unwrap()
    };
    let first = page("limit=2");
    assert_eq!(first["reviews"].as_array().unwrap().len(), 2);
    assert_eq!(first["total"], 3);
    assert_eq!(first["by_status"]["waiting"], 3);
    let next = first["next"].as_str().unwrap().to_string();
    let second = page(&format!("limit=2&after={next}"));
    assert_eq!(second["reviews"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    let id = first["reviews"][0]["id"].as_str().unwrap().to_string();
    let review = |action: &str| format!("/admin/reviews/{id}/{action}");

    assert_eq!(
        call(&gw, VIEWER, "POST", &review("claim"), None),
        (403, Some("reviewer".to_string())),
        "a viewer claims nothing"
    );
    let claimed = gw.admin_call(
        "POST",
        &review("claim"),
        Some(REVIEWER),
        Some(r#"{"minutes":5}"#),
    );
    assert_eq!(claimed.status, 200);
    assert_eq!(claimed.json().unwrap()["review"]["claim"]["by"], "rita");
    let taken = gw.admin_call("POST", &review("claim"), Some(SECOND_REVIEWER), None);
    assert_eq!(taken.status, 409, "another reviewer sees it held");
    let held = taken.json().unwrap();
    assert_eq!(
        (held["error"].as_str(), held["by"].as_str()),
        (Some("held"), Some("rita"))
    );
    assert_eq!(page("status=claimed")["total"], 1);
    assert_eq!(page("assignee=rita")["total"], 1);

    let noted = gw.admin_call(
        "POST",
        &review("notes"),
        Some(REVIEWER),
        Some(r#"{"text":"called the buyer, no answer"}"#),
    );
    assert_eq!(noted.status, 200);
    let empty = gw.admin_call(
        "POST",
        &review("notes"),
        Some(REVIEWER),
        Some(r#"{"text":""}"#),
    );
    assert_eq!(empty.status, 400);
    assert_eq!(
        call(&gw, REVIEWER, "POST", &review("escalate"), None).0,
        200
    );
    let one = gw.admin_call("GET", &format!("/admin/reviews/{id}"), Some(VIEWER), None);
    let one = one.json().unwrap();
    assert!(one["review"]["escalation"]["by"] == "rita" && one["review"]["claim"].is_null());
    assert_eq!(
        one["review"]["notes"][0]["text"],
        "called the buyer, no answer"
    );
    assert_eq!(page("status=escalated")["total"], 1);

    assert_eq!(
        call(
            &gw,
            REVIEWER,
            "POST",
            &format!("/admin/reviews/{id}"),
            Some(r#"{"outcome":"approved"}"#)
        )
        .0,
        200
    );
    let late = gw.admin_call("POST", &review("claim"), Some(SECOND_REVIEWER), None);
    assert_eq!(late.status, 409);
    assert_eq!(
        late.json().unwrap()["review"]["resolution"]["by"],
        "rita",
        "a decision stands"
    );
    assert_eq!(page("")["total"], 2, "the open queue");
    assert_eq!(page("status=resolved")["total"], 1);
    assert_eq!(
        gw.admin_call("GET", "/admin/queue?status=lost", Some(VIEWER), None)
            .status,
        400
    );
    assert_eq!(
        gw.admin_call("GET", "/admin/reviews/nope", Some(VIEWER), None)
            .status,
        404
    );
    support::eventually(
        "each change is an audit line by the reviewer's name",
        || {
            let log = gw.decisions();
            ["review_claimed", "review_noted", "review_escalated"]
                .iter()
                .all(|e| log.iter().any(|l| l["event"] == *e && l["by"] == "rita"))
                && !gw.decision_log_text().contains("called the buyer")
        },
    );
}
