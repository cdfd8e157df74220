//! A stand-in shop backend that answers every request and remembers exactly what it got.
//!
//! It reads HTTP/1.1 itself (request line, headers as sent, bodies with Content-Length or
//! chunked) so that what it records is what crossed the wire from the gateway, not what a
//! framework made of it. The demo serves from it; the integration tests use it as the
//! recording backend. Not a general HTTP server: no pipelining, no trailers, 1 MiB bodies.
//!
//! A `POST` to a path ending in `/cips` is answered the way a shop relaying PagoEfectivo
//! answers a payment-code creation: `{"code":100,"data":{"cip":"N",...}}`, N counting up
//! from 2364000. A request asking `X-Demo-Answer: gzip` gets that answer marked
//! `Content-Encoding: gzip` (for the gateway's tests of answers it must not read).
//!
//! As a sandbox for `garita simulate`: `X-Sandbox-Delay-Ms: N` delays the answer N ms
//! (a backend that times out), and a shop started with a PagoEfectivo key
//! ([`DemoShop::start_verifying`]) answers 401 to a `PE-Signature` that does not match the
//! body, as a shop that checks its notifications itself does.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// The next payment code a creation request is answered with.
static NEXT_CIP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2_364_000);

/// One request as the backend received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target exactly as sent: path and query.
    pub target: String,
    /// Header names and values in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body after removing any chunked framing.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// All values of a header, case-insensitive name.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }
}

#[derive(Clone)]
pub struct DemoShop {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<tokio::sync::Notify>,
}

impl DemoShop {
    /// Listen on 127.0.0.1 at a port the system chooses, serving from a thread of its own.
    pub fn start() -> io::Result<DemoShop> {
        Self::start_on("127.0.0.1:0".parse().expect("an address"))
    }

    /// Listen on `addr` (a backend coming back where it was).
    pub fn start_on(addr: SocketAddr) -> io::Result<DemoShop> {
        Self::serve(addr, None)
    }

    /// Like [`DemoShop::start`], refusing notifications whose `PE-Signature` does not
    /// match their body under `key`.
    pub fn start_verifying(key: &[u8]) -> io::Result<DemoShop> {
        Self::serve(
            "127.0.0.1:0".parse().expect("an address"),
            Some(Arc::from(key)),
        )
    }

    fn serve(addr: SocketAddr, key: Option<Arc<[u8]>>) -> io::Result<DemoShop> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(tokio::sync::Notify::new());
        let shop = DemoShop {
            addr,
            requests: requests.clone(),
            stop: stop.clone(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("demo-shop".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            log::error!("demo shop: {e}");
                            return;
                        }
                    };
                    loop {
                        let accepted = tokio::select! {
                            accepted = listener.accept() => accepted,
                            // Stopping drops the listener and, with the runtime, every
                            // connection: the shop is gone as a killed process would be.
                            () = stop.notified() => return,
                        };
                        let Ok((stream, _)) = accepted else {
                            continue;
                        };
                        // One write per response, but no Nagle wait on the peer's ACK either.
                        let _ = stream.set_nodelay(true);
                        let requests = requests.clone();
                        let key = key.clone();
                        tokio::spawn(async move {
                            if let Err(e) = serve_connection(stream, requests, key).await {
                                log::debug!("demo shop connection: {e}");
                            }
                        });
                    }
                })
            })?;
        Ok(shop)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Close the listener and every connection, for good (a backend that died).
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

async fn read_line(reader: &mut BufReader<TcpStream>, budget: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let n = reader.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
    }
    *budget = budget.checked_sub(n).ok_or_else(|| bad("head too large"))?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad("head is not UTF-8"))
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `body` under `key`.
fn signed_by(key: &[u8], body: &[u8], signature: &str) -> bool {
    use hmac::{Mac, SimpleHmac};
    let Ok(given) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = SimpleHmac::<sha2::Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

async fn serve_connection(
    stream: TcpStream,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    key: Option<Arc<[u8]>>,
) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut budget = MAX_HEAD;
        let request_line = match read_line(&mut reader, &mut budget).await {
            Ok(line) => line,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut parts = request_line.splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts
            .next()
            .ok_or_else(|| bad("no request target"))?
            .to_string();
        let mut headers = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut budget).await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad("header without ':'"))?;
            headers.push((name.to_string(), value.trim().to_string()));
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let chunked = find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            read_chunked(&mut reader).await?
        } else {
            let len: usize = find("content-length")
                .map(|v| v.parse().map_err(|_| bad("bad content-length")))
                .transpose()?
                .unwrap_or(0);
            if len > MAX_BODY {
                return Err(bad("body too large"));
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await?;
            body
        };
        let close = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let creates = method == "POST" && target.split('?').next().unwrap_or("").ends_with("/cips");
        let forged = match (&key, find("pe-signature")) {
            (Some(key), Some(signature)) => !signed_by(key, &body, &signature),
            _ => false,
        };
        if let Some(ms) = find("x-sandbox-delay-ms").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
        }
        let (status, reply) = if forged {
            (
                "401 Unauthorized",
                serde_json::json!({"error": "bad signature"}).to_string(),
            )
        } else if creates {
            let cip = NEXT_CIP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ("200 OK", serde_json::json!({"code": 100, "message": "Solicitud exitosa", "data": {"cip": cip.to_string(), "currency": "PEN"}}).to_string())
        } else {
            (
                "200 OK",
                serde_json::json!({"shop": "ok", "method": method, "target": target}).to_string(),
            )
        };
        let marked = if find("x-demo-answer").is_some_and(|v| v.eq_ignore_ascii_case("gzip")) {
            "content-encoding: gzip\r\n"
        } else {
            ""
        };
        if let Ok(mut r) = requests.lock() {
            r.push(RecordedRequest {
                method,
                target,
                headers,
                body,
            });
        }
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{marked}{}\r\n",
            reply.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        let mut response = head.into_bytes();
        response.extend_from_slice(reply.as_bytes());
        let stream = reader.get_mut();
        stream.write_all(&response).await?;
        stream.flush().await?;
        if close {
            return Ok(());
        }
    }
}

async fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD;
    loop {
        let size_line = read_line(reader, &mut budget).await?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !read_line(reader, &mut budget).await?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).await?;
    }
}
