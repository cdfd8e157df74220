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
