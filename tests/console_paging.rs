//! The console pages through a queue of over 10,000 reviews, filled through the proxy: the
//! counts say "at least" past their cap, and following the next-page links from the first
//! page to the last shows every review exactly once, in the queue's order: over HTTP,
//! and in a real headless Chromium with the `n` key, 200 reviews a page.

mod support;

use std::collections::HashSet;
use support::{Browser, ConsoleUser, RawRequest, TestGateway};

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
tokens = [{ name = "rita", role = "reviewer", env = "RITA_TOKEN" }]
"#;

const RITA: &str = "rita-reviewer-token-for-tests";
const REVIEWS: usize = 10_050;
const SENDERS: usize = 4;

/// The review ids of a queue page, in its order.
fn rows(page: &str) -> Vec<String> {
    page.split(r#"<tr id="review-"#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(String::from)
        .collect()
}

/// The page's next-page link, if any.
fn next_link(page: &str) -> Option<String> {
    page.split(r#"<a rel="next" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
}

#[test]
fn paging_over_ten_thousand_reviews_shows_each_once() {
    let gw = TestGateway::builder()
        .env("RITA_TOKEN", RITA)
        .clock("2026-11-25T15:30:00Z")
        .rules(RULES)
        .start();
    std::thread::scope(|scope| {
        for sender in 0..SENDERS {
            let gw = &gw;
            scope.spawn(move || {
                for i in (sender..REVIEWS).step_by(SENDERS) {
                    let body = format!(
                        r#"{{"userDocumentNumber":"{}","amount":"1500.00","currency":"PEN"}}"#,
                        10_000_000 + i
                    );
                    let status = RawRequest::new("POST", "/v1/cips")
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send(gw.proxy)
                        .expect("gateway answers")
                        .status;
                    assert_eq!(status, 200, "order {i}");
                }
            });
        }
    });

    let rita = ConsoleUser::sign_in(&gw, RITA);
    let first = rita.page("/console/?limit=200");
    assert!(
        first.contains("Waiting: <strong>≥ 10000</strong>"),
        "the count stops at its cap and says so"
    );
    let mut seen = Vec::with_capacity(REVIEWS);
    let mut page = first;
    let mut pages = 1;
    loop {
        seen.extend(rows(&page));
        let Some(next) = next_link(&page) else { break };
        assert!(next.contains("limit=200"), "the link keeps the filters");
        page = rita.page(&next);
        pages += 1;
        assert!(pages <= REVIEWS / 200 + 2, "paging ends");
    }
    assert_eq!(pages, REVIEWS.div_ceil(200));
    assert_eq!(seen.len(), REVIEWS, "every review shown");
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), REVIEWS, "and each once");
    // All came in the same second (the test's clock): the queue orders them by id.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first, in one order across pages");

    // The same walk in Chromium, by keyboard.
    let browser = Browser::start();
    let tab = browser.page(1280, 800, "en");
    let console = |path: &str| format!("http://{}{path}", gw.admin.unwrap());
    tab.goto(&console("/console/login"));
    tab.fill("#token", RITA);
    tab.click("form[action='/console/login'] button");
    tab.wait_for_location(|at| at == "/console/");
    tab.goto(&console("/console/?limit=200"));
    let mut walked: Vec<String> = Vec::with_capacity(REVIEWS);
    for turn in 1..=pages {
        let ids = tab.script(
            "return Array.from(document.querySelectorAll('tbody tr')).map(r => r.id.slice(7))",
        );
        walked.extend(
            ids.as_array()
                .expect("row ids")
                .iter()
                .filter_map(|v| v.as_str().map(String::from)),
        );
        if turn == 1 {
            tab.screenshot("queue-10000-1280-en");
        }
        if turn < pages {
            let before = tab.location();
            tab.press('n');
            tab.wait_for_location(|at| at != before);
        }
    }
    assert_eq!(tab.count("a[rel=next]"), 0, "the last page has no next");
    assert_eq!(
        walked, seen,
        "Chromium walked the same reviews in the same order"
    );
}
