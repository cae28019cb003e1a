//! The cost of spawning one trivial task and awaiting it, from inside a task on a
//! single worker, on heist, tokio and async-executor, against the floor: the same
//! future boxed (opaque to the optimiser), polled to completion with a no-op waker and
//! dropped, on one thread with no scheduler at all.
//!
//! All four are functions of one criterion group, `spawn_await`, so the report shows
//! them side by side; `scripts/bench-compare.sh` prints each runtime's ratio to the
//! floor.
//!
//! ```text
//! cargo bench --bench spawn
//! HEIST_BENCH_QUICK=1 cargo bench --bench spawn
//! ```

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::{AsyncExecutor, Heist, Rt, Tokio};
use criterion::{criterion_group, criterion_main, Criterion};
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The trivial task: returns a value the optimiser cannot see through.
async fn trivial() -> u64 {
    black_box(1u64)
}

/// The floor: box the future (behind `black_box`, so the allocation and the dynamic
/// poll stay), poll it to completion with a no-op waker, drop it.
fn floor_once(cx: &mut Context<'_>) -> u64 {
    let mut f: Pin<Box<dyn Future<Output = u64> + Send>> = black_box(Box::pin(trivial()));
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return v;
        }
    }
}

/// `iters` spawn + await pairs, timed inside a task on the runtime's only worker.
fn spawn_await<R: Rt>(rt: &R, iters: u64) -> Duration {
    let sp = rt.spawner();
    let inner = sp.clone();
    let outer = R::spawn(&sp, async move {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(R::spawn(&inner, trivial()).await);
        }
        start.elapsed()
    });
    rt.block_on(outer)
}

fn one_runtime<R: Rt>(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let rt = R::build(1);
    g.bench_function(R::NAME, |b| b.iter_custom(|iters| spawn_await(&rt, iters)));
}

fn spawn(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_await");
    g.bench_function("floor", |b| {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        b.iter(|| floor_once(&mut cx))
    });
    one_runtime::<Heist>(&mut g);
    one_runtime::<Tokio>(&mut g);
    one_runtime::<AsyncExecutor>(&mut g);
    g.finish();
}

/// `HEIST_BENCH_QUICK=1` for a smoke run; command-line options override.
fn config() -> Criterion {
    let c = Criterion::default();
    if std::env::var_os("HEIST_BENCH_QUICK").is_some() {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(20)
    } else {
        c
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = spawn
}
criterion_main!(benches);
