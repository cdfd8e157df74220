//! Backends that misbehave on purpose, dead addresses, and telling a closed connection.

use super::*;

/// A loopback address where nothing listens (for a dead upstream): a port the system
/// handed out and took back.
pub(crate) fn unused_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().unwrap()
}

/// A backend that accepts connections and then misbehaves in the way `serve` says, each
/// connection on its own thread, for as long as the test runs.
pub fn misbehaving_backend(serve: fn(std::net::TcpStream)) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

/// Whether the server has closed `stream`: a read returns end of file or a reset within
/// `wait` (a response before the close is read past). A read that times out means the
/// connection is still open.
pub fn closed_by_server(stream: &mut std::net::TcpStream, wait: Duration) -> bool {
    use std::io::{ErrorKind, Read};
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// One request the shop's event receiver got, and what it answered.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub answered: u16,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReceivedEvent {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The shop's receiver of garita's events: answers each request with the next status of
/// its list (then 200 for ever), one request per connection, and keeps what it got.
pub struct EventReceiver {
    pub addr: SocketAddr,
    got: std::sync::Arc<std::sync::Mutex<Vec<ReceivedEvent>>>,
}

impl EventReceiver {
    pub fn start(statuses: &[u16]) -> Self {
        Self::start_on(
            std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            statuses,
        )
    }

    /// On an address chosen before (a shop that comes up late).
    pub fn start_at(addr: SocketAddr, statuses: &[u16]) -> Self {
        Self::start_on(std::net::TcpListener::bind(addr).unwrap(), statuses)
    }

    fn start_on(listener: std::net::TcpListener, statuses: &[u16]) -> Self {
        use std::io::{Read, Write};
        let addr = listener.local_addr().unwrap();
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (kept, answers) = (got.clone(), statuses.to_vec());
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for mut conn in listener.incoming().flatten() {
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let (head_len, path, headers) = loop {
                    let Ok(n) = conn.read(&mut buf) else {
                        break (0, String::new(), Vec::new());
                    };
                    if n == 0 {
                        break (0, String::new(), Vec::new());
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let mut slots = [httparse::EMPTY_HEADER; 32];
                    let mut req = httparse::Request::new(&mut slots);
                    if let Ok(httparse::Status::Complete(len)) = req.parse(&raw) {
                        let headers: Vec<(String, String)> = req
                            .headers
                            .iter()
                            .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into()))
                            .collect();
                        break (len, req.path.unwrap_or("").to_string(), headers);
                    }
                };
                if head_len == 0 {
                    continue;
                }
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                while raw.len() < head_len + length {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let answered = answers.next().unwrap_or(200);
                kept.lock().unwrap().push(ReceivedEvent {
                    answered,
                    path,
                    headers,
                    body: raw[head_len..].to_vec(),
                });
                let _ = write!(
                    conn,
                    "HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self { addr, got }
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<ReceivedEvent> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (up to `patience`) until at least `n` requests arrived; what arrived.
    pub fn wait_for(&self, n: usize, patience: Duration) -> Vec<ReceivedEvent> {
        let until = std::time::Instant::now() + patience;
        loop {
            let got = self.received();
            if got.len() >= n || std::time::Instant::now() > until {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether `event` carries a valid Standard Webhooks signature by `key`: HMAC-SHA256 of
/// `id.timestamp.body`, base64, as one of the `v1,` entries of `webhook-signature`.
pub fn standard_webhooks_signed(event: &ReceivedEvent, key: &[u8]) -> bool {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let (Some(id), Some(ts), Some(signatures)) = (
        event.header("webhook-id"),
        event.header("webhook-timestamp"),
        event.header("webhook-signature"),
    ) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&event.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    signatures.split(' ').any(|s| s == expected)
}
