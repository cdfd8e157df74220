//! The review console over HTTP, against a real gateway whose queue the test fills through
//! the proxy: without a session every page sends the browser to sign in and shows no
//! data; a wrong token is refused, and five refuse the address for a while; a reviewer
//! signs in, sees the queue in their language with the amounts and times a person reads;
//! signing out wants the session's CSRF token; a session idle past its time is over.
//! (The same console in a real browser is the next step: see the issue's notes.)

mod support;

use support::{RawRequest, RawResponse, TestGateway};

const REVIEWER: &str = "the-reviewer-token-of-tests";
const SECOND: &str = "the-second-reviewer-token-x";
const VIEWER: &str = "the-viewer-token-of-tests-x";

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
phone = "json:/userPhone"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips]
fraud_blocks = ["dni", "phone"]

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
  { name = "rita", role = "reviewer", env = "REVIEWER_TOKEN" },
  { name = "rui", role = "reviewer", env = "SECOND_TOKEN" },
  { name = "vera", role = "viewer", env = "VIEWER_TOKEN" },
]
"#;

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("REVIEWER_TOKEN", REVIEWER)
        .env("SECOND_TOKEN", SECOND)
        .env("VIEWER_TOKEN", VIEWER)
        .clock("2026-11-25T15:30:00Z")
        .rules(RULES)
        .start()
}

fn order(gw: &TestGateway, dni: &str, amount: &str) {
    assert_eq!(order_with_phone(gw, dni, "987654321", amount), 200);
}

fn order_with_phone(gw: &TestGateway, dni: &str, phone: &str, amount: &str) -> u16 {
    let body = format!(
        r#"{{"userDocumentNumber":"{dni}","userPhone":"{phone}","amount":"{amount}","currency":"PEN"}}"#
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
        .status
}

fn get(gw: &TestGateway, path: &str, cookie: Option<&str>, lang: &str) -> RawResponse {
    let mut request = RawRequest::new("GET", path).header("Accept-Language", lang);
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request.send(gw.admin.unwrap()).expect("admin answers")
}

fn post(gw: &TestGateway, path: &str, cookie: Option<&str>, form: &str) -> RawResponse {
    let mut request = RawRequest::new("POST", path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string());
    if let Some(cookie) = cookie {
        request = request.header("Cookie", cookie);
    }
    request.send(gw.admin.unwrap()).expect("admin answers")
}

fn text(r: &RawResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Sign in with `token`; the session cookie (`name=value`).
fn sign_in(gw: &TestGateway, token: &str) -> String {
    let signed = post(gw, "/console/login", None, &format!("token={token}"));
    assert_eq!(signed.status, 303, "{}", text(&signed));
    assert_eq!(signed.header("location"), Some("/console/"));
    let set = signed
        .header("set-cookie")
        .expect("a session cookie")
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

#[test]
fn without_a_session_the_console_shows_nothing_but_the_sign_in_page() {
    let gw = gateway();
    order(&gw, "45678912", "1500.00");
    for path in ["/console/", "/console", "/console/anything"] {
        let r = get(&gw, path, None, "es");
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/console/login")),
            "{path}"
        );
        assert!(r.body.is_empty());
    }
    let forged = get(
        &gw,
        "/console/",
        Some("garita_session=0123456789abcdef"),
        "es",
    );
    assert_eq!(forged.status, 303, "an unknown session is none");
    let login = get(&gw, "/console/login", None, "es-PE,es;q=0.9");
    assert_eq!(login.status, 200);
    let html = text(&login);
    assert!(html.contains(r#"<html lang="es">"#) && html.contains("Iniciar sesión"));
    assert!(!html.contains("1,500.00"), "no data before signing in");
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    let zh = text(&get(&gw, "/console/login", None, "zh-CN,zh;q=0.9"));
    assert!(zh.contains(r#"<html lang="zh-Hans">"#) && zh.contains("登录"));
    let css = get(&gw, "/console/static/console.css", None, "en");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn wrong_tokens_are_refused_and_then_the_address_is() {
    let gw = gateway();
    for _ in 0..4 {
        let r = post(&gw, "/console/login", None, "token=not-a-token-at-all");
        assert_eq!(r.status, 401);
        assert!(text(&r).contains("That token is not valid."));
        assert!(r.header("set-cookie").is_none());
    }
    assert_eq!(
        post(&gw, "/console/login", None, "token=still-wrong").status,
        401
    );
    let locked = post(&gw, "/console/login", None, &format!("token={REVIEWER}"));
    assert_eq!(
        locked.status, 429,
        "five failures lock the address, right token or not"
    );
    assert!(text(&locked).contains("try again in 15 minutes"));
    gw.set_clock("2026-11-25T15:46:00Z");
    assert!(!sign_in(&gw, REVIEWER).is_empty(), "the lock lifts");
}

#[test]
fn a_form_posted_from_another_site_is_refused() {
    let gw = gateway();
    // The raw client sends `Host: shop.test`.
    let from_site = |origin: &str, site: &str| {
        RawRequest::new("POST", "/console/login")
            .header("Origin", origin)
            .header("Sec-Fetch-Site", site)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={REVIEWER}"))
            .send(gw.admin.unwrap())
            .unwrap()
    };
    let from = |origin: &str| from_site(origin, "same-origin");
    let elsewhere = from("https://evil.example");
    assert_eq!(elsewhere.status, 403);
    assert!(
        elsewhere.header("set-cookie").is_none(),
        "no session from another site"
    );
    assert_eq!(
        from_site("http://shop.test", "cross-site").status,
        403,
        "a browser that says the form came from elsewhere is believed"
    );
    assert_eq!(
        from("null").status,
        403,
        "an opaque origin is not the console's"
    );
    assert_eq!(
        from("http://shop.test").status,
        303,
        "the console's own page signs in"
    );
}

#[test]
fn a_reviewer_sees_the_queue_signs_out_with_the_csrf_token_and_idles_out() {
    let gw = gateway();
    order(&gw, "45678912", "1500.00");
    order(&gw, "45678913", "12345.60");
    let cookie = sign_in(&gw, REVIEWER);
    let queue = get(&gw, "/console/", Some(&cookie), "es");
    assert_eq!(queue.status, 200);
    let html = text(&queue);
    assert!(html.contains("Cola de revisión") && html.contains("rita (reviewer)"));
    assert!(
        html.contains("S/ 1,500.00") && html.contains("S/ 12,345.60"),
        "{html}"
    );
    // 15:30 UTC is 10:30 in Lima; UTC on hover.
    assert!(html.contains(">2026-11-25 10:30</time>"), "{html}");
    assert!(html.contains(r#"title="2026-11-25 15:30 UTC""#));
    assert!(html.contains("large_order=60"));
    assert!(!html.contains("45678912"), "no DNI in clear");
    let english = text(&get(&gw, "/console/?lang=en", Some(&cookie), "es"));
    assert!(
        english.contains("Review queue"),
        "the page's switcher wins over the browser"
    );

    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-out form carries the CSRF token")
        .to_string();
    let forged = post(&gw, "/console/logout", Some(&cookie), "csrf=forged");
    assert_eq!(
        forged.status, 403,
        "a change without the session's CSRF token is refused"
    );
    assert_eq!(
        get(&gw, "/console/", Some(&cookie), "en").status,
        200,
        "still signed in"
    );
    let out = post(
        &gw,
        "/console/logout",
        Some(&cookie),
        &format!("csrf={csrf}"),
    );
    assert_eq!(
        (out.status, out.header("location")),
        (303, Some("/console/login"))
    );
    assert_eq!(
        get(&gw, "/console/", Some(&cookie), "en").status,
        303,
        "signed out"
    );

    let again = sign_in(&gw, REVIEWER);
    assert_eq!(get(&gw, "/console/", Some(&again), "en").status, 200);
    gw.set_clock("2026-11-25T16:01:00Z");
    let idle = get(&gw, "/console/", Some(&again), "en");
    assert_eq!(
        (idle.status, idle.header("location")),
        (303, Some("/console/login")),
        "31 minutes idle: the session is over"
    );
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    html.split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with the CSRF token")
        .to_string()
}

#[test]
fn opening_a_review_claims_it_and_a_fraud_decision_blocks_only_the_ticked_facts() {
    let gw = gateway();
    order(&gw, "45678912", "1500.00");
    let rita = sign_in(&gw, REVIEWER);
    let queue = text(&get(&gw, "/console/", Some(&rita), "en"));
    let id = queue
        .split(r#"href="/console/reviews/"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the queue links each review")
        .to_string();
    let page = format!("/console/reviews/{id}");
    let opened = text(&get(&gw, &page, Some(&rita), "en"));
    assert!(
        opened.contains("You hold this review until 2026-11-25 10:40."),
        "{opened}"
    );
    assert!(
        opened.contains(r#"value="dni" checked"#) && opened.contains(r#"value="phone" checked"#)
    );
    // The shortcuts are listed on the page and wired by data-key; fraud asks first.
    assert!(opened.contains(
        "a approve, f fraud, e escalate, t note, n next waiting review, p previous, q back to the queue"
    ));
    for key in ["a", "f", "e", "t", "q"] {
        assert!(opened.contains(&format!(r#"data-key="{key}""#)), "{key}");
    }
    assert!(opened.contains(r#"data-confirm="Mark this review as fraud"#));

    // Another reviewer sees who holds it and gets no forms; a viewer neither.
    let rui = sign_in(&gw, SECOND);
    let held = text(&get(&gw, &page, Some(&rui), "es"));
    assert!(
        held.contains("rita tiene esta revisión hasta las 2026-11-25 10:40."),
        "{held}"
    );
    assert!(
        !held.contains("/decide"),
        "no decision forms while another holds it"
    );
    let vera = sign_in(&gw, VIEWER);
    let read_only = text(&get(&gw, &page, Some(&vera), "zh"));
    assert!(!read_only.contains("/decide") && read_only.contains("rita 已认领此审核"));
    let viewer_try = post(
        &gw,
        &format!("{page}/decide"),
        Some(&vera),
        &format!("csrf={}&outcome=approved", csrf_of(&read_only)),
    );
    assert_eq!(viewer_try.status, 403, "a viewer decides nothing");

    // A decision without the session's CSRF token is refused and changes nothing.
    let forged = post(
        &gw,
        &format!("{page}/decide"),
        Some(&rita),
        "outcome=fraud&block=dni",
    );
    assert_eq!(forged.status, 403);
    assert_eq!(
        order_with_phone(&gw, "45678912", "911111111", "10.00"),
        200,
        "not blocked yet"
    );

    let csrf = csrf_of(&opened);
    let noted = post(
        &gw,
        &format!("{page}/notes"),
        Some(&rita),
        &format!("csrf={csrf}&text=called+the+buyer"),
    );
    assert_eq!(noted.status, 303);
    // Fraud, with the phone unticked: the DNI is blocked, the phone is not.
    let decided = post(
        &gw,
        &format!("{page}/decide"),
        Some(&rita),
        &format!("csrf={csrf}&outcome=fraud&block=dni"),
    );
    assert_eq!(
        (decided.status, decided.header("location")),
        (303, Some(page.as_str()))
    );
    assert_eq!(
        order_with_phone(&gw, "45678912", "911111111", "10.00"),
        403,
        "the DNI is blocked"
    );
    assert_eq!(
        order_with_phone(&gw, "11223344", "987654321", "10.00"),
        200,
        "the phone is not"
    );
    let after = text(&get(&gw, &page, Some(&rui), "en"));
    assert!(
        after.contains("Decided by rita: Fraud.") && after.contains("called the buyer"),
        "{after}"
    );
    let late = post(
        &gw,
        &format!("{page}/decide"),
        Some(&rui),
        &format!("csrf={}&outcome=approved", csrf_of(&held)),
    );
    assert_eq!(late.status, 303);
    assert!(
        text(&get(&gw, &page, Some(&rui), "en")).contains("Decided by rita: Fraud."),
        "the first decision stands"
    );
    support::eventually("the console's changes are audit lines by name", || {
        let log = gw.decisions();
        ["review_claimed", "review_noted", "review_resolved"]
            .iter()
            .all(|e| log.iter().any(|l| l["event"] == *e && l["by"] == "rita"))
    });
}

#[test]
fn the_queue_page_filters_by_status_and_route_and_pages_with_its_filters() {
    let gw = gateway();
    for (i, dni) in ["40000001", "40000002", "40000003"].iter().enumerate() {
        order(&gw, dni, &format!("{}.00", 1500 + i));
    }
    let cookie = sign_in(&gw, REVIEWER);
    let first = text(&get(&gw, "/console/", Some(&cookie), "en"));
    let id = first
        .split(r#"href="/console/reviews/"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    // Opening one claims it: one claimed, two waiting.
    assert_eq!(
        get(&gw, &format!("/console/reviews/{id}"), Some(&cookie), "en").status,
        200
    );
    let all = text(&get(&gw, "/console/", Some(&cookie), "en"));
    assert!(
        all.contains("Waiting: <strong>2</strong>") && all.contains("Claimed: <strong>1</strong>"),
        "{all}"
    );
    assert!(
        all.contains("w take the next waiting review, o open the first row, n next page, / filter")
    );
    let spanish = text(&get(&gw, "/console/", Some(&cookie), "es"));
    assert!(spanish.contains("n página siguiente, / filtrar"));
    let claimed = text(&get(&gw, "/console/?status=claimed", Some(&cookie), "en"));
    assert_eq!(claimed.matches(r#"<tr id="review-"#).count(), 1);
    assert!(claimed.contains(&format!(r#"id="review-{id}""#)));
    assert!(claimed.contains(r#"href="/console/?status=claimed" aria-current="page""#));
    let none = text(&get(&gw, "/console/?route=checkout", Some(&cookie), "en"));
    assert!(
        none.contains("No reviews waiting."),
        "no review on that route"
    );
    let paged = text(&get(
        &gw,
        "/console/?route=cips&limit=1",
        Some(&cookie),
        "en",
    ));
    assert_eq!(paged.matches(r#"<tr id="review-"#).count(), 1);
    assert!(
        paged.contains(r#"<a rel="next" href="/console/?route=cips&amp;limit=1&amp;after="#),
        "{paged}"
    );
    assert_eq!(
        get(&gw, "/console/?status=lost", Some(&cookie), "en").status,
        400
    );
}
