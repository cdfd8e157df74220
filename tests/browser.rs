//! The review console in a real headless Chromium, against a real gateway whose queue the
//! test fills through the proxy: a person signs in (a wrong token shows only the sign-in
//! page), filters and opens a review with the keyboard, a second person sees it claimed,
//! the first marks it as fraud with the phone unticked, and then the DNI is refused at
//! the proxy while the phone is not; the shop hears the outcome signed, again after a
//! 500; a change without the CSRF token is refused; an idle session is sent to sign in;
//! Spanish and Chinese pages are whole at desktop and phone width. Screenshots are kept
//! in `target/browser-screenshots/`.

mod support;

use std::time::Duration;
use support::{Browser, EventReceiver, Page, RawRequest, TestGateway};

const REVIEWER: &str = "the-reviewer-token-of-tests";
const SECOND: &str = "the-second-reviewer-token-x";
const KEY: &[u8; 32] = b"the-shops-review-events-key-32b!";

fn rules(events_at: std::net::SocketAddr) -> String {
    format!(
        r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
phone = "json:/userPhone"
amount = "json:/amount"
currency = "json:/currency"
order = "json:/transactionCode"

[policies.cips]
fraud_blocks = ["dni", "phone"]

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = {{ PEN = "1000" }}
weight = 60

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[admin]
listen = "127.0.0.1:0"
tokens = [
  {{ name = "rita", role = "reviewer", env = "REVIEWER_TOKEN" }},
  {{ name = "rui", role = "reviewer", env = "SECOND_TOKEN" }},
]

[review_events]
url = "http://{events_at}/garita/review-events"
secret = {{ env = "REVIEW_EVENTS_SECRET" }}
"#
    )
}

fn gateway(events_at: std::net::SocketAddr) -> TestGateway {
    use base64::Engine as _;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    );
    TestGateway::builder()
        .env("REVIEWER_TOKEN", REVIEWER)
        .env("SECOND_TOKEN", SECOND)
        .env("REVIEW_EVENTS_SECRET", &secret)
        .clock("2026-11-25T15:30:00Z")
        .rules(&rules(events_at))
        .start()
}

fn order(gw: &TestGateway, dni: &str, phone: &str, amount: &str, code: &str) -> u16 {
    let body = format!(
        r#"{{"userDocumentNumber":"{dni}","userPhone":"{phone}","amount":"{amount}","currency":"PEN","transactionCode":"{code}"}}"#
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
        .status
}

fn console(gw: &TestGateway, path: &str) -> String {
    format!("http://{}{path}", gw.admin.expect("an admin listener"))
}

fn sign_in(gw: &TestGateway, page: &Page<'_>, token: &str) {
    page.goto(&console(gw, "/console/"));
    assert_eq!(page.location(), "/console/login");
    page.fill("#token", token);
    page.click("form[action='/console/login'] button");
    page.wait_for_location(|at| at == "/console/");
}

/// Whether the page fits its window's width (nothing to scroll sideways).
fn fits_the_width(page: &Page<'_>) -> bool {
    page.script("return document.documentElement.scrollWidth <= window.innerWidth")
        == serde_json::Value::Bool(true)
}

#[test]
fn a_reviewer_works_a_case_in_chromium_and_the_shop_hears_the_outcome() {
    let shop = EventReceiver::start(&[500]);
    let gw = gateway(shop.addr);
    assert_eq!(order(&gw, "45678912", "987654321", "1500.00", "T-1"), 200);
    // A second later, so that the first is the oldest (one second orders by id).
    gw.set_clock("2026-11-25T15:30:01Z");
    assert_eq!(order(&gw, "45678913", "987650000", "2500.00", "T-2"), 200);

    let browser = Browser::start();
    let rita = browser.page(1280, 800, "en");
    // Without a session: the sign-in page, and no data; a wrong token changes nothing.
    rita.goto(&console(&gw, "/console/"));
    assert_eq!(rita.location(), "/console/login");
    rita.fill("#token", "not-a-token-at-all");
    rita.click("form[action='/console/login'] button");
    rita.wait_for_text("That token is not valid.");
    assert!(
        !rita.source().contains("1,500.00"),
        "no data before signing in"
    );
    rita.goto(&console(&gw, "/console/reviews/anything"));
    assert_eq!(rita.location(), "/console/login");

    sign_in(&gw, &rita, REVIEWER);
    let queue = rita.text();
    assert!(
        queue.contains("S/ 1,500.00") && queue.contains("S/ 2,500.00"),
        "{queue}"
    );
    rita.screenshot("queue-1280-en");
    assert!(fits_the_width(&rita));

    // "/" focuses the filter; the filtered queue keeps its filter in the address.
    rita.press('/');
    rita.type_here("cips\n");
    rita.wait_for_location(|at| at.contains("route=cips"));
    assert_eq!(rita.count("tbody tr"), 2);
    // "o" opens the first (the oldest) review, which claims it.
    rita.press('o');
    let opened = rita.wait_for_location(|at| at.starts_with("/console/reviews/"));
    // The review's address keeps the queue's filters, for its previous and next.
    let (review, kept) = opened.split_once('?').expect("the filters kept");
    assert!(kept.starts_with("route=cips"), "{kept}");
    let review = review.to_string();
    rita.wait_for_text("You hold this review until 2026-11-25 10:40.");
    assert!(rita.text().contains("S/ 1,500.00"));
    rita.screenshot("review-1280-en");

    // A second person, on a phone, in Spanish: sees who holds it, and no decision.
    let rui = browser.page(390, 844, "es");
    sign_in(&gw, &rui, SECOND);
    assert!(rui.text().contains("Cola de revisión"));
    rui.screenshot("queue-390-es");
    assert!(fits_the_width(&rui), "the queue fits 390 px");
    rui.goto(&console(&gw, &review));
    assert!(
        rui.text()
            .contains("rita tiene esta revisión hasta las 2026-11-25 10:40."),
        "{}",
        rui.text()
    );
    assert_eq!(rui.count("form[action$='/decide']"), 0);
    rui.screenshot("review-390-es");
    assert!(fits_the_width(&rui), "the review fits 390 px");

    // Fraud, with the phone unticked; "f" asks before it sends.
    rita.click("input[name=block][value=phone]");
    assert!(!rita.is_checked("input[name=block][value=phone]"));
    assert!(rita.is_checked("input[name=block][value=dni]"));
    rita.press('f');
    assert!(rita.accept_confirmation().contains("fraud"));
    rita.wait_for_text("Decided by rita: Fraud.");
    assert_eq!(
        order(&gw, "45678912", "911111111", "10.00", "T-3"),
        403,
        "the DNI is blocked at the proxy"
    );
    assert_eq!(
        order(&gw, "11223344", "987654321", "10.00", "T-4"),
        200,
        "the phone is not"
    );

    // The overview draws the hour's decisions, on a desktop and on the phone.
    rita.goto(&console(&gw, "/console/overview"));
    assert!(rita.text().contains("Decisions per hour, last day"));
    assert!(rita.count("svg.chart rect") >= 2, "bars for the hour");
    rita.screenshot("overview-1280-en");
    rita.script("document.getElementById('per-hour').scrollIntoView(); return true");
    rita.screenshot("overview-chart-1280-en");
    rui.goto(&console(&gw, "/console/overview"));
    assert!(rui.text().contains("Decisiones por hora"));
    rui.screenshot("overview-390-es");
    assert!(fits_the_width(&rui), "the overview fits 390 px");

    // The shop heard it, signed; it answered 500 first and got it again.
    let first = shop.wait_for(1, Duration::from_secs(10));
    assert_eq!(first.first().map(|e| e.answered), Some(500));
    gw.set_clock("2026-11-25T15:31:00Z");
    let got = shop.wait_for(2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "sent again after the 500");
    assert!(got
        .iter()
        .all(|e| support::standard_webhooks_signed(e, KEY)));
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    let event: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(
        (
            &event["type"],
            &event["order"],
            &event["outcome"],
            &event["by"]
        ),
        (
            &"review.resolved".into(),
            &"T-1".into(),
            &"fraud".into(),
            &"rita".into()
        )
    );

    // A change the page did not send (no CSRF token) is refused, from the browser too.
    let status = rui.run_async_script(&format!(
        "const done = arguments[arguments.length - 1];
         fetch('{review}/notes', {{method: 'POST', headers: {{'Content-Type':
           'application/x-www-form-urlencoded'}}, body: 'text=sneaky'}})
           .then(r => done(r.status));"
    ));
    assert_eq!(status, 403);

    // Chinese, on the phone, whole.
    rui.goto(&console(&gw, "/console/?lang=zh"));
    let zh = rui.text();
    assert!(
        zh.contains("审核队列") && zh.contains("S/ 2,500.00"),
        "{zh}"
    );
    rui.screenshot("queue-390-zh");
    assert!(fits_the_width(&rui));
    rita.goto(&console(&gw, &format!("{review}?lang=zh")));
    assert!(rita.text().contains("由 rita 决定：欺诈。"));
    rita.screenshot("review-1280-zh");

    // 31 minutes later, an idle session is over: the browser is sent to sign in.
    gw.set_clock("2026-11-25T16:05:00Z");
    rui.goto(&console(&gw, "/console/"));
    assert_eq!(rui.location(), "/console/login");
    assert!(!rui.source().contains("2,500.00"));
}
