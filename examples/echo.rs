//! The echo benchmark: an echo server on heist, tokio or smol, and the client that
//! measures it (`docs/benchmarks.md`, "Echo"; `scripts/echo-bench.sh` runs the matrix).
//!
//! ```text
//! cargo run --release --example echo -- server --rt heist --workers 1 --addr 127.0.0.1:7000
//! cargo run --release --example echo -- client --addr 127.0.0.1:7000 --conns 100 --size 64 --mode rr --secs 5
//! ```
//!
//! The servers share one logic: a task per connection, a 64 KiB buffer, write back
//! what was read, `TCP_NODELAY`. The client is one thread on a mio event loop (no async
//! runtime, the same for every server): `rr` keeps one message in flight per
//! connection, `pipe` keeps `max(1, 256 KiB / size)` (at most 64), one `write` per
//! message, or with `--batch` one `write` for all the window allows. It connects every
//! connection first, warms up, then measures: the echoes completed in the measured
//! window, and for each its latency (from the first byte of the message written to
//! the last byte of its echo read). It prints one JSON line with requests per second
//! and latency percentiles.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    match args.first().map(String::as_str) {
        Some("server") => {
            let addr: SocketAddr = get("--addr", "127.0.0.1:7000").parse().unwrap();
            let workers: usize = get("--workers", "1").parse().unwrap();
            match get("--rt", "heist").as_str() {
                "heist" => heist_server(addr, workers, args.iter().any(|a| a == "--stats")),
                "tokio" => tokio_server(addr, workers),
                "smol" => smol_server(addr, workers),
                other => panic!("unknown --rt {other} (heist, tokio, smol)"),
            }
        }
        Some("client") => {
            let config = ClientConfig {
                addr: get("--addr", "127.0.0.1:7000").parse().unwrap(),
                conns: get("--conns", "100").parse().unwrap(),
                size: get("--size", "64").parse().unwrap(),
                pipelined: get("--mode", "rr") == "pipe",
                batch: args.iter().any(|a| a == "--batch"),
                warmup: Duration::from_secs_f64(get("--warmup", "1").parse().unwrap()),
                measure: Duration::from_secs_f64(get("--secs", "5").parse().unwrap()),
                count: match get("--count", "0").parse().unwrap() {
                    0 => None,
                    n => Some(n),
                },
            };
            client(&config).unwrap();
        }
        _ => {
            eprintln!("usage: echo server --rt heist|tokio|smol --workers N --addr A");
            eprintln!(
                "       echo client --addr A --conns C --size S --mode rr|pipe --secs T --warmup W [--count N] [--batch]"
            );
            std::process::exit(2);
        }
    }
}

fn ready(addr: SocketAddr) {
    println!("listening on {addr}");
    let _ = io::stdout().flush();
}

/// `--stats`: each time the last connection closes, heist's server prints its workers'
/// counters (parks, parks without a poll, steals, polls) and the runtime's forced yields
/// (`budget_forced_yield_count`) as a JSON line to stderr.
fn heist_server(addr: SocketAddr, workers: usize, stats: bool) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    let live = Arc::new(AtomicUsize::new(0));
    let rt = heist::Runtime::builder()
        .worker_threads(workers)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = heist::net::TcpListener::bind(addr).await.unwrap();
        ready(listener.local_addr().unwrap());
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            live.fetch_add(1, SeqCst);
            let live = live.clone();
            heist::spawn(async move {
                let _ = socket.set_nodelay(true);
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                if live.fetch_sub(1, SeqCst) == 1 && stats {
                    print_heist_stats();
                }
            });
        }
    });
}

fn print_heist_stats() {
    let m = heist::Handle::current().metrics();
    let per = |f: &dyn Fn(usize) -> u64| -> String {
        let v: Vec<String> = (0..m.num_workers()).map(|w| f(w).to_string()).collect();
        format!("[{}]", v.join(","))
    };
    eprintln!(
        "{{\"parks\":{},\"noops\":{},\"steals\":{},\"steal_ops\":{},\"polls\":{},\"forced_yields\":{}}}",
        per(&|w| m.worker_park_count(w)),
        per(&|w| m.worker_noop_count(w)),
        per(&|w| m.worker_steal_count(w)),
        per(&|w| m.worker_steal_operations(w)),
        per(&|w| m.worker_poll_count(w)),
        m.budget_forced_yield_count(),
    );
}

fn tokio_server(addr: SocketAddr, workers: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        ready(listener.local_addr().unwrap());
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn smol_server(addr: SocketAddr, workers: usize) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = std::sync::Arc::new(async_executor::Executor::new());
    // `workers` threads run the executor (each idles in async-io's block_on, which
    // drives the reactor), as smol's multi-threaded setup does.
    for _ in 1..workers {
        let ex = ex.clone();
        std::thread::spawn(move || {
            async_io::block_on(ex.run(futures_lite::future::pending::<()>()))
        });
    }
    let ex2 = ex.clone();
    async_io::block_on(ex.run(async move {
        let listener = async_io::Async::<std::net::TcpListener>::bind(addr).unwrap();
        ready(listener.get_ref().local_addr().unwrap());
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            ex2.spawn(async move {
                let _ = socket.get_ref().set_nodelay(true);
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
        }
    }));
}

struct ClientConfig {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    pipelined: bool,
    /// `--batch` (pipe mode): write all the messages the window allows in one `write`
    /// instead of one `write` per message, so that the client, not the server, stops
    /// being the bottleneck (`docs/benchmarks/echo.md`, "Where heist does not win").
    batch: bool,
    warmup: Duration,
    measure: Duration,
    /// Stop after this many echoes instead of after `measure` (no warm-up): for
    /// per-request counts (`scripts/echo-syscalls.sh`), not for timing.
    count: Option<u64>,
}

/// One client connection's state.
struct Conn {
    stream: mio::net::TcpStream,
    /// Bytes of the message being written.
    written: usize,
    /// Bytes of echo received towards the oldest message in flight.
    received: usize,
    /// Send times of the messages in flight (a message counts as sent once fully
    /// written; its timer starts at its first byte).
    in_flight: VecDeque<Instant>,
    /// Start of the message being written.
    writing_since: Option<Instant>,
}

fn client(config: &ClientConfig) -> io::Result<()> {
    let depth = if config.pipelined {
        (256 * 1024 / config.size).clamp(1, 64)
    } else {
        1
    };
    let mut poll = mio::Poll::new()?;
    let mut conns = Vec::with_capacity(config.conns);
    for i in 0..config.conns {
        let std = std::net::TcpStream::connect(config.addr)?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(std);
        poll.registry().register(
            &mut stream,
            mio::Token(i),
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            written: 0,
            received: 0,
            in_flight: VecDeque::new(),
            writing_since: None,
        });
    }
    // The bytes one `write` may send: one message, or with `--batch` up to `depth`.
    let per_write = if config.batch { depth } else { 1 };
    let msg = vec![0x5a; config.size * per_write];
    let mut buf = vec![0; 64 * 1024];
    let mut events = mio::Events::with_capacity(1024);
    let start = Instant::now();
    let (measure_from, end) = match config.count {
        // Count mode: everything counts, and the loop ends on the count.
        Some(_) => (start, start + Duration::from_secs(24 * 3600)),
        None => (
            start + config.warmup,
            start + config.warmup + config.measure,
        ),
    };
    let mut latencies: Vec<u32> = Vec::new(); // nanoseconds, saturating
    let mut done = 0u64;
    let mut errors = 0u64;
    // Connections to pump: woken by an event, or stopped by their round budget (a
    // fast server can keep one connection busy forever; it must not starve the rest).
    let mut pending: VecDeque<usize> = (0..conns.len()).collect();
    let mut queued = vec![true; conns.len()];
    loop {
        let now = Instant::now();
        if now >= end || config.count.is_some_and(|n| done >= n) {
            break;
        }
        let timeout = if pending.is_empty() {
            end - now
        } else {
            Duration::ZERO
        };
        poll.poll(&mut events, Some(timeout))?;
        for event in events.iter() {
            let i = event.token().0;
            if !std::mem::replace(&mut queued[i], true) {
                pending.push_back(i);
            }
        }
        for _ in 0..pending.len() {
            let i = pending.pop_front().unwrap();
            let mut record = |sent: Instant| {
                let now = Instant::now();
                if now >= measure_from && now < end {
                    done += 1;
                    let ns = now.duration_since(sent).as_nanos();
                    latencies.push(u32::try_from(ns).unwrap_or(u32::MAX));
                }
            };
            match pump(
                &mut conns[i],
                &msg,
                config.size,
                depth,
                &mut buf,
                &mut record,
            ) {
                Ok(true) => pending.push_back(i),
                Ok(false) => queued[i] = false,
                Err(_) => {
                    errors += 1;
                    queued[i] = false;
                }
            }
        }
    }
    let measured = match config.count {
        Some(_) => start.elapsed(),
        None => config.measure,
    };
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        latencies[i] as f64 / 1000.0
    };
    println!(
        "{{\"conns\":{},\"size\":{},\"mode\":\"{}\",\"requests\":{},\"rps\":{:.0},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"errors\":{}}}",
        config.conns,
        config.size,
        if config.pipelined { "pipe" } else { "rr" },
        done,
        done as f64 / measured.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(0.999),
        errors
    );
    Ok(())
}

/// Rounds of read-then-write one `pump` call may make before yielding to the others.
const PUMP_ROUNDS: usize = 8;

/// Reads what has arrived and writes while fewer than `depth` messages are in flight,
/// until both would block (mio is edge-triggered: the next event comes only after a
/// `WouldBlock`), or `PUMP_ROUNDS` rounds made progress: then it returns true and the
/// caller pumps it again after the others. `msgs` holds one or more messages of `size`
/// bytes: one `write` sends as many whole messages as the window allows and `msgs`
/// holds (`conn.written` bytes of the first already went).
fn pump(
    conn: &mut Conn,
    msgs: &[u8],
    size: usize,
    depth: usize,
    buf: &mut [u8],
    record: &mut dyn FnMut(Instant),
) -> io::Result<bool> {
    for _ in 0..PUMP_ROUNDS {
        let mut progressed = false;
        // Read echoes.
        match conn.stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                progressed = true;
                conn.received += n;
                while conn.received >= size && !conn.in_flight.is_empty() {
                    conn.received -= size;
                    record(conn.in_flight.pop_front().unwrap());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        // Write new messages.
        while conn.in_flight.len() < depth {
            let since = *conn.writing_since.get_or_insert_with(Instant::now);
            let whole = (depth - conn.in_flight.len()).min(msgs.len() / size);
            match conn.stream.write(&msgs[conn.written..whole * size]) {
                Ok(n) => {
                    progressed = true;
                    let sent = conn.written + n;
                    for _ in 0..sent / size {
                        conn.in_flight.push_back(since);
                    }
                    // A message cut short starts its clock now (the batch's did).
                    conn.written = sent % size;
                    conn.writing_since = (conn.written > 0).then_some(since);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            return Ok(false);
        }
    }
    Ok(true)
}
