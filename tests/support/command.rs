//! Running commands (the garita binary above all) and waiting for what they do.

use super::*;

/// Poll until `check` holds, for at most 10 seconds (what a test waits for happens in
/// another process: a reload, a health check, a log line).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < until {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: never happened");
}

/// What a finished command printed.
pub struct Output {
    pub success: bool,
    /// The exit code, if the command exited (rather than being killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Standard output and standard error together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The variable and the secret of the keyed hashes of the gateways tests start.
pub const TEST_HASH_KEY: (&str, &str) =
    ("GARITA_TEST_HASH_KEY", "a-test-hash-key-of-32-bytes-long");

/// How long [`run`] lets a command take before it kills it and fails the test.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Run `program` with `args` and `env`, feeding it `stdin` if given, and collect its output.
/// A command still running after two minutes is killed and fails the test, so a hang
/// shows up as a failure.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    use std::io::{Read, Write};
    let mut child = Command::new(program)
        .args(args)
        // The hash key every gateway the builder starts reads (see `GatewayBuilder::start`).
        .env(TEST_HASH_KEY.0, TEST_HASH_KEY.1)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A command that fails before reading its input closes the pipe: not an error here.
        if let Err(e) = pipe.write_all(input) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "writing to {program}: {e}"
            );
        }
    }
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} still ran after {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        success: status.success(),
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn garita_bin() -> &'static str {
    env!("CARGO_BIN_EXE_garita")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
