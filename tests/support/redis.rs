//! A redis-server of the test's own.

use super::*;

/// A `redis-server` of the test's own, on a Unix socket in a temporary directory (no port
/// to collide with anything), persisting nothing. Debian package `redis-server`; the
/// `REDIS_SERVER` variable overrides the path.
pub struct Redis {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Also serving TLS on this loopback port, with a certificate for `localhost` signed by
    /// a CA made for the test (`ca.pem` in the directory).
    tls_port: Option<u16>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            tls_port: None,
        };
        redis.resume();
        redis
    }

    /// A server that also speaks TLS on a loopback port (`rediss://localhost:PORT`).
    pub fn start_tls() -> Redis {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa::new();
        let (cert, key) = ca.issue("localhost");
        std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        let mut redis = Redis {
            dir,
            child: None,
            tls_port: Some(unused_addr().port()),
        };
        redis.resume();
        redis
    }

    /// The CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The TLS URL of a server from `start_tls`.
    pub fn tls_url(&self) -> String {
        format!(
            "rediss://localhost:{}/",
            self.tls_port.expect("a TLS server")
        )
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The URL garita connects with.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Stop the server (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.socket());
    }

    /// Freeze the server (SIGSTOP): connections stay open and nothing answers, like a
    /// store stuck on a slow disk or a long command. [`Redis::thaw`] lets it go on.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Start the server (again), empty, and wait until it answers.
    pub fn resume(&mut self) {
        let program = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(&program);
        command
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(port) = self.tls_port {
            let file = |name: &str| self.dir.path().join(name);
            command
                .args(["--bind", "127.0.0.1", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(file("server.pem"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is needed (Debian package `redis-server`): {e}"));
        self.child = Some(child);
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
