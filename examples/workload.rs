//! Runs one scheduler workload of `benches/scheduler.rs` a given number of times on one
//! runtime, with no harness around it: for counting what it costs with `perf stat`,
//! `strace -c -f` or `valgrind --tool=callgrind` (`docs/benchmarks.md`, "Worker counts,
//! foreign wakes and one worker"). Subtract a run with 0 iterations to remove the cost
//! of starting and stopping the runtime.
//!
//! ```text
//! cargo run --release --example workload -- <runtime> <workload> <iterations>
//!     runtime:  heist | tokio | async-executor | futures-pool
//!     workload: foreign_wake_storm | token_ring | yield_many | spawn_many_remote_idle
//! HEIST_BENCH_WORKERS=1 cargo run --release --example workload -- heist yield_many 5
//! ```
//!
//! `HEIST_WORKLOAD_SIZE=a,b` overrides the sizes: receivers and messages, ring length
//! and laps, tasks and yields, or spawns.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::workloads as body;
use common::{workers, AsyncExecutor, FuturesPool, Heist, Rt, Tokio};
use std::time::Instant;

/// The `i`th number of `HEIST_WORKLOAD_SIZE`, or `default`.
fn size(i: usize, default: usize) -> usize {
    std::env::var("HEIST_WORKLOAD_SIZE")
        .ok()
        .and_then(|v| {
            v.split(',')
                .nth(i)
                .map(|n| n.trim().parse().expect("a number"))
        })
        .unwrap_or(default)
}

fn run<R: Rt>(workload: &str, iterations: usize) {
    let rt = R::build(workers());
    let sp = rt.spawner();
    let start = Instant::now();
    for _ in 0..iterations {
        match workload {
            "foreign_wake_storm" => body::foreign_wake_storm::<R>(
                &sp,
                size(0, body::NUM_RECEIVERS),
                size(1, body::NUM_MESSAGES),
            ),
            "token_ring" => {
                body::token_ring::<R>(&sp, size(0, body::RING_LEN), size(1, body::RING_LAPS))
            }
            "yield_many" => body::yield_many::<R>(
                &sp,
                size(0, body::NUM_YIELD_TASKS),
                size(1, body::NUM_YIELDS),
            ),
            "spawn_many_remote_idle" => body::spawn_remote_and_await(&rt, &sp, size(0, 10_000)),
            other => panic!("unknown workload {other}"),
        }
    }
    eprintln!(
        "{} {workload}, {} workers, {iterations} iterations: {:?} per iteration",
        R::NAME,
        workers(),
        start.elapsed() / iterations.max(1) as u32
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, runtime, workload, iterations] = &args[..] else {
        panic!("usage: workload <runtime> <workload> <iterations>");
    };
    let iterations = iterations.parse().expect("iterations: a number");
    match runtime.as_str() {
        "heist" => run::<Heist>(workload, iterations),
        "tokio" => run::<Tokio>(workload, iterations),
        "async-executor" => run::<AsyncExecutor>(workload, iterations),
        "futures-pool" => run::<FuturesPool>(workload, iterations),
        other => panic!("unknown runtime {other}"),
    }
}
