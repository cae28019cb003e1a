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
//!               | yield_switches (yield_many's shape, counting task switches per yield)
//! HEIST_BENCH_WORKERS=1 cargo run --release --example workload -- heist yield_many 5
//! ```
//!
//! `HEIST_WORKLOAD_SIZE=a,b` overrides the sizes: receivers and messages, ring length
//! and laps, tasks and yields, spawns, or rounds. `HEIST_WORKLOAD_CHUNK=k` (with
//! `HEIST_WORKLOAD_METRICS=1`) also prints, every `k` iterations, the chunk's time per
//! iteration and heist's counters per worker over the chunk (whether a run's mode holds
//! for the whole process).

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

fn run<R: Rt>(workload: &str, iterations: usize, report: impl Fn(&R::Spawner, Option<usize>)) {
    let rt = R::build(workers());
    let sp = rt.spawner();
    let chunk = std::env::var("HEIST_WORKLOAD_CHUNK")
        .ok()
        .map(|v| v.trim().parse::<usize>().expect("a number").max(1));
    let start = Instant::now();
    let mut chunk_start = Instant::now();
    if chunk.is_some() {
        report(&sp, Some(0));
    }
    for it in 0..iterations {
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
            "ping_pong" => body::ping_pong::<R>(&sp, size(0, 1_000)),
            "yield_switches" => yield_switches::<R>(&sp, size(0, 200), size(1, 1_000)),
            other => panic!("unknown workload {other}"),
        }
        if let Some(k) = chunk {
            if (it + 1) % k == 0 {
                eprint!(
                    "chunk {:>5}: {:>9.1?} per iteration; ",
                    it + 1,
                    chunk_start.elapsed() / k as u32
                );
                report(&sp, Some(k));
                chunk_start = Instant::now();
            }
        }
    }
    eprintln!(
        "{} {workload}, {} workers, {iterations} iterations: {:?} per iteration",
        R::NAME,
        workers(),
        start.elapsed() / iterations.max(1) as u32
    );
    report(&sp, None);
}

/// `yield_many`'s shape (`tasks` tasks, `yields` yields each, the runtime's own
/// `yield_now`), counting how often the task that resumes after a yield is another task
/// than the one that yielded: a yield that lets the other tasks run switches every time
/// with one worker; a pool that re-polls a self-woken task in place almost never does.
fn yield_switches<R: Rt>(sp: &R::Spawner, tasks: usize, yields: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let last = Arc::new(AtomicUsize::new(usize::MAX));
    let switches = Arc::new(AtomicUsize::new(0));
    let (count, rx) = common::workloads::Countdown::new(tasks);
    for id in 0..tasks {
        let (last, switches, count) = (last.clone(), switches.clone(), count.clone());
        R::spawn_detached(sp, async move {
            for _ in 0..yields {
                R::yield_now().await;
                if last.swap(id, Relaxed) != id {
                    switches.fetch_add(1, Relaxed);
                }
            }
            count.tick();
        });
    }
    rx.recv().unwrap();
    let switches = switches.load(Relaxed);
    eprintln!(
        "{}: {switches} switches in {} resumes after a yield ({:.3} per yield)",
        R::NAME,
        tasks * yields,
        switches as f64 / (tasks * yields) as f64
    );
}

/// With `HEIST_WORKLOAD_METRICS=1`, heist's scheduler counters after the run, per worker
/// (exact, unlike times: `docs/benchmarks.md`, issue 13). `chunk: Some(k)`: one line,
/// each worker's counters since the last chunk divided by `k` iterations (`Some(0)`
/// only records the starting point).
fn heist_counters(handle: &heist::Handle, chunk: Option<usize>) {
    if std::env::var_os("HEIST_WORKLOAD_METRICS").is_none() {
        return;
    }
    let m = handle.metrics();
    if let Some(k) = chunk {
        use std::sync::Mutex;
        static LAST: Mutex<Vec<[u64; 4]>> = Mutex::new(Vec::new());
        let now: Vec<[u64; 4]> = (0..m.num_workers())
            .map(|w| {
                [
                    m.worker_poll_count(w),
                    m.worker_park_count(w),
                    m.worker_steal_count(w),
                    m.worker_local_schedule_count(w),
                ]
            })
            .collect();
        let mut last = LAST.lock().unwrap();
        if k > 0 {
            let per = |n: u64, l: u64| (n - l) as f64 / k as f64;
            let line: Vec<String> = now
                .iter()
                .zip(last.iter())
                .enumerate()
                .map(|(w, (n, l))| {
                    format!(
                        "w{w} polls {:.0} parks {:.1} steals {:.1} local {:.0}",
                        per(n[0], l[0]),
                        per(n[1], l[1]),
                        per(n[2], l[2]),
                        per(n[3], l[3])
                    )
                })
                .collect();
            eprintln!("{}", line.join(" | "));
        }
        *last = now;
        return;
    }
    for w in 0..m.num_workers() {
        eprintln!(
            "worker {w}: polls {} parks {} noops {} steals {} steal_ops {} local_schedules {} overflows {}",
            m.worker_poll_count(w),
            m.worker_park_count(w),
            m.worker_noop_count(w),
            m.worker_steal_count(w),
            m.worker_steal_operations(w),
            m.worker_local_schedule_count(w),
            m.worker_overflow_count(w),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, runtime, workload, iterations] = &args[..] else {
        panic!("usage: workload <runtime> <workload> <iterations>");
    };
    let iterations = iterations.parse().expect("iterations: a number");
    match runtime.as_str() {
        "heist" => run::<Heist>(workload, iterations, heist_counters),
        "tokio" => run::<Tokio>(workload, iterations, |_, _| {}),
        "async-executor" => run::<AsyncExecutor>(workload, iterations, |_, _| {}),
        "futures-pool" => run::<FuturesPool>(workload, iterations, |_, _| {}),
        other => panic!("unknown runtime {other}"),
    }
}
