//! Bare Pingora: a passthrough proxy with no rules, the baseline garita is measured
//! against by `benches/load/run`. Built with garita's release profile and allocator.
//!
//! Usage: `passthrough LISTEN UPSTREAM THREADS`.

use async_trait::async_trait;
use pingora::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Passthrough {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (listen, upstream, threads) = match args.as_slice() {
        [_, listen, upstream, threads] => (listen, upstream, threads.parse().unwrap_or(1)),
        _ => {
            eprintln!("usage: passthrough LISTEN UPSTREAM THREADS");
            std::process::exit(2);
        }
    };
    let conf = pingora::server::configuration::ServerConf {
        threads,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service(
        &server.configuration,
        Passthrough {
            upstream: upstream.clone(),
        },
    );
    proxy.add_tcp(listen);
    server.add_service(proxy);
    server.run_forever();
}
