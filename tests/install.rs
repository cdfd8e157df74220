//! The install steps produce a layout the shipped systemd unit starts: `garita init`
//! writes a config, its lists, a GeoIP database and `garita.env`, with the permissions
//! the unit's dynamic user needs, and `garita check` (the unit's ExecStartPre) passes on
//! it run as an unprivileged user with the environment file's secrets.

mod support;

use std::os::unix::fs::PermissionsExt;
use support::{garita_bin, run};

/// The variables of an environment file (`KEY=value` lines, `#` comments).
fn env_file(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn init_writes_a_layout_that_checks_as_an_unprivileged_user() {
    let root = tempfile::tempdir().unwrap();
    // Like /etc, /var/lib and /var/log: traversable by everyone.
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("etc-garita");
    let (state, logs, rundir) = (
        root.path().join("state"),
        root.path().join("log"),
        root.path().join("run"),
    );
    for d in [&state, &logs, &rundir] {
        std::fs::create_dir(d).unwrap();
    }
    let init = run(
        garita_bin(),
        &[
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
            "--run-dir",
            rundir.to_str().unwrap(),
        ],
        &[],
        None,
    );
    assert!(init.success, "{}", init.text());
    assert!(init.text().contains("TEST database"), "{}", init.text());

    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("garita.env"), 0o600, "secrets for root only");
    for public in [
        "",
        "garita.toml",
        "lists",
        "lists/blocked-dni.txt",
        "country.mmdb",
    ] {
        assert_eq!(
            mode(public) & 0o004,
            0o004,
            "{public} readable by the unit's user"
        );
    }
    let config = std::fs::read_to_string(dir.join("garita.toml")).unwrap();
    assert!(config.contains(&format!("{}/decisions.jsonl", logs.display())));
    assert!(config.contains(&format!("{}/state.redb", state.display())));

    // The unit's ExecStartPre, as an unprivileged user (nobody) when the test runs as
    // root, with the variables systemd would take from garita.env.
    let env = env_file(&dir.join("garita.env"));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config_path = dir.join("garita.toml");
    let check_args = ["check", "--config", config_path.to_str().unwrap()];
    let as_root = effective_uid() == 0;
    let check = if as_root {
        let mut args = vec![
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            garita_bin(),
        ];
        args.extend(check_args);
        run("setpriv", &args, &env, None)
    } else {
        run(garita_bin(), &check_args, &env, None)
    };
    assert!(check.success, "{}", check.text());
    assert!(check.stdout.contains(": ok"), "{}", check.stdout);

    // Nothing is overwritten.
    let again = run(
        garita_bin(),
        &["init", "--dir", dir.to_str().unwrap()],
        &[],
        None,
    );
    assert!(!again.success);
    assert!(
        again.text().contains("overwrites nothing"),
        "{}",
        again.text()
    );
}

/// The effective user id, from /proc (no libc call needed).
fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or(0)
}
