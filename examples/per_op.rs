//! Fixed work on heist for counting instructions per operation with
//! `valgrind --tool=callgrind`: run it with `n` and with 0 and divide the difference by
//! `n` (docs/benchmarks.md, "Where the 72 -> 91 ns went"). All of it happens inside one
//! task, on one worker unless `HEIST_BENCH_WORKERS` says otherwise.
//!
//! ```text
//! cargo build --release --example per_op
//! valgrind --tool=callgrind target/release/examples/per_op <op> <n>
//!     op: spawn_await | yield | ping_pong | chained
//! ```
//!
//! - `spawn_await`: spawn a trivial task and await it, `n` times.
//! - `yield`: `yield_now`, `n` times.
//! - `ping_pong`: `n` rounds of: spawn a partner, send it a ping over a oneshot, await
//!   its pong on another (the scheduler suite's `ping_pong`, from one task).
//! - `chained`: a chain of `n` tasks, each spawning the next (the scheduler suite's
//!   `chained_spawn`); the probe task awaits the last link.

use std::hint::black_box;

async fn trivial() -> u64 {
    black_box(1u64)
}

/// One link of `chained`: spawns the next link, or tells the probe task the chain ended.
fn chain_link(handle: heist::Handle, left: u64, done: futures::channel::oneshot::Sender<()>) {
    let next = handle.clone();
    drop(handle.spawn(async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            chain_link(next, left - 1, done);
        }
    }));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, op, n] = &args[..] else {
        panic!("usage: per_op <spawn_await|yield|ping_pong|chained> <n>");
    };
    let (op, n): (String, u64) = (op.clone(), n.parse().expect("n: a number"));
    let workers = std::env::var("HEIST_BENCH_WORKERS").map_or(1, |v| v.parse().expect("a number"));
    let rt = heist::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("runtime");
    // Spawns go through a `Handle`, as in the benchmarks (`benches/common`).
    let handle = rt.handle().clone();
    let done = rt.block_on(rt.spawn(async move {
        let mut done = 0u64;
        // One loop per op: a string compare per iteration would be counted too.
        match op.as_str() {
            "spawn_await" => {
                for _ in 0..n {
                    done += handle.spawn(trivial()).await.expect("trivial task");
                }
            }
            "yield" => {
                for _ in 0..n {
                    heist::task::yield_now().await;
                    done += 1;
                }
            }
            "ping_pong" => {
                for _ in 0..n {
                    let (ping_tx, ping_rx) = futures::channel::oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = futures::channel::oneshot::channel::<()>();
                    drop(handle.spawn(async move {
                        ping_rx.await.expect("ping");
                        pong_tx.send(()).expect("pong receiver");
                    }));
                    ping_tx.send(()).expect("ping receiver");
                    pong_rx.await.expect("pong");
                    done += 1;
                }
            }
            "chained" => {
                let (tx, rx) = futures::channel::oneshot::channel();
                if n > 0 {
                    chain_link(handle.clone(), n - 1, tx);
                    rx.await.expect("the chain's end");
                    done = n;
                }
            }
            other => panic!("unknown op {other}"),
        }
        done
    }));
    assert_eq!(done.expect("probe task"), n);
}
