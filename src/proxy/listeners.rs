//! Listening sockets: bound by garita itself, then handed to Pingora.
//!
//! garita binds every listener before the server starts, so that a taken port is one clear
//! error (`cannot listen on 0.0.0.0:8080: address in use`) instead of Pingora's thirty
//! seconds of retries and a process that looks alive but serves nothing; so that `listen`
//! may say port 0 and `run` can print the address the system chose (`listening on
//! 127.0.0.1:41234 (proxy)`), which is how tests and scripts know the gateway is ready; and
//! so that nothing can take the port between a check and Pingora's own bind. The sockets
//! reach Pingora through the table it keeps for sockets inherited in a graceful upgrade
//! ([`PreBound`] puts them there when the service starts), so Pingora serves them exactly
//! as it would its own.

use async_trait::async_trait;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::{ListenFds, ShutdownWatch};
use pingora::services::Service;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::IntoRawFd;

/// A listener garita bound: the address the config asked for and the one it got.
#[derive(Debug)]
pub struct Bound {
    pub asked: SocketAddr,
    pub addr: SocketAddr,
    socket: TcpListener,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {asked}: {why}", why = listen_failure(.source))]
pub struct ListenError {
    pub asked: SocketAddr,
    source: std::io::Error,
}

fn listen_failure(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::AddrInUse => "address in use".into(),
        ErrorKind::AddrNotAvailable => "no such local address".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Bind one listener, non-blocking as Pingora's runtime needs it.
pub fn bind(asked: SocketAddr) -> Result<Bound, ListenError> {
    let fail = |source| ListenError { asked, source };
    let socket = TcpListener::bind(asked).map_err(fail)?;
    socket.set_nonblocking(true).map_err(fail)?;
    let addr = socket.local_addr().map_err(fail)?;
    Ok(Bound {
        asked,
        addr,
        socket,
    })
}

/// A proxy listener at `addr` (TLS with `tls`), its connections read through a buffer of
/// `read_buffer` bytes (`server.read_buffer_kib`; Pingora's own default is 64 KiB, resident
/// for as long as the connection is open).
pub fn proxy_listener(
    addr: &SocketAddr,
    tls: Option<TlsSettings>,
    read_buffer: usize,
) -> ListenerConfig {
    let endpoint = ListenerConfig::tcp(addr.to_string())
        .l4_buffer(L4BufferSettings::default().read(read_buffer));
    match tls {
        Some(tls) => endpoint.tls(tls),
        None => endpoint,
    }
}

/// A Pingora service whose listeners garita bound: the sockets are put in Pingora's table
/// of inherited sockets, under the addresses the service listens on, when it starts.
pub struct PreBound<S> {
    inner: S,
    sockets: Vec<Bound>,
}

impl<S> PreBound<S> {
    /// `inner` must listen (`add_tcp`) on exactly the `addr` of each of `sockets`.
    pub fn new(inner: S, sockets: Vec<Bound>) -> Self {
        Self { inner, sockets }
    }
}

#[async_trait]
impl<S: Service> Service for PreBound<S> {
    async fn start_service(
        &mut self,
        fds: Option<ListenFds>,
        shutdown: ShutdownWatch,
        listeners_per_fd: usize,
    ) {
        match &fds {
            Some(table) => {
                let mut table = table.lock();
                for bound in self.sockets.drain(..) {
                    // Pingora owns the socket from here on.
                    table.add(bound.addr.to_string(), bound.socket.into_raw_fd());
                }
            }
            // Pingora binds the addresses itself then, once these sockets are closed.
            None => self.sockets.clear(),
        }
        self.inner
            .start_service(fds, shutdown, listeners_per_fd)
            .await;
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn threads(&self) -> Option<usize> {
        self.inner.threads()
    }

    fn listen_addresses(&self) -> Option<Vec<String>> {
        self.inner.listen_addresses()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gets_a_real_port_and_a_taken_port_is_named() {
        let bound = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(bound.addr.port(), 0);
        let err = bind(bound.addr).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot listen on {}: address in use", bound.addr)
        );
    }
}
