//! How long `JoinSet::join_next` takes over N tasks that have all finished, for N from
//! 25,000 to 400,000: the cost per task stays flat (linear in total), where a set that
//! scanned its tasks would grow per task with N. The poll count behind this is asserted
//! by `src/task/join_set/tests.rs`; this prints the time (`docs/benchmarks.md`).
//!
//! Run with `cargo run --release --example join_set`.

use heist::task::JoinSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Spawns `n` tasks that finish at once, waits until all have run, then times the
/// `join_next` calls that collect them.
fn join_finished(rt: &heist::Runtime, n: usize) -> Duration {
    rt.block_on(async {
        let ran = Arc::new(Semaphore::new(0));
        let mut set = JoinSet::new();
        for i in 0..n {
            let ran = ran.clone();
            set.spawn(async move {
                ran.add_permits(1);
                i
            });
        }
        ran.acquire_many(n as u32).await.unwrap().forget();
        let start = Instant::now();
        let mut count = 0;
        while let Some(res) = set.join_next().await {
            res.unwrap();
            count += 1;
        }
        let took = start.elapsed();
        assert_eq!(count, n);
        took
    })
}

fn main() {
    let rt = heist::Runtime::builder().worker_threads(2).build().unwrap();
    join_finished(&rt, 10_000); // warm up the allocator and the workers
    println!("{:>8} {:>10} {:>10}", "tasks", "total", "per task");
    for n in [25_000, 50_000, 100_000, 200_000, 400_000] {
        // Best of three, to damp the noise of a shared machine.
        let best = (0..3).map(|_| join_finished(&rt, n)).min().unwrap();
        println!(
            "{n:>8} {:>10.2?} {:>8.0} ns",
            best,
            best.as_nanos() as f64 / n as f64
        );
    }
}
