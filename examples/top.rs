//! A live view of a runtime under a demo load, refreshed in place once a second: per
//! worker busy %, polls/s, steals, queue depth; the tasks by state (from a dump); the
//! slowest polls reported by the slow-poll watchdog.
//!
//! ```text
//! cargo run --release --example top            # 10 seconds
//! HEIST_TOP_SECS=60 cargo run --release --example top
//! ```
//!
//! Plain ANSI escapes (clear screen, cursor home): any terminal, no dependency.

use heist::debug::TaskState;
use heist::{Runtime, SlowPoll};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let secs: u64 = std::env::var("HEIST_TOP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let slow: Arc<Mutex<Vec<SlowPoll>>> = Arc::default();
    let sink = slow.clone();
    let rt = Runtime::builder()
        .slow_poll_threshold(Duration::from_millis(50))
        .on_slow_poll(move |s| {
            if !s.is_still_running() {
                sink.lock().unwrap().push(s.clone());
            }
        })
        .build()
        .expect("start runtime");
    demo_load(&rt);

    let m = rt.handle().metrics();
    let n = m.num_workers();
    let mut last_polls: Vec<u64> = (0..n).map(|w| m.worker_poll_count(w)).collect();
    let mut last_busy: Vec<Duration> = (0..n).map(|w| m.worker_total_busy_duration(w)).collect();
    let mut last = Instant::now();
    let end = last + Duration::from_secs(secs);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1));
        let now = Instant::now();
        let dt = (now - last).as_secs_f64();
        last = now;
        let mut out = String::from("\x1b[H\x1b[2J");
        out += &format!(
            "heist top: {n} workers, {} alive tasks, {} spawned, global queue {}, uptime {:.0?}\n\n",
            m.num_alive_tasks(),
            m.spawned_tasks_count(),
            m.global_queue_depth(),
            m.uptime()
        );
        out += "worker  busy%    polls/s   steals  queue  parks  mean poll\n";
        for w in 0..n {
            let polls = m.worker_poll_count(w);
            let busy = m.worker_total_busy_duration(w);
            let busy_pct = (busy.saturating_sub(last_busy[w])).as_secs_f64() / dt * 100.0;
            out += &format!(
                "{w:>6}  {:>5.1}  {:>9.0}  {:>7}  {:>5}  {:>5}  {:>9.1?}\n",
                busy_pct.min(100.0),
                (polls - last_polls[w]) as f64 / dt,
                m.worker_steal_count(w),
                m.worker_local_queue_depth(w),
                m.worker_park_count(w),
                m.worker_mean_poll_time(w),
            );
            last_polls[w] = polls;
            last_busy[w] = busy;
        }
        let dump = rt.handle().dump();
        out += &format!(
            "\ntasks: {} running, {} ready, {} waiting\n",
            dump.tasks_in(TaskState::Running).count(),
            dump.tasks_in(TaskState::Ready).count(),
            dump.tasks_in(TaskState::Waiting).count(),
        );
        let mut slowest = slow.lock().unwrap().clone();
        slowest.sort_by_key(|s| std::cmp::Reverse(s.elapsed()));
        out += &format!("\nslowest polls ({} reported over 50 ms):\n", slowest.len());
        for s in slowest.iter().take(5) {
            out += &format!(
                "  {:>8.1?}  task {} {:<12} spawned at {}\n",
                s.elapsed(),
                s.id(),
                s.name().unwrap_or("-"),
                s.spawned_at()
            );
        }
        print!("{out}");
    }
    println!();
}

/// Chatty tasks that sleep and wake, a steady stream of short spawns, and now and then a
/// task that hogs its worker for 60-150 ms.
fn demo_load(rt: &Runtime) {
    let _enter = rt.enter();
    for i in 0..200u64 {
        heist::task::Builder::new()
            .name("ticker")
            .spawn(async move {
                loop {
                    heist::time::sleep(Duration::from_millis(5 + i % 20)).await;
                }
            })
            .unwrap();
    }
    heist::task::Builder::new()
        .name("spawner")
        .spawn(async {
            loop {
                for _ in 0..500 {
                    heist::spawn(async { std::hint::black_box(1 + 1) });
                }
                heist::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .unwrap();
    heist::task::Builder::new()
        .name("hog-maker")
        .spawn(async {
            let mut n = 0u64;
            loop {
                heist::time::sleep(Duration::from_millis(700)).await;
                n += 1;
                let hog = Duration::from_millis(60 + (n * 37) % 90);
                heist::task::Builder::new()
                    .name("hog")
                    .spawn(async move {
                        let start = Instant::now();
                        while start.elapsed() < hog {
                            std::hint::spin_loop();
                        }
                    })
                    .unwrap();
            }
        })
        .unwrap();
}
