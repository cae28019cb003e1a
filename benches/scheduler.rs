//! Scheduler workloads, each run on heist, tokio's multi-thread runtime, async-executor
//! and the futures crate's `ThreadPool` with the same worker count
//! (`HEIST_BENCH_WORKERS`, default: cores).
//!
//! The first seven follow the descriptions of tokio's `benches/rt_multi_threaded.rs`
//! (see `docs/benchmarks.md`); `foreign_wake_storm` and `token_ring` are heist's own.
//! All are written here once, generic over the runtime. One criterion group per
//! workload, the runtimes as its functions, so the report puts them side by side. Each runtime is built once per
//! group (before its measurements), never per iteration, and dropped before the next
//! runtime is built, so only one runtime's threads exist at a time.
//!
//! ```text
//! cargo bench --bench scheduler                         # full run
//! HEIST_BENCH_QUICK=1 cargo bench --bench scheduler     # smoke run (1 s warm-up, 3 s)
//! cargo bench --bench scheduler -- yield_many/heist     # one workload, one runtime
//! HEIST_BENCH_WORKERS=1 cargo bench --bench scheduler   # every runtime with 1 worker
//! ```

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::workloads::{self as body, spawn_remote_and_await, Countdown};
use common::{spin, workers, AsyncExecutor, FuturesPool, Heist, Rt, Tokio};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use futures::channel::oneshot;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Tasks per iteration of the `spawn_many_*` workloads.
const NUM_SPAWN: usize = 10_000;
/// Remote spawns per iteration of `spawn_many_remote_busy2`.
const NUM_SPAWN_BUSY2: usize = 1_000;
/// Rounds of `ping_pong`.
const NUM_PINGS: usize = 1_000;
/// Length of the `chained_spawn` chain.
const CHAIN_LEN: usize = 1_000;
/// Busy work of the background tasks in `busy1` and the chains in `busy2`.
const SPIN: Duration = Duration::from_micros(10);

/// `spawn_many_local`: one task spawned from outside spawns `NUM_SPAWN` tasks from
/// inside a worker; each decrements the counter, the last signals a std channel.
fn spawn_many_local<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || {
        let (count, rx) = Countdown::new(NUM_SPAWN);
        let inner = sp.clone();
        R::spawn_detached(&sp, async move {
            for _ in 0..NUM_SPAWN {
                let count = count.clone();
                R::spawn_detached(&inner, async move { count.tick() });
            }
        });
        rx.recv().unwrap();
    });
}

/// `spawn_many_remote_idle`: `NUM_SPAWN` spawns from outside, then await all.
fn spawn_many_remote_idle<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || spawn_remote_and_await(rt, &sp, NUM_SPAWN));
}

/// `spawn_many_remote_busy1`: as `remote_idle`, while `2 * workers` background tasks
/// loop { yield; spin 10 us } for the whole measurement.
fn spawn_many_remote_busy1<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    let stop = Arc::new(AtomicBool::new(false));
    let background: Vec<_> = (0..2 * workers())
        .map(|_| {
            let stop = stop.clone();
            R::spawn(&sp, async move {
                while !stop.load(Ordering::Relaxed) {
                    R::yield_now().await;
                    spin(SPIN);
                }
            })
        })
        .collect();
    measure::<R>(g, || spawn_remote_and_await(rt, &sp, NUM_SPAWN));
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async move {
        for h in background {
            h.await;
        }
    });
}

/// One link of a `busy2` chain: spin 10 us, then spawn the successor (from inside the
/// worker) until told to stop.
fn busy_chain<R: Rt>(sp: R::Spawner, stop: Arc<AtomicBool>, ended: mpsc::Sender<()>) {
    let next = sp.clone();
    R::spawn_detached(&sp, async move {
        spin(SPIN);
        if stop.load(Ordering::Relaxed) {
            ended.send(()).expect("bench thread waits");
        } else {
            busy_chain::<R>(next, stop, ended);
        }
    });
}

/// `spawn_many_remote_busy2`: `NUM_SPAWN_BUSY2` remote spawns (then await all) while
/// `workers` chains each spin 10 us then spawn their successor.
fn spawn_many_remote_busy2<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    let stop = Arc::new(AtomicBool::new(false));
    let (ended_tx, ended) = mpsc::channel();
    let chains = workers();
    for _ in 0..chains {
        busy_chain::<R>(sp.clone(), stop.clone(), ended_tx.clone());
    }
    measure::<R>(g, || spawn_remote_and_await(rt, &sp, NUM_SPAWN_BUSY2));
    stop.store(true, Ordering::Relaxed);
    for _ in 0..chains {
        ended.recv().unwrap();
    }
}

/// `yield_many`: `NUM_YIELD_TASKS` tasks spawned from outside, each yielding
/// `NUM_YIELDS` times with the runtime's own `yield_now` (`common/workloads.rs`).
fn yield_many<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || {
        body::yield_many::<R>(&sp, body::NUM_YIELD_TASKS, body::NUM_YIELDS)
    });
}

/// `ping_pong`: `workloads::ping_pong` with `NUM_PINGS` rounds.
fn ping_pong<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || body::ping_pong::<R>(&sp, NUM_PINGS));
}

/// One link of `chained_spawn`: spawn the next link from inside the worker, or finish.
fn chain_link<R: Rt>(sp: R::Spawner, left: usize, done: oneshot::Sender<()>) {
    let next = sp.clone();
    R::spawn_detached(&sp, async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            chain_link::<R>(next, left - 1, done);
        }
    });
}

/// `chained_spawn`: a chain of `CHAIN_LEN` tasks, each spawning the next.
fn chained_spawn<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || {
        let (tx, rx) = oneshot::channel();
        let first = sp.clone();
        rt.block_on(async move {
            // The first link is spawned from a task, like every later one.
            let outer = first.clone();
            R::spawn_detached(
                &first,
                async move { chain_link::<R>(outer, CHAIN_LEN - 1, tx) },
            );
            rx.await.unwrap();
        });
    });
}

/// `foreign_wake_storm` (`common/workloads.rs`): `NUM_RECEIVERS` tasks loop on an
/// unbounded channel while the bench thread sends `NUM_MESSAGES` to each in turn.
fn foreign_wake_storm<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || {
        body::foreign_wake_storm::<R>(&sp, body::NUM_RECEIVERS, body::NUM_MESSAGES)
    });
}

/// `token_ring` (`common/workloads.rs`): `RING_LEN` tasks pass a token `RING_LAPS` laps
/// through oneshot channels.
fn token_ring<R: Rt>(rt: &R, g: &mut Group) {
    let sp = rt.spawner();
    measure::<R>(g, || {
        body::token_ring::<R>(&sp, body::RING_LEN, body::RING_LAPS)
    });
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Times `iteration` as the group's function for runtime `R`.
fn measure<R: Rt>(g: &mut Group, mut iteration: impl FnMut()) {
    g.bench_function(R::NAME, |b| b.iter(&mut iteration));
}

/// A workload as monomorphised functions, one per runtime. Each sets up what it needs
/// around the runtime (background load), measures, then tears it down. `futures_pool`
/// is `None` where the pool cannot run the workload (see `common::FuturesPool`).
struct Workload {
    heist: fn(&Heist, &mut Group),
    tokio: fn(&Tokio, &mut Group),
    async_executor: fn(&AsyncExecutor, &mut Group),
    futures_pool: Option<fn(&FuturesPool, &mut Group)>,
}

macro_rules! workload {
    ($f:ident) => {
        Workload {
            heist: $f::<Heist>,
            tokio: $f::<Tokio>,
            async_executor: $f::<AsyncExecutor>,
            futures_pool: Some($f::<FuturesPool>),
        }
    };
    ($f:ident, without_futures_pool) => {
        Workload {
            heist: $f::<Heist>,
            tokio: $f::<Tokio>,
            async_executor: $f::<AsyncExecutor>,
            futures_pool: None,
        }
    };
}

/// One workload: a criterion group with one function per runtime. Each runtime is
/// built once here and dropped before the next is built; each measurement is
/// bracketed by the placement probe ([`placed`]).
fn compare(c: &mut Criterion, name: &str, w: Workload) {
    let mut g = c.benchmark_group(name);
    let n = workers();
    placed(name, "heist", || (w.heist)(&Heist::build(n), &mut g));
    placed(name, "tokio", || (w.tokio)(&Tokio::build(n), &mut g));
    placed(name, "async-executor", || {
        (w.async_executor)(&AsyncExecutor::build(n), &mut g)
    });
    if let Some(f) = w.futures_pool {
        placed(name, "futures-pool", || f(&FuturesPool::build(n), &mut g));
    }
    g.finish();
}

/// Runs one runtime's measurement between two placement probes
/// (`common/placement.rs`: on a 2-vCPU VM the host moves the vCPUs between a near and
/// a far placement, and a measurement taken in the far one is up to 2.5 x slower on
/// cross-worker workloads) and appends both to `target/heist-bench/placement.jsonl`
/// for `scripts/bench-compare.sh`. A runtime that criterion's filter skipped (under
/// half a second, since a measurement is at least its warm-up) is not recorded.
fn placed(group: &str, runtime: &str, measure: impl FnOnce()) {
    use std::io::Write;
    let before = common::placement::probe();
    let start = std::time::Instant::now();
    measure();
    if start.elapsed() < Duration::from_millis(500) {
        return;
    }
    let after = common::placement::probe();
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("heist-bench");
    let ns = |p: Option<f64>| p.map_or("null".to_string(), |ns| format!("{ns:.0}"));
    let line = format!(
        "{{\"workers\": {}, \"group\": \"{group}\", \"runtime\": \"{runtime}\", \
         \"before_ns\": {}, \"after_ns\": {}}}",
        workers(),
        ns(before),
        ns(after)
    );
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("placement.jsonl"))?
            .write_all(format!("{line}\n").as_bytes())
    });
    if let Err(e) = written {
        eprintln!("placement record not written: {e}");
    }
    eprintln!(
        "placement {group}/{runtime}: {} before, {} after",
        common::placement::label(before),
        common::placement::label(after)
    );
}

fn scheduler(c: &mut Criterion) {
    eprintln!("scheduler benches: {} workers per runtime", workers());
    compare(c, "spawn_many_local", workload!(spawn_many_local));
    compare(
        c,
        "spawn_many_remote_idle",
        workload!(spawn_many_remote_idle),
    );
    // The futures pool re-polls a self-waking task in place: the background tasks
    // would keep every pool thread forever.
    compare(
        c,
        "spawn_many_remote_busy1",
        workload!(spawn_many_remote_busy1, without_futures_pool),
    );
    compare(
        c,
        "spawn_many_remote_busy2",
        workload!(spawn_many_remote_busy2),
    );
    compare(c, "yield_many", workload!(yield_many));
    compare(c, "ping_pong", workload!(ping_pong));
    compare(c, "chained_spawn", workload!(chained_spawn));
    compare(c, "foreign_wake_storm", workload!(foreign_wake_storm));
    compare(c, "token_ring", workload!(token_ring));
}

/// Criterion settings: `HEIST_BENCH_QUICK=1` for a smoke run; command-line options
/// (`--warm-up-time`, `--measurement-time`, `--sample-size`) override both.
fn config() -> Criterion {
    let c = Criterion::default();
    if std::env::var_os("HEIST_BENCH_QUICK").is_some() {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(10)
    } else {
        c.sample_size(30)
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = scheduler
}
criterion_main!(benches);
