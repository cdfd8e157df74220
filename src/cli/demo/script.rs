//! The demo's scripted requests, each with the outcome `conf/demo.toml` should produce.
//!
//! Addresses come from the documentation ranges that `geoip/test-ranges.csv` maps to
//! countries: 192.0.2.0/24 is Peru, 198.51.100.0/24 the United States, 203.0.113.0/24 is
//! on the demo's block list, and 10.0.0.0/8 is in no country at all. CIP bodies carry
//! PagoEfectivo's fields; each row has a DNI of its own unless it is about a DNI's quota,
//! block list or accounts. Then the risk rules: a string of small codes from one mailbox,
//! a first order that is large, and a customer account's day at more than twice its usual
//! (its usual made on the three days before: the demo moves garita's clock back for them,
//! then forward again). The last rows are PagoEfectivo payment notifications: one signed,
//! one forged, one replayed (acknowledged with 200 but not forwarded).

use super::client::RawRequest;
use super::shop::DemoShop;
use crate::core::webhook::{sign, Profile};
use crate::state::clock::ManualClock;
use jiff::{Timestamp, ToSpan};
use std::net::SocketAddr;

struct Case {
    label: &'static str,
    request: RawRequest,
    status: u16,
    reaches_backend: bool,
    /// Forwarded marked for review.
    review: bool,
    /// Sent this many days before the demo's today, on garita's clock.
    days_ago: i64,
}

/// What happened to one scripted request.
pub struct Row {
    pub label: &'static str,
    pub status: Option<u16>,
    pub decision: String,
    pub reached_backend: bool,
    pub reviewed: bool,
    pub expected_status: u16,
    pub expected_backend: bool,
    pub expected_review: bool,
}

impl Row {
    pub fn as_expected(&self) -> bool {
        self.status == Some(self.expected_status)
            && self.reached_backend == self.expected_backend
            && self.reviewed == self.expected_review
    }
}

/// The webhook secret in conf/demo.toml.
const DEMO_PE_SECRET: &[u8] = b"demo-pagoefectivo-secret";

/// A PagoEfectivo CIP-creation body for 120 soles.
fn cip(dni: &str, email: &str, account: &str) -> String {
    cip_of(dni, email, account, "120.00")
}

fn cip_of(dni: &str, email: &str, account: &str, amount: &str) -> String {
    format!(
        r#"{{"currency":"PEN","amount":"{amount}","transactionCode":"T-1001","paymentConcept":"Pedido 1001","userDocumentType":"DNI","userDocumentNumber":"{dni}","userEmail":"{email}","userId":"{account}","userCodeCountry":"+51","userPhone":"987654321"}}"#
    )
}

/// A request from `ip`; POSTs carry a CIP body with a DNI of their own (`dni_seed`).
fn from(ip: &str, method: &str, target: &str) -> RawRequest {
    let r = RawRequest::new(method, target).header("X-Forwarded-For", ip);
    if method == "POST" {
        let last = ip.rsplit(['.', ':']).next().unwrap_or("0");
        let dni = format!("40{:0>6}", last);
        let body = cip(&dni, "ana@example.pe", &format!("cust-{last}"));
        r.header("Content-Type", "application/json").body(body)
    } else {
        r
    }
}

fn cip_from(ip: &str, body: String) -> RawRequest {
    RawRequest::new("POST", "/v1/cips")
        .header("X-Forwarded-For", ip)
        .header("Content-Type", "application/json")
        .body(body)
}

fn cases() -> Vec<Case> {
    let case = |label, request, status, reaches_backend| Case {
        label,
        request,
        status,
        reaches_backend,
        review: false,
        days_ago: 0,
    };
    let review = |label, request| Case {
        review: true,
        ..case(label, request, 200, true)
    };
    let earlier = |label, request, days_ago| Case {
        days_ago,
        ..case(label, request, 200, true)
    };
    let mut cases = vec![
        case("home page, Lima", from("192.0.2.10", "GET", "/"), 200, true),
        case(
            "create CIP, Lima",
            from("192.0.2.11", "POST", "/v1/cips"),
            200,
            true,
        ),
        case(
            "create CIP, United States",
            from("198.51.100.7", "POST", "/v1/cips"),
            403,
            false,
        ),
        case(
            "create CIP, blocked network",
            from("203.0.113.9", "POST", "/v1/cips"),
            403,
            false,
        ),
        case(
            "home page, blocked network",
            from("203.0.113.9", "GET", "/"),
            403,
            false,
        ),
        case(
            "create CIP, no country (10.1.2.3)",
            from("10.1.2.3", "POST", "/v1/cips"),
            403,
            false,
        ),
        case(
            "US via /x/../v1/cips",
            from("198.51.100.7", "POST", "/x/../v1/cips"),
            403,
            false,
        ),
        case(
            "US via /V1//CIPS/",
            from("198.51.100.7", "POST", "/V1//CIPS/"),
            403,
            false,
        ),
        case(
            "US via /v1%2Fcips",
            from("198.51.100.7", "POST", "/v1%2Fcips"),
            403,
            false,
        ),
        case(
            "double-encoded /v1%252Fcips",
            from("198.51.100.7", "POST", "/v1%252Fcips"),
            400,
            false,
        ),
        case(
            "bad escape /v1/%zz",
            from("192.0.2.10", "GET", "/v1/%zz"),
            400,
            false,
        ),
        case(
            "mangled X-Forwarded-For",
            from("192.0.2.10, not-an-address", "GET", "/"),
            400,
            false,
        ),
    ];
    for (i, status) in [200, 200, 200, 429].into_iter().enumerate() {
        let label = [
            "burst 1/3, Lima",
            "burst 2/3, Lima",
            "burst 3/3, Lima",
            "burst 4/3, Lima",
        ][i];
        let body = cip(
            &format!("4100000{i}"),
            "ana@example.pe",
            &format!("burst-{i}"),
        );
        cases.push(case(
            label,
            cip_from("192.0.2.50", body),
            status,
            status == 200,
        ));
    }
    // Identity rules: DNI 45678912 may create two codes today, from one account or two.
    let ana = |account: &str| cip("45678912", "ana@example.pe", account);
    cases.extend([
        case("DNI 45678912, code 1 of 2 today", cip_from("192.0.2.61", ana("cust-ana")), 200, true),
        case("DNI 4567 8912, code 2 of 2 today", cip_from("192.0.2.62", cip("4567 8912", "ana@example.pe", "cust-ana")), 200, true),
        case("DNI 45.678.912, code 3 of 2", cip_from("192.0.2.63", ana("cust-ana")), 429, false),
        case("blocked email Fraud.Ster+x@GMail.com", cip_from("192.0.2.64", cip("42000001", "Fraud.Ster+x@GMail.com", "cust-f")), 403, false),
        case("blocked DNI spelled 11.223.344", cip_from("192.0.2.65", cip("11.223.344", "x@example.pe", "cust-x")), 403, false),
        case("DNI 47000000 with account a", cip_from("192.0.2.66", cip("47000000", "b@example.pe", "acct-a")), 200, true),
        case("DNI 47000000 with account b", cip_from("192.0.2.67", cip("47000000", "b@example.pe", "acct-b")), 200, true),
        case("DNI 47000000 with a 3rd account", cip_from("192.0.2.68", cip("47000000", "b@example.pe", "acct-c")), 403, false),
        case(
            "duplicate userDocumentNumber key",
            cip_from("192.0.2.69", r#"{"userDocumentType":"DNI","userDocumentNumber":"43000001","userDocumentNumber":"11223344"}"#.into()),
            400,
            false,
        ),
        case("CIP body over 16 KiB", cip_from("192.0.2.70", format!("{{\"pad\":\"{}\"}}", "x".repeat(17_000))), 413, false),
    ]);
    // Risk rules add up to a score; 50 sends a code to review (forwarded, marked).
    let olga = |dni: &str, amount: &str| cip_of(dni, "olga@example.pe", "cust-olga", amount);
    let tiny = |dni: &str| cip_of(dni, "tiny@example.pe", &format!("cust-{dni}"), "5.00");
    cases.extend([
        case(
            "small code 1, tiny@example.pe",
            cip_from("192.0.2.71", tiny("48100001")),
            200,
            true,
        ),
        case(
            "small code 2, tiny@example.pe",
            cip_from("192.0.2.72", tiny("48100002")),
            200,
            true,
        ),
        review(
            "small code 3 within the hour",
            cip_from("192.0.2.73", tiny("48100003")),
        ),
        review(
            "first order, 2000 soles",
            cip_from(
                "192.0.2.74",
                cip_of("48200001", "new@example.pe", "cust-new", "2000.00"),
            ),
        ),
        earlier(
            "cust-olga pays 100, 3 days ago",
            cip_from("192.0.2.75", olga("48300001", "100.00")),
            3,
        ),
        earlier(
            "cust-olga pays 100, 2 days ago",
            cip_from("192.0.2.76", olga("48300001", "100.00")),
            2,
        ),
        earlier(
            "cust-olga pays 100, yesterday",
            cip_from("192.0.2.77", olga("48300001", "100.00")),
            1,
        ),
        case(
            "cust-olga today: 150 (150%)",
            cip_from("192.0.2.78", olga("48300002", "150.00")),
            200,
            true,
        ),
        review(
            "cust-olga today: +100 (250%)",
            cip_from("192.0.2.79", olga("48300002", "100.00")),
        ),
    ]);
    // PagoEfectivo says CIP 2538913 was paid: signed, forged, replayed.
    let paid = r#"{"eventType":"cip.paid","operationNumber":"98765","data":{"cip":"2538913","currency":"PEN","amount":"120.00","paymentDate":"2026-11-25T10:15:00","transactionCode":"T-1001"}}"#;
    let notify = |body: &str, signed_body: &str| {
        let mut r = RawRequest::new("POST", "/webhooks/pagoefectivo")
            .header("X-Forwarded-For", "192.0.2.80")
            .header("Content-Type", "application/json");
        for (name, value) in sign(
            &Profile::PagoEfectivo,
            DEMO_PE_SECRET,
            signed_body.as_bytes(),
            0,
            "",
        ) {
            r = r.header(&name, &value);
        }
        r.body(body.to_string())
    };
    cases.extend([
        case(
            "PagoEfectivo cip.paid, signed",
            notify(paid, paid),
            200,
            true,
        ),
        case(
            "cip.paid forged (amount edited)",
            notify(&paid.replace("120.00", "12000.00"), paid),
            401,
            false,
        ),
        case("cip.paid replayed", notify(paid, paid), 200, false),
    ]);
    cases.push(case(
        "office address skips the limit",
        from("192.0.2.200", "POST", "/v1/cips"),
        200,
        true,
    ));
    cases
}

/// Send every case through the gateway at `proxy`, watching what reaches `shop`; `clock`
/// is garita's, moved back for the cases sent on earlier days.
pub fn play(proxy: SocketAddr, shop: &DemoShop, clock: &ManualClock) -> Vec<Row> {
    let today = Timestamp::now();
    cases()
        .into_iter()
        .map(|case| {
            clock.set(today - (case.days_ago * 24).hours());
            let before = shop.count();
            let response = case.request.send(proxy);
            let reached_backend = shop.count() > before;
            let reviewed = reached_backend
                && shop
                    .requests()
                    .last()
                    .and_then(|r| r.header("x-garita-decision").map(|d| d == "review"))
                    .unwrap_or(false);
            let (status, decision) = match &response {
                Ok(r) => {
                    let reason = r
                        .json()
                        .and_then(|j| j.get("reason").and_then(|v| v.as_str()).map(str::to_string));
                    let decision = match (reached_backend, reason) {
                        (true, _) if reviewed => "review".to_string(),
                        (true, _) => "allow".to_string(),
                        (false, Some(reason)) => format!("deny: {reason}"),
                        (false, None) => "deny".to_string(),
                    };
                    (Some(r.status), decision)
                }
                Err(e) => (None, format!("error: {e}")),
            };
            Row {
                label: case.label,
                status,
                decision,
                reached_backend,
                reviewed,
                expected_status: case.status,
                expected_backend: case.reaches_backend,
                expected_review: case.review,
            }
        })
        .collect()
}

/// Print the table; returns whether every row was as expected.
pub fn print_table(rows: &[Row]) -> bool {
    println!(
        "{:<36} {:>6}  {:<34} {:<8} expected",
        "request", "status", "decision", "backend"
    );
    println!("{}", "-".repeat(96));
    let mut all_ok = true;
    for row in rows {
        let ok = row.as_expected();
        all_ok &= ok;
        println!(
            "{:<36} {:>6}  {:<34} {:<8} {}",
            row.label,
            row.status.map_or("-".to_string(), |s| s.to_string()),
            row.decision,
            if row.reached_backend { "yes" } else { "no" },
            if ok {
                "ok".to_string()
            } else {
                format!(
                    "MISMATCH (wanted {} / {}{})",
                    row.expected_status,
                    if row.expected_backend { "yes" } else { "no" },
                    if row.expected_review { " / review" } else { "" }
                )
            }
        );
    }
    println!(
        "\n{} of {} rows as expected",
        rows.iter().filter(|r| r.as_expected()).count(),
        rows.len()
    );
    all_ok
}
