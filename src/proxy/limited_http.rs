//! The admin and metrics listeners' HTTP: a [`ServeHttp`] app served with the limits a
//! listener facing operators still needs.
//!
//! Pingora's own `HttpServer` keeps every connection alive 60 s, drops a connection whose
//! head it cannot parse without a word, and reads whatever body a client sends. Here, as on
//! the proxy listeners: each connection is admitted under caps and its heads held to a
//! deadline (the phase markers of [`super::connection`] are set around each request); a
//! head larger than [`MAX_HEAD_BYTES`] or with more headers than Pingora parses gets 431;
//! a body declared larger than the app takes gets 413 before it is read, and what the
//! client still sends is drained (bounded) so that it reads the answer instead of a reset;
//! idle kept-alive connections close after the listener's keep-alive timeout.

use super::connection;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::http_app::ServeHttp;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::ResponseHeader;
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora::ErrorType;
use std::sync::Arc;
use std::time::Duration;

/// Bound on a request line and headers on these listeners, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What is drained of a body that is refused, at most, before the connection closes.
const MAX_DRAIN_BYTES: usize = 8 << 20;
const MAX_DRAIN_TIME: Duration = Duration::from_secs(5);

pub struct LimitedHttp<S> {
    app: S,
    /// Largest request body the app takes.
    max_body: usize,
    keepalive_seconds: Option<u64>,
}

impl<S> LimitedHttp<S> {
    pub fn new(app: S, max_body: usize, keepalive_seconds: Option<u64>) -> Self {
        Self {
            app,
            max_body,
            keepalive_seconds,
        }
    }
}

fn refusal(status: u16, reason: &str) -> http::Response<Vec<u8>> {
    let mut body = serde_json::to_vec(&serde_json::json!({ "error": reason })).unwrap_or_default();
    body.push(b'\n');
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONTENT_LENGTH, body.len())
        .header(http::header::CONNECTION, "close")
        .body(body)
        .expect("valid response")
}

fn head_bytes(session: &ServerSession) -> usize {
    let req = session.req_header();
    let target = req.uri.path_and_query().map_or(0, |p| p.as_str().len());
    req.headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + target
}

fn declared_length(session: &ServerSession) -> Option<usize> {
    session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Read and drop what is left of a refused body, within bounds.
async fn drain(session: &mut ServerSession) {
    let mut left = MAX_DRAIN_BYTES;
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, async {
        while let Ok(Some(chunk)) = session.read_request_body().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

/// After answering a head that could not be parsed: read and drop what the client still
/// sends, within bounds, so that closing does not reset the connection under the answer.
async fn linger(session: ServerSession) {
    use tokio::io::AsyncReadExt;
    let ServerSession::H1(v1) = session else {
        return;
    };
    let mut stream = v1.into_inner();
    let mut buf = vec![0u8; 16 * 1024];
    let mut left = MAX_DRAIN_BYTES;
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, async {
        while left > 0 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

async fn write(session: &mut ServerSession, reply: http::Response<Vec<u8>>) {
    let (parts, body) = reply.into_parts();
    let header: ResponseHeader = parts.into();
    if let Err(e) = session.write_response_header(Box::new(header)).await {
        log::debug!("admin/metrics listener: writing a response head: {e}");
        return;
    }
    if !body.is_empty() {
        if let Err(e) = session.write_response_body(Bytes::from(body), true).await {
            log::debug!("admin/metrics listener: writing a response body: {e}");
        }
    }
}

#[async_trait]
impl<S: ServeHttp + Send + Sync> HttpServerApp for LimitedHttp<S> {
    async fn process_new_http(
        self: &Arc<Self>,
        mut http: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match http.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                if e.etype() == &ErrorType::InvalidHTTPHeader {
                    let text = e.to_string();
                    let too_big = text.contains("too many headers") || text.contains("larger than");
                    let reply = match too_big {
                        true => refusal(431, "headers_too_large"),
                        false => refusal(400, "malformed_request"),
                    };
                    http.set_keepalive(None);
                    write(&mut http, reply).await;
                    linger(http).await;
                }
                return None;
            }
        }
        connection::head_received();
        let refused = if head_bytes(&http) > MAX_HEAD_BYTES {
            Some(refusal(431, "headers_too_large"))
        } else if declared_length(&http).is_some_and(|n| n > self.max_body) {
            Some(refusal(413, "body_too_large"))
        } else {
            None
        };
        let closing = refused.is_some() || *shutdown.borrow();
        let reply = match refused {
            Some(reply) => reply,
            None => self.app.response(&mut http).await,
        };
        let refused_body = reply.status() == 413;
        if closing || refused_body {
            http.set_keepalive(None);
        } else {
            http.set_keepalive(self.keepalive_seconds);
        }
        connection::request_finished();
        write(&mut http, reply).await;
        if refused_body {
            drain(&mut http).await;
            return None;
        }
        let persistent = HttpPersistentSettings::for_session(&http);
        match http.finish().await {
            Ok(reused) => reused.map(|s| ReusedHttpStream::from_reusable_stream(s, persistent)),
            Err(e) => {
                log::debug!("admin/metrics listener: finishing a request: {e}");
                None
            }
        }
    }
}
