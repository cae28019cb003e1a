//! Timer benchmarks, heist and tokio side by side in one process (`docs/benchmarks.md`, "Timers").
//!
//! ```text
//! cargo bench --bench timer                 # both tables
//! cargo bench --bench timer -- accuracy     # one of them
//! cargo bench --bench timer -- scale
//! TIMER_SCALE_N=100000 TIMER_ROUNDS=1 cargo bench --bench timer   # smaller / quicker
//! ```
//!
//! - **accuracy**: 10,000 sleeps of mixed lengths (100 tasks x 100 sequential sleeps,
//!   lengths 0.1-2 ms, 2-20 ms and 20-100 ms in equal shares, the same pseudo-random
//!   sequence for both runtimes); lateness = time from the call to the wake-up minus the
//!   requested length, measured inside the task (so it includes the wake-up's
//!   scheduling). Light load: 100 tasks mostly asleep on 2 workers.
//! - **scale**: N (default 1,000,000) boxed sleeps registered from one thread, all due
//!   at the same instant, each polled once with a counting waker; then fired; then
//!   dropped. Memory per timer = heap bytes live after registering / N (a counting
//!   global allocator; the `Vec` of boxes is allocated before and not counted). Also
//!   N sleeps registered then dropped before they fire (cancel).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(SeqCst)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn heist_rt() -> heist::Runtime {
    heist::Runtime::builder().worker_threads(2).build().unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- accuracy

/// The requested lengths of task `t`'s sleeps.
fn lengths(t: u64, n: usize) -> Vec<Duration> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let us = match x % 3 {
                0 => 100 + (x >> 8) % 1_900,
                1 => 2_000 + (x >> 8) % 18_000,
                _ => 20_000 + (x >> 8) % 80_000,
            };
            Duration::from_micros(us)
        })
        .collect()
}

/// Task `t`'s sleeps, one after another: the lateness of each, in nanoseconds
/// (negative: early). `sleep` is the runtime's own.
async fn lateness<F: Future>(t: u64, per_task: usize, sleep: impl Fn(Duration) -> F) -> Vec<i64> {
    let mut late = Vec::with_capacity(per_task);
    for d in lengths(t, per_task) {
        let start = Instant::now();
        sleep(d).await;
        late.push(start.elapsed().as_nanos() as i64 - d.as_nanos() as i64);
    }
    late
}

/// Lateness of each sleep, in nanoseconds (negative: early).
fn accuracy_heist(tasks: u64, per_task: usize) -> Vec<i64> {
    let rt = heist_rt();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| heist::spawn(async move { lateness(t, per_task, heist::time::sleep).await }))
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all
    })
}

fn accuracy_tokio(tasks: u64, per_task: usize) -> Vec<i64> {
    let rt = tokio_rt();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| tokio::spawn(async move { lateness(t, per_task, tokio::time::sleep).await }))
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all
    })
}

fn ms(ns: i64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn accuracy() {
    let (tasks, per_task) = (100, 100);
    println!(
        "## accuracy: {} sleeps (lateness in ms)\n",
        tasks as usize * per_task
    );
    println!("| runtime | min | p50 | p90 | p99 | p99.9 | max | early |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, mut late) in [
        ("heist", accuracy_heist(tasks, per_task)),
        ("tokio", accuracy_tokio(tasks, per_task)),
    ] {
        late.sort_unstable();
        let q = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
        let early = late.iter().filter(|&&l| l < 0).count();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {early} |",
            ms(late[0]),
            ms(q(0.5)),
            ms(q(0.9)),
            ms(q(0.99)),
            ms(q(0.999)),
            ms(*late.last().unwrap())
        );
    }
    println!();
}

// ---------------------------------------------------------------- scale

/// Counts wake-ups; the last one records the time and unparks the waiting thread.
struct Counter {
    fired: AtomicUsize,
    target: usize,
    last: std::sync::Mutex<Option<Instant>>,
    waiter: std::thread::Thread,
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.fired.fetch_add(1, AcqRel) + 1 == self.target {
            *self.last.lock().unwrap() = Some(Instant::now());
            self.waiter.unpark();
        }
    }
}

struct ScaleResult {
    bytes_per_timer: f64,
    register: Duration,
    fire: Duration,
    drop_fired: Duration,
    cancel: Duration,
}

/// Registers `n` sleeps made by `make` (each due at `deadline`), fires, drops; then
/// registers `n` more and drops them before they fire.
fn scale_run<S: Future<Output = ()>>(
    n: usize,
    enter: &dyn Fn(&mut dyn FnMut()),
    make: &dyn Fn(Instant) -> S,
) -> ScaleResult {
    let counter = Arc::new(Counter {
        fired: AtomicUsize::new(0),
        target: n,
        last: std::sync::Mutex::new(None),
        waiter: std::thread::current(),
    });
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut sleeps: Vec<Pin<Box<S>>> = Vec::with_capacity(n);
    // Far enough for registration to finish first (checked below).
    let deadline = Instant::now() + Duration::from_millis(500 + n as u64 / 500);
    let before = live();
    let start = Instant::now();
    enter(&mut || {
        for _ in 0..n {
            let mut s = Box::pin(make(deadline));
            assert!(s.as_mut().poll(&mut cx).is_pending());
            sleeps.push(s);
        }
    });
    let register = start.elapsed();
    let bytes = live() - before;
    assert!(
        Instant::now() < deadline,
        "registration outlasted the deadline; raise it"
    );
    while counter.fired.load(Acquire) < n {
        std::thread::park();
    }
    let fire = counter.last.lock().unwrap().unwrap() - deadline;
    let start = Instant::now();
    drop(sleeps);
    let drop_fired = start.elapsed();

    let mut sleeps: Vec<Pin<Box<S>>> = Vec::with_capacity(n);
    let far = Instant::now() + Duration::from_secs(3600);
    enter(&mut || {
        for _ in 0..n {
            let mut s = Box::pin(make(far));
            assert!(s.as_mut().poll(&mut cx).is_pending());
            sleeps.push(s);
        }
    });
    let start = Instant::now();
    drop(sleeps);
    let cancel = start.elapsed();
    ScaleResult {
        bytes_per_timer: bytes as f64 / n as f64,
        register,
        fire,
        drop_fired,
        cancel,
    }
}

fn scale() {
    let n = env("TIMER_SCALE_N", 1_000_000);
    let rounds = env("TIMER_ROUNDS", 3);
    println!("## scale: {n} concurrent sleeps, median of {rounds} rounds (interleaved)\n");
    println!(
        "size_of Sleep: heist {} B, tokio {} B\n",
        std::mem::size_of::<heist::time::Sleep>(),
        std::mem::size_of::<tokio::time::Sleep>()
    );
    let mut results: [Vec<ScaleResult>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let rt = heist_rt();
        results[0].push(scale_run(
            n,
            &|f| {
                let _g = rt.enter();
                f()
            },
            &|d| heist::time::sleep_until(d.into()),
        ));
        drop(rt);
        let rt = tokio_rt();
        results[1].push(scale_run(
            n,
            &|f| {
                let _g = rt.enter();
                f()
            },
            &|d| tokio::time::sleep_until(d.into()),
        ));
        drop(rt);
    }
    println!("| runtime | heap bytes / timer | register all | fire all (after the deadline) | drop fired | register + cancel: drop |");
    println!("|---|---|---|---|---|---|");
    for (name, rs) in ["heist", "tokio"].iter().zip(&mut results) {
        let med = |f: &dyn Fn(&ScaleResult) -> Duration| {
            let mut v: Vec<Duration> = rs.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        let bytes = rs.iter().map(|r| r.bytes_per_timer).fold(0.0, f64::max);
        println!(
            "| {name} | {bytes:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            med(&|r| r.register).as_secs_f64() * 1e3,
            med(&|r| r.fire).as_secs_f64() * 1e3,
            med(&|r| r.drop_fired).as_secs_f64() * 1e3,
            med(&|r| r.cancel).as_secs_f64() * 1e3,
        );
    }
    println!();
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wants("accuracy") {
        accuracy();
    }
    if wants("scale") {
        scale();
    }
}
