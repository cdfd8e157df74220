//! The demo's scripted requests, each with the outcome `conf/demo.toml` should produce.
//!
//! Addresses come from the documentation ranges that `geoip/test-ranges.csv` maps to
//! countries: 192.0.2.0/24 is Peru, 198.51.100.0/24 the United States, 203.0.113.0/24 is
//! on the demo's block list, and 10.0.0.0/8 is in no country at all.

use super::client::RawRequest;
use super::shop::DemoShop;
use std::net::SocketAddr;

struct Case {
    label: &'static str,
    request: RawRequest,
    status: u16,
    reaches_backend: bool,
}

/// What happened to one scripted request.
pub struct Row {
    pub label: &'static str,
    pub status: Option<u16>,
    pub decision: String,
    pub reached_backend: bool,
    pub expected_status: u16,
    pub expected_backend: bool,
}

impl Row {
    pub fn as_expected(&self) -> bool {
        self.status == Some(self.expected_status) && self.reached_backend == self.expected_backend
    }
}

const CIP_BODY: &str = r#"{"currency":"PEN","amount":"120.00","transactionCode":"T-1001","userDocumentType":"DNI","userDocumentNumber":"45678912","userEmail":"ana@example.pe"}"#;

fn from(ip: &str, method: &str, target: &str) -> RawRequest {
    let r = RawRequest::new(method, target).header("X-Forwarded-For", ip);
    if method == "POST" {
        r.header("Content-Type", "application/json").body(CIP_BODY)
    } else {
        r
    }
}

fn cases() -> Vec<Case> {
    let case = |label, request, status, reaches_backend| Case {
        label,
        request,
        status,
        reaches_backend,
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
        cases.push(case(
            label,
            from("192.0.2.50", "POST", "/v1/cips"),
            status,
            status == 200,
        ));
    }
    cases.push(case(
        "office address skips the limit",
        from("192.0.2.200", "POST", "/v1/cips"),
        200,
        true,
    ));
    cases
}

/// Send every case through the gateway at `proxy`, watching what reaches `shop`.
pub fn play(proxy: SocketAddr, shop: &DemoShop) -> Vec<Row> {
    cases()
        .into_iter()
        .map(|case| {
            let before = shop.count();
            let response = case.request.send(proxy);
            let reached_backend = shop.count() > before;
            let (status, decision) = match &response {
                Ok(r) => {
                    let reason = r
                        .json()
                        .and_then(|j| j.get("reason").and_then(|v| v.as_str()).map(str::to_string));
                    let decision = match (reached_backend, reason) {
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
                expected_status: case.status,
                expected_backend: case.reaches_backend,
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
                    "MISMATCH (wanted {} / {})",
                    row.expected_status,
                    if row.expected_backend { "yes" } else { "no" }
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
