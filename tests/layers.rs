//! The decision core stays pure: nothing under `src/core/` may use Pingora, tokio, or the
//! layers built on top of it (state, proxy, observe, config, cli). The core decides from
//! facts and plans what the store should do; it never waits on I/O itself. And the layers
//! above it import downwards only where the design says: `observe` never reaches up into
//! `proxy` (the proxy hands it taps), and `config` is plain data that imports no runtime
//! layer (`state`, `proxy`, `observe`, `cli`). Within the core, the rule families import
//! each other without cycles: a family may build on another (identity on quotas and
//! bindings, the score on the risk checks, every check on the risk contract), never back.
//! And no file under `src/` grows past a few hundred lines: one that does holds more than
//! one concern.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_uses_no_pingora_no_tokio_and_no_outer_layer() {
    const FORBIDDEN: [&str; 7] = [
        "pingora",
        "tokio",
        "crate::state",
        "crate::proxy",
        "crate::observe",
        "crate::config",
        "crate::cli",
    ];
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut files,
    );
    assert!(files.len() > 10, "src/core/ holds the core: {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the core reaches out:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_core_never_awaits() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut files,
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("async fn"),
            "{}: the core does not wait",
            file.display()
        );
        assert!(
            !text.contains(".await"),
            "{}: the core does not wait",
            file.display()
        );
    }
}

/// The lines of the Rust files under `src/DIR` that name any of `words` outside comments.
fn offences(dir: &str, words: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir),
        &mut files,
    );
    assert!(!files.is_empty(), "src/{dir} has files");
    let mut out = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if words.iter().any(|w| code.contains(w)) {
                out.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn observe_does_not_reach_up_into_the_proxy() {
    let found = offences("observe", &["crate::proxy", "crate::cli"]);
    assert!(
        found.is_empty(),
        "observe imports from above:\n{}",
        found.join("\n")
    );
}

#[test]
fn config_is_plain_data_and_imports_no_runtime_layer() {
    let found = offences(
        "config",
        &[
            "crate::state",
            "crate::proxy",
            "crate::observe",
            "crate::cli",
        ],
    );
    assert!(
        found.is_empty(),
        "config imports a runtime layer:\n{}",
        found.join("\n")
    );
}

/// The module a file under `src/core/rules/` is, as its path from there: `identity.rs` is
/// `["identity"]`, `risk/mod.rs` is `["risk"]`, `risk/score.rs` is `["risk", "score"]`.
fn rule_module(rules: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(rules).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The paths a line names after `prefix`, as segments: `super::risk::{score::X, Y}` gives
/// `[risk, score, X]` and `[risk, Y]`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let segments = |p: &str| -> Vec<String> {
        p.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "*" && *s != "self")
            .map(String::from)
            .collect()
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
        let head = segments(&rest[..end]);
        match rest[end..].strip_prefix('{') {
            Some(list) => {
                let list = &list[..list.find('}').unwrap_or(list.len())];
                for item in list.split(',') {
                    let mut path = head.clone();
                    path.extend(segments(item.trim()));
                    out.push(path);
                }
            }
            None => out.push(head),
        }
    }
    out
}

/// Which rule module imports which, from the code above each file's tests.
fn rule_imports() -> Vec<(String, String)> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core/rules");
    let mut files = Vec::new();
    rust_files(&rules, &mut files);
    let modules: Vec<Vec<String>> = files.iter().map(|f| rule_module(&rules, f)).collect();
    // The deepest module a path reaches: `risk::score::RiskRules` is `risk::score`.
    let deepest = |path: &[String]| -> Vec<String> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
            .unwrap_or_default()
    };
    let mut edges = Vec::new();
    for (file, module) in files.iter().zip(&modules) {
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let parent = &module[..module.len().saturating_sub(1)];
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            let relative = paths_after(line, "super::").into_iter().map(|p| {
                let mut full = parent.to_vec();
                full.extend(p);
                full
            });
            let absolute = paths_after(line, "crate::core::rules::");
            for path in relative.chain(absolute) {
                let target = deepest(&path);
                if &target != module && !target.is_empty() {
                    edges.push((module.join("::"), target.join("::")));
                }
            }
        }
    }
    edges.sort();
    edges.dedup();
    edges
}

/// A cycle among `edges`, as the modules along it, if there is one.
fn a_cycle(edges: &[(String, String)]) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        edges: &[(String, String)],
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut cycle = path[i..].to_vec();
            cycle.push(at.to_string());
            return Some(cycle);
        }
        if done.iter().any(|d| d == at) {
            return None;
        }
        path.push(at.to_string());
        for (_, to) in edges.iter().filter(|(from, _)| from == at) {
            if let Some(cycle) = walk(to, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(at.to_string());
        None
    }
    let mut done = Vec::new();
    edges
        .iter()
        .find_map(|(from, _)| walk(from, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_rule_families_import_each_other_without_cycles() {
    let edges = rule_imports();
    let has = |from: &str, to: &str| edges.iter().any(|(f, t)| f == from && t == to);
    // The reader sees the imports it must: identity builds on quotas and the score, the
    // score on the checks, a check on the risk contract.
    assert!(has("identity", "quotas"), "{edges:?}");
    assert!(has("identity", "risk::score"), "{edges:?}");
    assert!(has("risk::score", "risk::amounts"), "{edges:?}");
    assert!(has("risk::amounts", "risk"), "{edges:?}");
    if let Some(cycle) = a_cycle(&edges) {
        panic!(
            "the rule families import in a cycle: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn a_cycle_between_two_families_is_found() {
    let edge = |a: &str, b: &str| (a.to_string(), b.to_string());
    let acyclic = [edge("identity", "quotas"), edge("quotas", "rate")];
    assert_eq!(a_cycle(&acyclic), None);
    let cyclic = [
        edge("identity", "quotas"),
        edge("quotas", "rate"),
        edge("rate", "identity"),
    ];
    assert_eq!(
        a_cycle(&cyclic).map(|c| c.join(" -> ")),
        Some("identity -> quotas -> rate -> identity".to_string())
    );
}

#[test]
fn no_source_file_grows_past_a_few_hundred_lines() {
    const MOST: usize = 520;
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > MOST).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concern:\n{}",
        long.join("\n")
    );
}
