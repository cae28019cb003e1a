//! HTTP/1 hello-world on hyper, with heist as its runtime (feature `hyper`): heist's
//! `TcpListener`, hyper's `Read`/`Write` on heist's `TcpStream`, heist's timers for
//! hyper's timeouts. `--rt tokio` serves the same on tokio (hyper-util's `TokioIo`), the
//! peer in `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release --features hyper --example hyper_server -- --addr 127.0.0.1:3000
//! curl http://127.0.0.1:3000/
//! ```

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let addr: SocketAddr = get("--addr", "127.0.0.1:3000").parse().unwrap();
    let workers: usize = get("--workers", "2").parse().unwrap();
    match get("--rt", "heist").as_str() {
        "heist" => heist_main(addr, workers),
        "tokio" => tokio_main(addr, workers),
        other => panic!("unknown --rt {other} (heist, tokio)"),
    }
}

fn heist_main(addr: SocketAddr, workers: usize) {
    let rt = heist::Runtime::builder()
        .worker_threads(workers)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = heist::net::TcpListener::bind(addr).await.unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            heist::spawn(async move {
                let service = hyper::service::service_fn(hello);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .timer(heist::io::hyper::Timer)
                    .serve_connection(stream, service)
                    .await
                {
                    eprintln!("connection error: {e}");
                }
            });
        }
    });
}

fn tokio_main(addr: SocketAddr, workers: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(hello);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("connection error: {e}");
                }
            });
        }
    });
}
