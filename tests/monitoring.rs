//! The monitoring kit in `conf/`: Prometheus accepts the alert rules and their unit tests
//! fire each alert; every metric the rules and the Grafana dashboard name is one garita
//! exports; the systemd unit runs commands garita has.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use support::{garita_bin, repo_path, run, TestGateway};

fn promtool(args: &[&str]) {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let out = Command::new(&promtool)
        .args(args)
        .current_dir(repo_path("conf/prometheus"))
        .output()
        .unwrap_or_else(|e| panic!("{promtool} (Debian package `prometheus`): {e}"));
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_alert_rules_and_their_tests_fire_each_alert() {
    promtool(&["check", "rules", "garita-alerts.yml"]);
    promtool(&["test", "rules", "garita-alerts.test.yml"]);
    // Every alert has a test.
    let rules = std::fs::read_to_string(repo_path("conf/prometheus/garita-alerts.yml")).unwrap();
    let tests =
        std::fs::read_to_string(repo_path("conf/prometheus/garita-alerts.test.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no promtool test"
        );
    }
}

/// The metric names (`garita_*`, `process_*`) in `text`, histogram suffixes removed.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text
        .match_indices("garita_")
        .chain(text.match_indices("process_"))
    {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let name = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| {
            n.strip_suffix(s).map_or(n.clone(), str::to_string)
        });
        names.insert(name);
    }
    names
}

#[test]
fn every_metric_the_kit_names_is_one_garita_exports() {
    // Defined in the source (labelled series appear in a scrape only once counted) or in
    // a real scrape (the process collector's).
    let defined: String = [
        "metrics.rs",
        "code_metrics.rs",
        "shadow_metrics.rs",
        "evidence/mod.rs",
    ]
    .iter()
    .map(|file| std::fs::read_to_string(repo_path(&format!("src/observe/{file}"))).unwrap())
    .collect();
    let scrape = TestGateway::builder().start().scrape();
    assert!(scrape.contains("process_resident_memory_bytes"), "{scrape}");
    let known = |name: &str| {
        defined.contains(&format!("\"{name}\"")) || scrape.contains(&format!("# TYPE {name} "))
    };
    for file in [
        "conf/prometheus/garita-alerts.yml",
        "conf/prometheus/garita-alerts.test.yml",
        "conf/grafana/garita-dashboard.json",
    ] {
        let text = std::fs::read_to_string(repo_path(file)).unwrap();
        let names = metric_names(&text);
        assert!(!names.is_empty(), "{file}");
        for name in names {
            assert!(
                known(&name),
                "{file} names {name}, which garita does not export"
            );
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("conf/grafana/garita-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    assert!(dashboard["panels"].as_array().unwrap().len() > 10);
}

#[test]
fn the_systemd_unit_runs_commands_garita_has() {
    let unit = std::fs::read_to_string(repo_path("conf/systemd/garita.service")).unwrap();
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    let mut checked = 0;
    for line in unit.lines() {
        let Some(command) = line
            .strip_prefix("ExecStart=")
            .or_else(|| line.strip_prefix("ExecStartPre="))
        else {
            continue;
        };
        let words: Vec<&str> = command.split_whitespace().skip(1).collect();
        let sub = words[0];
        let help = run(garita_bin(), &[sub, "--help"], &[], None);
        assert!(help.success, "garita {sub}");
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            assert!(help.stdout.contains(flag), "garita {sub} has no {flag}");
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}
