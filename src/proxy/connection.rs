//! Client connections: which ones garita takes, and how long a client may take to say
//! what it wants.
//!
//! [`Admission`] caps the connections open at once, in all and per peer address. A
//! connection over a cap is closed at once, before a byte of it is read, and counted.
//! Trusted proxies are exempt from the per-address cap (every customer behind a load
//! balancer shares its address), not from the total.
//!
//! [`Deadlined`] wraps a connection's stream and enforces a total deadline on each request
//! head: counted from accept for the first request, and from the first byte of each later
//! one on a kept-alive connection. Pingora times out each read, not the head, so a client
//! that sends a byte every few seconds could otherwise hold a connection for ever. Between
//! requests a connection may stay idle for the keep-alive timeout (set per request in the
//! proxy's first hook, since Pingora otherwise keeps HTTP/1.1 connections without limit).
//! NGINX's `client_header_timeout` and `keepalive_timeout` are the model.
//!
//! What it approximates: where a request's head ends is known from the proxy's hooks, which
//! run on the connection's own task; [`head_received`] and [`request_finished`] mark it in a
//! task-local phase that the stream reads. HTTP/2 streams share one connection task and are
//! not given head deadlines (the h2 crate bounds its own frames).

use crate::core::request::client_ip::ClientIpResolver;
use dashmap::DashMap;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType,
};
use prometheus::{IntCounter, IntGauge};
use std::cell::Cell;
use std::future::Future as _;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Where a connection is in its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests: nothing of the next head has arrived.
    Idle,
    /// Reading a head whose first byte (or whose connection) came at this instant.
    Head(Instant),
    /// The head is in; reads are for the body, bounded by the route's own timeout.
    Past,
}

tokio::task_local! {
    static PHASE: Cell<Phase>;
    /// Whether this connection was closed for running out of time on a head.
    static TIMED_OUT: Cell<bool>;
}

/// Run a connection's work with its phase tracked: a head is being read from the start.
pub async fn tracked<F: std::future::Future>(accepted: Instant, work: F) -> F::Output {
    PHASE
        .scope(
            Cell::new(Phase::Head(accepted)),
            TIMED_OUT.scope(Cell::new(false), work),
        )
        .await
}

/// The proxy has the whole head of the current request.
pub fn head_received() {
    let _ = PHASE.try_with(|p| p.set(Phase::Past));
}

/// The current request is answered; the next head has not begun.
pub fn request_finished() {
    let _ = PHASE.try_with(|p| p.set(Phase::Idle));
}

/// Whether `record` is Pingora's error report of a connection garita closed for a head
/// deadline: already counted, and under a slow-client attack one line per connection.
pub fn is_own_timeout(record: &log::Record<'_>) -> bool {
    record.level() == log::Level::Error
        && record.target().starts_with("pingora")
        && TIMED_OUT.try_with(Cell::get).unwrap_or(false)
}

/// Caps on open connections, and the counts they are checked against.
pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    open: AtomicUsize,
    /// Open connections per peer address; an address leaves the map with its last one.
    per_address: DashMap<IpAddr, usize>,
    trusted: ClientIpResolver,
    /// Follows the connections open (the proxy's; the small listeners keep none).
    gauge: Option<IntGauge>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooManyConnections,
    TooManyFromAddress,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooManyConnections => "max_connections",
            Refusal::TooManyFromAddress => "max_connections_per_address",
        }
    }
}

impl Admission {
    /// `gauge` follows the number of connections open.
    pub fn new(
        max_total: usize,
        max_per_address: usize,
        trusted: ClientIpResolver,
        gauge: Option<IntGauge>,
    ) -> Self {
        Self {
            max_total,
            max_per_address,
            open: AtomicUsize::new(0),
            per_address: DashMap::new(),
            trusted,
            gauge,
        }
    }

    /// Take a connection from `peer`, or say why not. The admission lasts as long as the
    /// returned value.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Admitted, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TooManyConnections);
        }
        // From here on, dropping `admitted` gives the place back.
        if let Some(gauge) = &self.gauge {
            gauge.inc();
        }
        let mut admitted = Admitted {
            admission: self.clone(),
            address: None,
        };
        if let Some(ip) = peer.map(|ip| ip.to_canonical()) {
            if !self.trusted.is_trusted(ip) {
                let mut count = self.per_address.entry(ip).or_insert(0);
                if *count >= self.max_per_address {
                    return Err(Refusal::TooManyFromAddress);
                }
                *count += 1;
                admitted.address = Some(ip);
            }
        }
        Ok(admitted)
    }
}

/// One admitted connection; dropping it gives its places back.
pub struct Admitted {
    admission: Arc<Admission>,
    address: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(ip) = self.address {
            self.admission.per_address.remove_if_mut(&ip, |_, count| {
                *count -= 1;
                *count == 0
            });
        }
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(gauge) = &self.admission.gauge {
            gauge.dec();
        }
    }
}

/// A client stream whose request heads must arrive within a deadline.
pub struct Deadlined {
    inner: Stream,
    header_timeout: Duration,
    /// The timer for the head being read, and the head it was set for.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
    timeouts: IntCounter,
}

impl Deadlined {
    pub fn new(inner: Stream, header_timeout: Duration, timeouts: IntCounter) -> Self {
        Self {
            inner,
            header_timeout,
            timer: None,
            timeouts,
        }
    }

    /// Whether the head that began at `since` is out of time; arms the timer (which wakes
    /// the task at the deadline) when the read has to wait.
    fn expired(&mut self, since: Instant, cx: &mut Context<'_>) -> bool {
        let deadline = since + self.header_timeout;
        let (armed_for, sleep) = self
            .timer
            .get_or_insert_with(|| (since, Box::pin(tokio::time::sleep_until(deadline))));
        if *armed_for != since {
            *armed_for = since;
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let phase = PHASE.try_with(Cell::get).unwrap_or(Phase::Past);
        let before = buf.filled().len();
        let this = &mut *self;
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        match (phase, &read) {
            (Phase::Idle, Poll::Ready(Ok(()))) if buf.filled().len() > before => {
                let _ = PHASE.try_with(|p| p.set(Phase::Head(Instant::now())));
            }
            (Phase::Head(since), Poll::Pending) if this.expired(since, cx) => {
                this.timeouts.inc();
                let _ = TIMED_OUT.try_with(|t| t.set(true));
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request head not received in time",
                )));
            }
            _ => {}
        }
        read
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait::async_trait]
impl Shutdown for Deadlined {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for Deadlined {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Deadlined {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Deadlined {
    fn get_timing_digest(&self) -> Vec<Option<pingora::protocols::TimingDigest>> {
        self.inner.get_timing_digest()
    }
    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }
    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Deadlined {
    fn get_proxy_digest(&self) -> Option<Arc<pingora::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
    fn set_proxy_digest(&mut self, digest: pingora::protocols::raw_connect::ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for Deadlined {
    fn get_socket_digest(&self) -> Option<Arc<pingora::protocols::SocketDigest>> {
        self.inner.get_socket_digest()
    }
    fn set_socket_digest(&mut self, digest: pingora::protocols::SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait::async_trait]
impl Peek for Deadlined {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

impl std::fmt::Debug for Deadlined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadlined")
            .field("inner", &self.inner)
            .field("header_timeout", &self.header_timeout)
            .finish()
    }
}
