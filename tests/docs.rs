//! The manual points at things that exist: every relative link in README.md, docs/,
//! CHANGELOG.md and benches/README.md names a file of the repository (and, with a
//! `#fragment`, a heading of that file), and every repository path written in code
//! spans (`src/...`, `tests/...`, `conf/...`, `benches/...`, `docs/...`, `geoip/...`) exists.

mod support;

use std::path::{Path, PathBuf};
use support::repo_path;

/// The Markdown files of the manual.
fn manual() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md", "benches/README.md"]
        .iter()
        .map(|f| repo_path(f))
        .collect();
    for entry in std::fs::read_dir(repo_path("docs")).expect("a docs/ directory") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// GitHub's anchor of a heading: lower case, spaces to '-', punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The `(target)` of every `[text](target)` in `text`, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            match after.find(')') {
                Some(end) => {
                    out.push(after[..end].to_string());
                    rest = &after[end..];
                }
                None => break,
            }
        }
    }
    out
}

#[test]
fn every_relative_link_names_a_file_and_a_heading_that_exist() {
    let mut broken = Vec::new();
    for file in manual() {
        let text = std::fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for link in links(&text) {
            if link.starts_with("http://")
                || link.starts_with("https://")
                || link.starts_with("mailto:")
            {
                continue;
            }
            let (path, fragment) = match link.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link}: no such file", file.display()));
                continue;
            }
            if let Some(fragment) = fragment {
                if !anchors(&target).iter().any(|a| a == fragment) {
                    broken.push(format!("{}: {link}: no such heading", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_repository_path_the_manual_names_exists() {
    const ROOTS: [&str; 6] = ["src/", "tests/", "conf/", "benches/", "docs/", "geoip/"];
    let mut missing = Vec::new();
    for file in manual() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, span) in text.split('`').enumerate() {
            // Odd pieces are inside a code span.
            if i % 2 == 0 || span.contains(char::is_whitespace) {
                continue;
            }
            if !ROOTS.iter().any(|r| span.starts_with(r)) {
                continue;
            }
            let path = span.trim_end_matches(['.', ',', ':', ')']);
            if path.contains(['*', '{', '<']) || path.contains("...") {
                continue;
            }
            if !repo_path(path).exists() {
                missing.push(format!("{}: `{span}`", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The backticked codes of a guide's tables (the reasons), in order.
fn table_codes(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_reviewers_guide_says_the_same_in_three_languages() {
    let read = |name: &str| std::fs::read_to_string(repo_path(&format!("docs/{name}"))).unwrap();
    let english = read("reviewers-guide.md");
    let sections = |t: &str| t.lines().filter(|l| l.starts_with("## ")).count();
    let codes = table_codes(&english);
    assert!(codes.len() >= 12, "every reason is explained: {codes:?}");
    for reason in [
        "large_order",
        "first_large_order",
        "binding_exceeded",
        "country_mismatch",
    ] {
        assert!(codes.iter().any(|c| c == reason), "{reason}");
    }
    for other in ["reviewers-guide.es.md", "reviewers-guide.zh.md"] {
        let text = read(other);
        assert_eq!(
            sections(&text),
            sections(&english),
            "{other}: the same sections"
        );
        assert_eq!(
            table_codes(&text),
            codes,
            "{other}: the same reasons, in the same order"
        );
        for must in [
            "`review.resolved`",
            "`reviewer`",
            "`X-Garita-Decision: review`",
        ] {
            assert!(text.contains(must), "{other} names {must}");
        }
        for link in [
            "reviewers-guide.md",
            "reviewers-guide.es.md",
            "reviewers-guide.zh.md",
        ] {
            assert!(text.contains(&format!("]({link})")), "{other} links {link}");
        }
    }
}
