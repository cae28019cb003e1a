//! Wake-up latency percentiles, heist against tokio and async-executor (a custom
//! harness: criterion reports means and medians, not tails).
//!
//! Scenarios, each sampled many times with the runtime left idle in between (a pause
//! long enough for every worker to park):
//!
//! - `idle_to_running`: the bench thread spawns a task into the idle runtime; latency is
//!   from just before the spawn call to the task's first poll (the task stores
//!   `Instant::now()` as the first thing it does).
//! - `remote_wake`: a task waits on a oneshot in the idle runtime; the bench thread
//!   sends; latency is from just before the send to the task's next poll.
//! - `cross_worker_wake`: a task B waits on a oneshot; a task A, spawned later, sends
//!   to it from a worker and then keeps that worker busy (spinning until B runs, at
//!   most `BUSY_CAP`). B must be picked up by another worker, so this is the latency of
//!   a wake that crosses workers while the waker's worker is busy. A runtime whose
//!   woken task sits in the waker's private next-task slot shows `BUSY_CAP` here.
//!
//! Output: a table of p50 / p90 / p99 / max per scenario and runtime on stdout, and the
//! same as JSON in `target/heist-bench/wake.json` for `scripts/bench-compare.sh`.
//!
//! ```text
//! cargo bench --bench wake
//! HEIST_WAKE_SAMPLES=500 cargo bench --bench wake     # fewer samples
//! HEIST_BENCH_QUICK=1 cargo bench --bench wake        # 300 samples
//! ```
//! Worker count: `HEIST_BENCH_WORKERS` (default: cores, at least 2 so a cross-worker
//! wake exists).

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::{workers, AsyncExecutor, Heist, Rt, Tokio};
use futures::channel::oneshot;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Pause between samples, so that every worker has parked before the next one.
const IDLE_GAP: Duration = Duration::from_millis(1);
/// Samples thrown away before measuring (thread start-up, first allocations).
const WARM_UP: usize = 50;
/// How long task A in `cross_worker_wake` keeps its worker busy at most.
const BUSY_CAP: Duration = Duration::from_micros(500);

fn samples() -> usize {
    if let Ok(v) = std::env::var("HEIST_WAKE_SAMPLES") {
        return v
            .trim()
            .parse()
            .expect("HEIST_WAKE_SAMPLES must be a positive integer");
    }
    if std::env::var_os("HEIST_BENCH_QUICK").is_some() {
        300
    } else {
        2_000
    }
}

/// One sample of `idle_to_running`.
fn idle_to_running<R: Rt>(rt: &R, sp: &R::Spawner) -> Duration {
    let start = Instant::now();
    let h = R::spawn(sp, async { Instant::now() });
    rt.block_on(h) - start
}

/// One sample of `remote_wake`.
fn remote_wake<R: Rt>(rt: &R, sp: &R::Spawner) -> Duration {
    let (tx, rx) = oneshot::channel::<()>();
    let waiting = Arc::new(AtomicBool::new(false));
    let w = waiting.clone();
    let h = R::spawn(sp, async move {
        w.store(true, Ordering::Release);
        rx.await.unwrap();
        Instant::now()
    });
    wait_until(&waiting);
    // Let the task return `Pending` and its worker park.
    thread::sleep(IDLE_GAP);
    let start = Instant::now();
    tx.send(()).unwrap();
    rt.block_on(h) - start
}

/// One sample of `cross_worker_wake`.
fn cross_worker_wake<R: Rt>(rt: &R, sp: &R::Spawner) -> Duration {
    let (tx, rx) = oneshot::channel::<()>();
    let waiting = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(false));
    let (w, r) = (waiting.clone(), running.clone());
    let b = R::spawn(sp, async move {
        w.store(true, Ordering::Release);
        rx.await.unwrap();
        let at = Instant::now();
        r.store(true, Ordering::Release);
        at
    });
    wait_until(&waiting);
    thread::sleep(IDLE_GAP);
    let a = R::spawn(sp, async move {
        let start = Instant::now();
        tx.send(()).unwrap();
        while !running.load(Ordering::Acquire) && start.elapsed() < BUSY_CAP {
            std::hint::spin_loop();
        }
        start
    });
    rt.block_on(async move {
        let start = a.await;
        b.await - start
    })
}

fn wait_until(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        thread::yield_now();
    }
}

/// Percentiles of one scenario on one runtime, in microseconds.
struct Summary {
    scenario: &'static str,
    runtime: &'static str,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

type Sample<R> = fn(&R, &<R as Rt>::Spawner) -> Duration;

fn measure<R: Rt>(scenario: &'static str, sample: Sample<R>, n: usize) -> Summary {
    let rt = R::build(workers().max(2));
    let sp = rt.spawner();
    let mut times = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        thread::sleep(IDLE_GAP);
        let t = sample(&rt, &sp);
        if i >= WARM_UP {
            times.push(t);
        }
    }
    times.sort();
    Summary {
        scenario,
        runtime: R::NAME,
        p50: percentile(&times, 0.50),
        p90: percentile(&times, 0.90),
        p99: percentile(&times, 0.99),
        max: percentile(&times, 1.0),
    }
}

fn scenario<R: Rt>(out: &mut Vec<Summary>, n: usize, filter: &Option<String>) {
    let all: [(&'static str, Sample<R>); 3] = [
        ("idle_to_running", idle_to_running::<R>),
        ("remote_wake", remote_wake::<R>),
        ("cross_worker_wake", cross_worker_wake::<R>),
    ];
    for (name, sample) in all {
        let id = format!("{name}/{}", R::NAME);
        if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
            continue;
        }
        let s = measure::<R>(name, sample, n);
        println!(
            "{:<36} p50 {:>8.1} us  p90 {:>8.1} us  p99 {:>8.1} us  max {:>9.1} us",
            id, s.p50, s.p90, s.p99, s.max
        );
        out.push(s);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other free argument is a filter.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let n = samples();
    println!(
        "wake latency: {} workers, {n} samples per scenario, {IDLE_GAP:?} idle gap",
        workers().max(2)
    );
    let mut out = Vec::new();
    scenario::<Heist>(&mut out, n, &filter);
    scenario::<Tokio>(&mut out, n, &filter);
    scenario::<AsyncExecutor>(&mut out, n, &filter);
    write_json(&out);
}

/// Writes the summaries for `scripts/bench-compare.sh` (hand-rolled: no serde here).
fn write_json(out: &[Summary]) {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("heist-bench");
    let mut json = String::from("[\n");
    for (i, s) in out.iter().enumerate() {
        let sep = if i + 1 < out.len() { "," } else { "" };
        let _ = writeln!(
            json,
            "  {{\"scenario\": \"{}\", \"runtime\": \"{}\", \"p50_us\": {:.2}, \"p90_us\": {:.2}, \
             \"p99_us\": {:.2}, \"max_us\": {:.2}}}{sep}",
            s.scenario, s.runtime, s.p50, s.p90, s.p99, s.max
        );
    }
    json.push_str("]\n");
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("wake.json"), json))
        .is_err()
    {
        eprintln!("could not write {}", dir.display());
    }
}
