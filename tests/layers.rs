//! The decision core stays pure: nothing under `src/core/` may use Pingora, tokio, or the
//! layers built on top of it (state, proxy, observe, config, cli). The core decides from
//! facts and plans what the store should do; it never waits on I/O itself. And the layers
//! above it import downwards only where the design says: `observe` never reaches up into
//! `proxy` (the proxy hands it taps), and `config` is plain data that imports no runtime
//! layer (`state`, `proxy`, `observe`, `cli`).

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
