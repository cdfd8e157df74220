//! A fixed-rate HTTP/1.1 load generator for benches/load/run: latency percentiles at a
//! given request rate, corrected for coordinated omission (as wrk2 does).
//!
//! Closed-loop tools such as wrk send the next request only when the previous answer is
//! back, so a stall delays the requests that would have measured it and the percentiles
//! look better than what clients see. Here every request has a scheduled send time, spread
//! evenly over the run across keep-alive connections. A request whose connection was still
//! waiting for the previous answer when it fell due is counted from its scheduled time, not
//! from when it could actually be sent: a stall of 10 ms shows up in every request scheduled
//! during it. One that found its connection free is counted from when it was sent, because
//! tokio's timer wakes at millisecond ticks and that lateness is the generator's own (it
//! also means requests leave in small bursts at each tick, the same for every contender).
//! One thread, like `wrk -t1`.
//!
//! Usage: paced ADDR PATH RATE SECONDS CONNECTIONS [METHOD [BODY_FILE|- [HEADER:VALUE]...]]
//! Prints one line: `rate=.. sent=.. errors=.. p50_us=.. p99_us=.. p999_us=.. max_us=..`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Run {
    addr: SocketAddr,
    request: Vec<u8>,
    rate: f64,
    seconds: f64,
    connections: usize,
}

fn parse_args() -> Result<Run, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        return Err(
            "usage: paced ADDR PATH RATE SECONDS CONNECTIONS [METHOD [BODY_FILE [HEADER:VALUE]...]]"
                .into(),
        );
    }
    let addr: SocketAddr = args[0].parse().map_err(|e| format!("ADDR: {e}"))?;
    let number = |i: usize, what: &str| -> Result<f64, String> {
        args[i]
            .parse::<f64>()
            .ok()
            .filter(|n| *n > 0.0)
            .ok_or(format!("{what}: a positive number, found {}", args[i]))
    };
    let (rate, seconds) = (number(2, "RATE")?, number(3, "SECONDS")?);
    let connections = number(4, "CONNECTIONS")? as usize;
    let method = args.get(5).map_or("GET", String::as_str);
    let body = match args.get(6).filter(|f| !f.is_empty() && *f != "-") {
        Some(file) => std::fs::read(file).map_err(|e| format!("{file}: {e}"))?,
        None => Vec::new(),
    };
    let mut request = format!("{method} {} HTTP/1.1\r\nHost: {addr}\r\n", args[1]);
    for header in args.iter().skip(7) {
        let (name, value) = header
            .split_once(':')
            .ok_or(format!("a header as NAME:VALUE, found {header}"))?;
        request.push_str(&format!("{name}: {}\r\n", value.trim()));
    }
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(&body);
    Ok(Run {
        addr,
        request,
        rate,
        seconds,
        connections: connections.max(1),
    })
}

/// Reads one response off `stream` (headers, then a Content-Length body), keeping any
/// bytes beyond it in `buffer`. `Ok(status)`, or an error if the connection broke.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = response.parse(buffer) {
            let status = response.code.unwrap_or(0);
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .unwrap_or(0);
            while buffer.len() < head + length {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..head + length);
            return Ok(status);
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// One connection's share: requests `first, first + step, ...` of the schedule. Returns
/// the latencies in microseconds, and how many requests failed.
async fn connection(run: &Run, start: Instant, first: usize, total: usize) -> (Vec<u32>, usize) {
    let interval = Duration::from_secs_f64(1.0 / run.rate);
    let mut latencies = Vec::with_capacity(total / run.connections + 1);
    let mut errors = 0;
    let mut stream = None;
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut free_since = start;
    for i in (first..total).step_by(run.connections) {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        // Still busy with the previous request when this one was due: it waited for the
        // server, and that wait counts. Otherwise, count from now: the timer's own lateness
        // (tokio's timer ticks in milliseconds) is the generator's, not the server's.
        let counted_from = if free_since > due {
            due
        } else {
            Instant::now()
        };
        if stream.is_none() {
            buffer.clear();
            match TcpStream::connect(run.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    continue;
                }
            }
        }
        let s = stream.as_mut().expect("connected");
        let answered = async {
            s.write_all(&run.request).await?;
            read_response(s, &mut buffer).await
        }
        .await;
        match answered {
            Ok(status) if (200..300).contains(&status) => {
                free_since = Instant::now();
                let took = free_since.saturating_duration_since(counted_from);
                latencies.push(took.as_micros().min(u32::MAX as u128) as u32);
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                stream = None;
            }
        }
    }
    (latencies, errors)
}

fn main() {
    let run = match parse_args() {
        Ok(run) => run,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let total = (run.rate * run.seconds) as usize;
    let rate = run.rate;
    let (mut latencies, errors) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(50);
        let run = std::sync::Arc::new(run);
        let shares: Vec<_> = (0..run.connections)
            .map(|c| {
                let run = run.clone();
                tokio::spawn(async move { connection(&run, start, c, total).await })
            })
            .collect();
        let mut all = Vec::with_capacity(total);
        let mut errors = 0;
        for share in shares {
            let (latencies, failed) = share.await.expect("a connection's task");
            all.extend(latencies);
            errors += failed;
        }
        (all, errors)
    });
    latencies.sort_unstable();
    let at = |q: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "rate={} sent={} errors={} p50_us={} p99_us={} p999_us={} max_us={}",
        rate,
        latencies.len() + errors,
        errors,
        at(0.50),
        at(0.99),
        at(0.999),
        latencies.last().copied().unwrap_or(0)
    );
}
