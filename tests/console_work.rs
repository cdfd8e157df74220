//! Working reviews in the console, over HTTP against a real gateway whose queue the test
//! fills through the proxy: a review's page says in words why each rule fired, shows the
//! masked hints and countries and never a whole value, and the same customer's history
//! (other reviews with their outcomes, bound accounts, a block after fraud), each key
//! linked to the queue filtered by it; "next" takes the oldest review nobody holds and
//! "previous" goes back; a bulk decision decides each ticked review as its page would
//! (one held by someone else is left alone); an escalated review waits for an admin; the
//! queue's filters come back filled in.

mod support;

use support::{page_text, ConsoleUser, RawRequest, TestGateway};

const RULES: &str = r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
phone = "json:/userPhone"
account = "json:/userId"
amount = "json:/amount"
currency = "json:/currency"
order = "json:/transactionCode"
billing_country = "json:/billingCountry"

[policies.cips]
fraud_blocks = ["dni", "phone"]
review_hints = ["dni", "phone"]

[[policies.cips.bindings]]
fact = "dni"
to = "account"
max = 5
window = "30d"

[policies.cips.score]
review = 50

[[policies.cips.risk]]
rule = "large_order"
at_least = { PEN = "1000" }
weight = 60

[[policies.cips.risk]]
rule = "structuring"
fact = "dni"
below = { PEN = "50.00" }
count = 3
within = "1h"
weight = 60

[[routes]]
name = "cips"
methods = ["POST"]
paths = ["/v1/cips"]
policy = "cips"

[admin]
listen = "127.0.0.1:0"
tokens = [
  { name = "rita", role = "reviewer", env = "RITA_TOKEN" },
  { name = "rui", role = "reviewer", env = "RUI_TOKEN" },
  { name = "ada", role = "admin", env = "ADA_TOKEN" },
]
"#;

const RITA: &str = "rita-reviewer-token-for-tests";
const RUI: &str = "rui-reviewer-token-for-tests-";
const ADA: &str = "ada-admin-token-for-the-tests";

fn gateway() -> TestGateway {
    TestGateway::builder()
        .env("RITA_TOKEN", RITA)
        .env("RUI_TOKEN", RUI)
        .env("ADA_TOKEN", ADA)
        .clock("2026-11-25T15:30:00Z")
        .rules(RULES)
        .start()
}

struct Order<'a> {
    dni: &'a str,
    phone: &'a str,
    account: &'a str,
    amount: &'a str,
    code: &'a str,
}

fn send(gw: &TestGateway, o: &Order<'_>) -> u16 {
    let body = format!(
        r#"{{"userDocumentNumber":"{}","userPhone":"{}","userId":"{}","amount":"{}","currency":"PEN","transactionCode":"{}","billingCountry":"PE"}}"#,
        o.dni, o.phone, o.account, o.amount, o.code
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
        .status
}

/// A large order (sent to review) from `dni`.
fn large(gw: &TestGateway, dni: &str, account: &str, amount: &str, code: &str) {
    let order = Order {
        dni,
        phone: "987654321",
        account,
        amount,
        code,
    };
    assert_eq!(send(gw, &order), 200);
}

/// The review ids a page links, in the page's order, once each.
fn review_ids(page: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for rest in page.split(r#"href="/console/reviews/"#).skip(1) {
        let id: String = rest
            .chars()
            .take_while(|c| *c != '"' && *c != '?')
            .collect();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

fn location(r: &support::RawResponse) -> String {
    assert_eq!(r.status, 303, "{}", page_text(r));
    r.header("location").expect("a redirect").to_string()
}

#[test]
fn a_review_page_says_why_in_words_and_shows_the_customers_history() {
    let gw = gateway();
    large(&gw, "45678912", "u-1001", "1500.00", "T-1");
    gw.set_clock("2026-11-25T15:31:00Z");
    large(&gw, "45678912", "u-1002", "2500.00", "T-2");
    let rita = ConsoleUser::sign_in(&gw, RITA);
    let ids = review_ids(&rita.page("/console/"));
    assert_eq!(ids.len(), 2, "both orders wait");
    let (first, second) = (&ids[0], &ids[1]);

    let page = rita.page(&format!("/console/reviews/{second}"));
    assert!(
        page.contains("The order is S/ 2,500.00, at or above S/ 1,000.00.") && page.contains("+60"),
        "the rule in words, with its weight: {page}"
    );
    assert!(page.contains("•••••912") && page.contains("•••• ••321"));
    assert!(
        !page.contains("45678912") && !page.contains("987654321"),
        "never a whole value"
    );
    assert!(
        page.contains("<dt>Billing country</dt><dd>PE</dd>"),
        "{page}"
    );
    // The same DNI's history: the other review (waiting), the two accounts bound.
    assert!(page.contains("Identity document (DNI)"));
    assert!(page.contains("1 other reviews carry it:"), "{page}");
    assert!(page.contains(&format!(r#"<a href="/console/reviews/{first}">"#)));
    assert!(page.contains("2 accounts bound to it"), "{page}");
    // Its orders by local day, this one included.
    assert!(page.contains("Today: 2 orders, S/ 4,000.00."), "{page}");
    assert!(
        page.contains("Last 30 days: 2 orders, S/ 4,000.00."),
        "{page}"
    );
    let key_link = page
        .split(r#"<a href="/console/?key=dni%3A"#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the DNI links to its reviews")
        .replace("&amp;", "&");
    let by_key = rita.page(&format!("/console/?key=dni%3A{key_link}"));
    assert_eq!(review_ids(&by_key).len(), 2, "the key's reviews: {by_key}");
    assert!(by_key.contains("Reviews carrying the key"));

    // The record keeps what the page shows, and only the hints.
    let record = gw.admin_call("GET", &format!("/admin/reviews/{second}"), Some(ADA), None);
    let record: serde_json::Value = serde_json::from_slice(&record.body).unwrap();
    let record = &record["review"];
    assert_eq!(record["fired"][0]["rule"], "large_order");
    assert_eq!(record["fired"][0]["weight"], 60);
    assert_eq!(record["billing_country"], "PE");
    assert_eq!(record["hints"][0], serde_json::json!(["dni", "•••••912"]));

    // Fraud on the first: the second's page shows the DNI blocked and the outcome.
    let csrf = rita.csrf();
    let decided = rita.post(
        &format!("/console/reviews/{first}/decide"),
        &format!("csrf={csrf}&outcome=fraud&block=dni"),
    );
    location(&decided);
    let after = rita.page(&format!("/console/reviews/{second}"));
    assert!(after.contains("Blocked since 2026-11-25"), "{after}");
    assert!(after.contains(": Fraud</li>"), "{after}");

    // A string of small orders from one DNI, in words with what the rule counted.
    for (i, code) in ["S-1", "S-2", "S-3"].iter().enumerate() {
        let order = Order {
            dni: "40000009",
            phone: "987650009",
            account: "u-9",
            amount: "10.00",
            code,
        };
        assert_eq!(send(&gw, &order), 200, "order {i}");
    }
    let queue = rita.page("/console/?rule=structuring_dni");
    let small = review_ids(&queue);
    assert_eq!(small.len(), 1, "the third small order: {queue}");
    let page = rita.page(&format!("/console/reviews/{}", small[0]));
    assert!(
        page.contains("Within 60 minutes this DNI placed 3 orders under S/ 50.00."),
        "{page}"
    );
    let spanish = RawRequest::new("GET", &format!("/console/reviews/{}?lang=es", small[0]))
        .header("Cookie", &rita.cookie)
        .send(gw.admin.unwrap())
        .unwrap();
    assert!(
        page_text(&spanish).contains("En 60 minutos este DNI hizo 3 pedidos de menos de S/ 50.00.")
    );
}

#[test]
fn next_previous_and_a_bulk_decision_work_through_the_queue() {
    let gw = gateway();
    for (i, second) in ["00", "01", "02", "03"].iter().enumerate() {
        gw.set_clock(&format!("2026-11-25T15:30:{second}Z"));
        large(
            &gw,
            &format!("4000000{i}"),
            &format!("u-{i}"),
            "1500.00",
            &format!("T-{i}"),
        );
    }
    let rita = ConsoleUser::sign_in(&gw, RITA);
    let ids = review_ids(&rita.page("/console/"));
    assert_eq!(ids.len(), 4);
    // "Next" takes the oldest nobody holds; opening it claims it, so the next is the
    // second; the second's "previous" is the first.
    let to = location(&rita.get("/console/next?route=cips"));
    assert_eq!(to, format!("/console/reviews/{}?route=cips", ids[0]));
    assert!(rita.page(&to).contains("You hold this review"));
    let to = location(&rita.get("/console/next?route=cips"));
    assert_eq!(to, format!("/console/reviews/{}?route=cips", ids[1]));
    let second = rita.page(&to);
    assert!(
        second.contains(&format!(
            r#"<a href="/console/reviews/{}?route=cips" rel="prev" data-key="p">"#,
            ids[0]
        )),
        "{second}"
    );
    assert!(second.contains(r#"<a href="/console/next?route=cips" rel="next">"#));

    // Rui ticks the first (rita holds it), the third and the fourth, and approves.
    let rui = ConsoleUser::sign_in(&gw, RUI);
    let queue = rui.page("/console/");
    assert!(queue.contains(r#"<form method="post" action="/console/bulk""#));
    assert!(queue.contains(&format!(r#"name="id" value="{}""#, ids[2])));
    let ticked = format!("id={}&id={}&id={}", ids[0], ids[2], ids[3]);
    let refused = rui.post("/console/bulk", &format!("outcome=approved&{ticked}"));
    assert_eq!(refused.status, 403, "no CSRF token, no change");
    let csrf = rui.csrf();
    let done = rui.post(
        "/console/bulk",
        &format!("csrf={csrf}&outcome=approved&{ticked}&back=/console/"),
    );
    assert_eq!(done.status, 200);
    let result = page_text(&done);
    assert!(
        result.contains(&format!("{}</a>: Someone else holds this review.", ids[0])),
        "{result}"
    );
    assert!(result.contains(&format!("{}</a>: decided.", ids[2])));
    assert!(result.contains(&format!("{}</a>: decided.", ids[3])));
    let open = review_ids(&rui.page("/console/"));
    assert_eq!(open, [ids[0].clone(), ids[1].clone()], "two left open");
    support::eventually("each bulk decision is an audit line by name", || {
        let log = gw.decisions();
        let by_rui = |id: &str| {
            log.iter()
                .any(|l| l["event"] == "review_resolved" && l["by"] == "rui" && l["review"] == id)
        };
        by_rui(&ids[2]) && by_rui(&ids[3]) && !by_rui(&ids[0])
    });
    // Nothing waits now: next goes back to the queue.
    assert_eq!(location(&rui.get("/console/next")), "/console/");
}

#[test]
fn an_escalated_review_waits_for_an_admin() {
    let gw = gateway();
    large(&gw, "45678912", "u-1", "1500.00", "T-1");
    let rita = ConsoleUser::sign_in(&gw, RITA);
    let id = review_ids(&rita.page("/console/")).remove(0);
    rita.page(&format!("/console/reviews/{id}"));
    let csrf = rita.csrf();
    location(&rita.post(
        &format!("/console/reviews/{id}/escalate"),
        &format!("csrf={csrf}"),
    ));
    let rui = ConsoleUser::sign_in(&gw, RUI);
    let page = rui.page(&format!("/console/reviews/{id}"));
    assert!(page.contains("This review was escalated: an admin decides it."));
    assert!(!page.contains("/decide"), "no decision form for a reviewer");
    let csrf = rui.csrf();
    let refused = rui.post(
        &format!("/console/reviews/{id}/decide"),
        &format!("csrf={csrf}&outcome=approved"),
    );
    assert_eq!(refused.status, 403);
    let ada = ConsoleUser::sign_in(&gw, ADA);
    assert!(ada
        .page(&format!("/console/reviews/{id}"))
        .contains("/decide"));
    let csrf = ada.csrf();
    location(&ada.post(
        &format!("/console/reviews/{id}/decide"),
        &format!("csrf={csrf}&outcome=approved"),
    ));
    assert!(ada
        .page(&format!("/console/reviews/{id}"))
        .contains("Decided by ada: Approve."));
}

#[test]
fn the_queues_filters_come_back_filled_in() {
    let gw = gateway();
    large(&gw, "45678912", "u-1", "1500.00", "T-1");
    large(&gw, "45678913", "u-2", "9500.00", "T-2");
    let rita = ConsoleUser::sign_in(&gw, RITA);
    let page = rita.page(
        "/console/?min_score=50&max_score=90&currency=PEN&min_amount=2000&max_amount=10000.5&assignee=rui&older_than=3600",
    );
    for shown in [
        r#"name="min_score" type="number" value="50""#,
        r#"name="max_score" type="number" value="90""#,
        r#"name="currency" type="text" value="PEN""#,
        r#"name="min_amount" type="text" value="2000.00""#,
        r#"name="max_amount" type="text" value="10000.50""#,
        r#"name="assignee" type="text" value="rui""#,
        r#"<option value="3600" selected>"#,
    ] {
        assert!(page.contains(shown), "{shown}");
    }
    for id in [
        "min_score",
        "currency",
        "min_amount",
        "assignee",
        "older_than",
    ] {
        assert!(page.contains(&format!(r#"<label for="{id}">"#)), "{id}");
    }
    let big = rita.page("/console/?currency=PEN&min_amount=2000");
    assert_eq!(review_ids(&big).len(), 1, "only the 9,500");
    assert!(big.contains("S/ 9,500.00") && !big.contains("S/ 1,500.00"));
    assert_eq!(
        rita.get("/console/?min_amount=5").status,
        400,
        "no currency"
    );
}

#[test]
fn the_overview_draws_the_last_day_from_garitas_own_counters() {
    let gw = gateway();
    let rita = ConsoleUser::sign_in(&gw, RITA);
    // The hour's first sample is taken at the start; wait for it before counting.
    support::eventually("the first hourly sample", || {
        !rita
            .page("/console/overview")
            .contains("Nothing counted yet.")
    });
    let small = Order {
        dni: "40000001",
        phone: "987650001",
        account: "u-1",
        amount: "10.00",
        code: "A-1",
    };
    assert_eq!(send(&gw, &small), 200);
    large(&gw, "45678912", "u-2", "1500.00", "R-1");
    let id = review_ids(&rita.page("/console/")).remove(0);
    rita.page(&format!("/console/reviews/{id}"));
    let csrf = rita.csrf();
    location(&rita.post(
        &format!("/console/reviews/{id}/decide"),
        &format!("csrf={csrf}&outcome=fraud&block=dni"),
    ));
    for (amount, code) in [("1500.00", "D-1"), ("20.00", "D-2")] {
        let blocked = Order {
            dni: "45678912",
            phone: "987650002",
            account: "u-4",
            amount,
            code,
        };
        assert_eq!(send(&gw, &blocked), 403, "the DNI is blocked");
    }

    let page = rita.page("/console/overview");
    assert!(page.contains("<h2>Overview</h2>"));
    assert!(
        page.contains(r#"<svg class="chart" viewBox="0 0 720 200" width="100%" role="img""#),
        "{page}"
    );
    // The hour's row: 1 allowed, 1 to review, 2 denied (the second large one too).
    assert!(
        page.contains(
            r#"<tr><td>2026-11-25 10:00</td><td class="num">1</td><td class="num">1</td><td class="num">2</td></tr>"#
        ),
        "{page}"
    );
    assert!(page.contains("<title>10:00 Denied: 2</title>"), "{page}");
    assert!(page.contains("cips · large_order · enforce"), "{page}");
    assert!(
        page.contains("<dt>Decided today</dt><dd>1 (0 approved, 1 fraud: 100% fraud)</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>Waiting</dt><dd>0</dd>"), "{page}");
    assert!(page.contains("<dt>Amount anomaly</dt><dd>none</dd>"));
    assert!(
        page.contains(": answering</dd>"),
        "upstream and store health"
    );
    assert!(!page.contains("style="), "no inline style");
}
