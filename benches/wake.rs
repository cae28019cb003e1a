//! Wake-up latency percentiles, heist against tokio and async-executor (a custom
//! harness: criterion reports means and medians, not tails).
//!
//! Scenarios, each sampled many times with the runtime left idle in between (a pause
//! long enough for every worker to park). The three runtimes of a scenario are sampled
//! in turn, one sample each, so that noise on a shared machine spreads over all three:
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

/// Samples per scenario and runtime. Without `--bench` (`cargo test --benches`), a
/// smoke run of 20 samples that records nothing.
fn samples(bench: bool) -> usize {
    if !bench {
        return 20;
    }
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

/// One runtime, built, with one scenario's sampling function bound to it.
struct Sampler {
    runtime: &'static str,
    take: Box<dyn FnMut() -> Duration>,
    times: Vec<Duration>,
}

fn sampler<R: Rt>(sample: Sample<R>, n: usize) -> Sampler {
    let rt = R::build(workers().max(2));
    let sp = rt.spawner();
    Sampler {
        runtime: R::NAME,
        take: Box::new(move || sample(&rt, &sp)),
        times: Vec::with_capacity(n),
    }
}

/// Samples one scenario on all three runtimes, interleaved (heist, tokio,
/// async-executor, heist, ...) so that a burst of machine noise hits all of them alike.
/// The three runtimes are built up front; the idle ones sleep.
fn measure(scenario: &'static str, mut samplers: Vec<Sampler>, n: usize) -> Vec<Summary> {
    for i in 0..WARM_UP + n {
        for s in &mut samplers {
            thread::sleep(IDLE_GAP);
            let t = (s.take)();
            if i >= WARM_UP {
                s.times.push(t);
            }
        }
    }
    samplers
        .into_iter()
        .map(|mut s| {
            s.times.sort();
            Summary {
                scenario,
                runtime: s.runtime,
                p50: percentile(&s.times, 0.50),
                p90: percentile(&s.times, 0.90),
                p99: percentile(&s.times, 0.99),
                max: percentile(&s.times, 1.0),
            }
        })
        .collect()
}

macro_rules! samplers {
    ($f:ident, $n:expr, $keep:expr) => {{
        let mut v = Vec::new();
        if $keep(Heist::NAME) {
            v.push(sampler::<Heist>($f::<Heist>, $n));
        }
        if $keep(Tokio::NAME) {
            v.push(sampler::<Tokio>($f::<Tokio>, $n));
        }
        if $keep(AsyncExecutor::NAME) {
            v.push(sampler::<AsyncExecutor>($f::<AsyncExecutor>, $n));
        }
        v
    }};
}

fn main() {
    // `cargo bench` passes `--bench`; any other free argument is a filter on
    // `scenario/runtime`.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let bench = std::env::args().any(|a| a == "--bench");
    let n = samples(bench);
    println!(
        "wake latency: {} workers, {n} samples per scenario and runtime, {IDLE_GAP:?} idle gap, \
         runtimes interleaved",
        workers().max(2)
    );
    let mut out = Vec::new();
    for scenario in ["idle_to_running", "remote_wake", "cross_worker_wake"] {
        let keep = |rt: &str| {
            let id = format!("{scenario}/{rt}");
            filter.as_ref().map_or(true, |f| id.contains(f.as_str()))
        };
        let samplers = match scenario {
            "idle_to_running" => samplers!(idle_to_running, n, keep),
            "remote_wake" => samplers!(remote_wake, n, keep),
            _ => samplers!(cross_worker_wake, n, keep),
        };
        if samplers.is_empty() {
            continue;
        }
        for s in measure(scenario, samplers, n) {
            println!(
                "{:<36} p50 {:>8.1} us  p90 {:>8.1} us  p99 {:>8.1} us  max {:>9.1} us",
                format!("{}/{}", s.scenario, s.runtime),
                s.p50,
                s.p90,
                s.p99,
                s.max
            );
            out.push(s);
        }
    }
    if bench {
        write_json(&out);
    }
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
