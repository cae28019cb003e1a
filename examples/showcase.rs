//! heist doing its main job: four workloads on a multi-threaded runtime, each timed and
//! printed as tasks (or messages) per second.
//!
//! ```text
//! cargo run --release --example showcase
//! HEIST_WORKERS=4 cargo run --release --example showcase
//! ```

use futures::channel::oneshot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let workers = std::env::var("HEIST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = heist::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("start runtime");
    println!("heist showcase: {workers} worker threads\n");
    println!(
        "{:<34} {:>12} {:>10} {:>16}",
        "workload", "units", "time", "units/s"
    );
    spawn_throughput(&rt);
    yields(&rt);
    ping_pong(&rt);
    fan_out(&rt, workers);
    own_metrics(&rt);
}

/// A few of the runtime's own metrics for the whole run (`Handle::metrics`).
fn own_metrics(rt: &heist::Runtime) {
    let m = rt.handle().metrics();
    let sum = |f: &dyn Fn(usize) -> u64| (0..m.num_workers()).map(f).sum::<u64>();
    let polls = sum(&|w| m.worker_poll_count(w));
    let busy: Duration = (0..m.num_workers())
        .map(|w| m.worker_total_busy_duration(w))
        .sum();
    let mean_poll = (0..m.num_workers())
        .map(|w| m.worker_mean_poll_time(w))
        .max()
        .unwrap_or_default();
    println!("\nthe runtime's own metrics for this run (Handle::metrics):");
    println!(
        "  {} tasks spawned, {polls} polls, {} steals in {} steal operations, {} parks ({} woke to nothing)",
        m.spawned_tasks_count(),
        sum(&|w| m.worker_steal_count(w)),
        sum(&|w| m.worker_steal_operations(w)),
        sum(&|w| m.worker_park_count(w)),
        sum(&|w| m.worker_noop_count(w)),
    );
    println!(
        "  busy {:.0?} over {} workers; mean poll time (moving average, busiest worker) {mean_poll:.1?}",
        busy,
        m.num_workers()
    );
}

fn report(name: &str, units: usize, elapsed: Duration) {
    let rate = units as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<34} {units:>12} {:>8.1}ms {rate:>16.0}",
        elapsed.as_secs_f64() * 1e3
    );
}

/// 1,000,000 trivial tasks spawned from inside a task; the last one to finish signals.
fn spawn_throughput(rt: &heist::Runtime) {
    const N: usize = 1_000_000;
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    rt.spawn(async move {
        let left = Arc::new(AtomicUsize::new(N));
        for _ in 0..N {
            let left = left.clone();
            let tx = tx.clone();
            heist::spawn(async move {
                if left.fetch_sub(1, Relaxed) == 1 {
                    tx.send(()).unwrap();
                }
            });
        }
    });
    rx.recv().unwrap();
    report("spawn (tasks, from a task)", N, start.elapsed());
}

/// 1,000 tasks x 1,000 `yield_now` each.
fn yields(rt: &heist::Runtime) {
    const TASKS: usize = 1_000;
    const YIELDS: usize = 1_000;
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                heist::spawn(async {
                    for _ in 0..YIELDS {
                        heist::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    report("yield_now (task polls)", TASKS * YIELDS, start.elapsed());
}

/// 100 pairs of tasks, each pair exchanging 10,000 messages over oneshot channels.
fn ping_pong(rt: &heist::Runtime) {
    const PAIRS: usize = 100;
    const ROUNDS: usize = 10_000;
    let start = Instant::now();
    rt.block_on(async {
        let pairs: Vec<_> = (0..PAIRS)
            .map(|_| {
                heist::spawn(async {
                    for _ in 0..ROUNDS {
                        let (ping_tx, ping_rx) = oneshot::channel::<()>();
                        let (pong_tx, pong_rx) = oneshot::channel::<()>();
                        let ponger = heist::spawn(async move {
                            ping_rx.await.unwrap();
                            pong_tx.send(()).unwrap();
                        });
                        ping_tx.send(()).unwrap();
                        pong_rx.await.unwrap();
                        ponger.await.unwrap();
                    }
                })
            })
            .collect();
        for p in pairs {
            p.await.unwrap();
        }
    });
    report("ping-pong (messages)", PAIRS * ROUNDS * 2, start.elapsed());
}

/// One task spawns 10,000 CPU-bound children (about 20 us each): work stealing spreads
/// them over every worker. Prints how many each worker ran.
fn fan_out(rt: &heist::Runtime, workers: usize) {
    const CHILDREN: usize = 10_000;
    let per_thread: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counts = per_thread.clone();
    let start = Instant::now();
    rt.block_on(rt.spawn(async move {
        let children: Vec<_> = (0..CHILDREN)
            .map(|i| {
                let counts = counts.clone();
                heist::spawn(async move {
                    let spin = Instant::now();
                    let mut x = i as u64;
                    while spin.elapsed() < Duration::from_micros(20) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                    let name = std::thread::current().name().unwrap_or("?").to_string();
                    *counts.lock().unwrap().entry(name).or_default() += 1;
                })
            })
            .collect();
        for c in children {
            c.await.unwrap();
        }
    }))
    .unwrap();
    let elapsed = start.elapsed();
    report("unbalanced fan-out (20us tasks)", CHILDREN, elapsed);
    let serial = Duration::from_micros(20) * CHILDREN as u32;
    let mut counts: Vec<_> = per_thread.lock().unwrap().clone().into_iter().collect();
    counts.sort();
    let shares: Vec<String> = counts.iter().map(|(t, n)| format!("{t}: {n}")).collect();
    println!(
        "  spread over {} of {workers} workers ({}); speed-up over one core: {:.2}x",
        counts.len(),
        shares.join(", "),
        serial.as_secs_f64() / elapsed.as_secs_f64()
    );
}
