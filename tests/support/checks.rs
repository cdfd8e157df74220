//! Small checks shared by the tests: a refusal's reason, a scrape promtool accepts.

use super::*;

/// A JSON error body's `reason`.
pub fn reason(response: &RawResponse) -> String {
    response
        .json()
        .and_then(|j| j.get("reason").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// `promtool check metrics` (Debian package `prometheus`; `PROMTOOL` overrides the path)
/// finds nothing to complain about in `scrape`.
pub fn assert_promtool_accepts(scrape: &str) {
    use std::io::Write;
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = run(
        &promtool,
        &["check", "metrics"],
        &[],
        Some(scrape.as_bytes()),
    );
    let report = out.text();
    assert!(
        out.success,
        "promtool ({promtool}, Debian package `prometheus`): {report}\n{scrape}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool found problems: {report}"
    );
}
