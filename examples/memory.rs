//! Bytes per waiting task: spawn `HEIST_MEM_TASKS` (default 1,000,000) tasks that stay
//! pending, keep their handles, and divide the growth of the process by the count.
//!
//! Two measures, both printed:
//! - `rss`: resident set growth (`/proc/self/statm`), what the issue's bar is stated in.
//!   It includes the 8-byte handles kept in a `Vec`, queue blocks the runtime freed but
//!   the allocator kept, and allocator overhead.
//! - `heap`: growth of live heap bytes, counted by a wrapping global allocator (exact
//!   and noise-free; includes the handle `Vec`, excludes allocator overhead).
//!
//! Each runtime runs in a fresh process:
//!
//! ```text
//! cargo run --release --example memory -- heist
//! cargo run --release --example memory -- tokio
//! cargo run --release --example memory -- async-executor
//! cargo run --release --example memory -- all   # re-runs itself once per runtime
//! ```
//! Results also go to `target/heist-bench/memory-<runtime>.json`.

#[path = "../benches/common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::{workers, AsyncExecutor, Heist, Rt, Tokio};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Counts live heap bytes on top of the system allocator.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Live blocks per request size (8-byte steps up to 1 KiB; the last slot takes the rest),
/// for `HEIST_MEM_BREAKDOWN=1`: which allocations the growth is made of.
static BY_SIZE: [AtomicUsize; 129] = [const { AtomicUsize::new(0) }; 129];
/// Live bytes of the blocks larger than 1 KiB, per power of two of their size.
static LARGE_BYTES: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];

fn track(size: usize, live: bool) {
    let slot = size.div_ceil(8).min(128);
    if live {
        BY_SIZE[slot].fetch_add(1, Relaxed);
        LIVE.fetch_add(size, Relaxed);
        if slot == 128 {
            LARGE_BYTES[size.ilog2() as usize].fetch_add(size, Relaxed);
        }
    } else {
        BY_SIZE[slot].fetch_sub(1, Relaxed);
        LIVE.fetch_sub(size, Relaxed);
        if slot == 128 {
            LARGE_BYTES[size.ilog2() as usize].fetch_sub(size, Relaxed);
        }
    }
}

/// Live block counts per size, then live bytes of large blocks per power of two, now.
fn by_size() -> Vec<usize> {
    BY_SIZE
        .iter()
        .chain(&LARGE_BYTES)
        .map(|c| c.load(Relaxed))
        .collect()
}

// SAFETY: forwards every call to `System` unchanged; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size(), true);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(layout.size(), false);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(layout.size(), false);
            track(new_size, true);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tasks that have been polled once (and are now waiting for ever).
static POLLED: AtomicUsize = AtomicUsize::new(0);

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm rss");
    pages * page_size()
}

fn page_size() -> usize {
    // The auxiliary vector is the dependency-free way to ask; 4 KiB is Linux's default.
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|auxv| {
            auxv.chunks_exact(16).find_map(|kv| {
                let key = u64::from_ne_bytes(kv[..8].try_into().ok()?);
                let val = u64::from_ne_bytes(kv[8..].try_into().ok()?);
                (key == 6).then_some(val as usize) // AT_PAGESZ
            })
        })
        .unwrap_or(4096)
}

fn measure<R: Rt>(n: usize) {
    let rt = R::build(workers());
    let sp = rt.spawner();
    // Warm the runtime up (threads, first queue blocks) before the baseline.
    rt.block_on(R::spawn(&sp, async {}));
    let (rss0, heap0, sizes0) = (rss_bytes(), LIVE.load(Relaxed), by_size());

    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        handles.push(R::spawn(&sp, async {
            POLLED.fetch_add(1, Relaxed);
            std::future::pending::<()>().await
        }));
    }
    // Every task has run once and is parked on its (never-firing) waker.
    let deadline = Instant::now() + Duration::from_secs(120);
    while POLLED.load(Relaxed) < n {
        assert!(Instant::now() < deadline, "tasks were not all polled");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    let (rss1, heap1, sizes1) = (rss_bytes(), LIVE.load(Relaxed), by_size());
    if std::env::var_os("HEIST_MEM_BREAKDOWN").is_some() {
        // Growth by request size, in bytes per task (blocks up to 1 KiB by size, larger
        // ones by power of two).
        for (slot, (a, b)) in sizes0.iter().zip(&sizes1).enumerate().take(128) {
            let blocks = *b as f64 - *a as f64;
            if blocks != 0.0 {
                let bytes = blocks * (slot * 8) as f64 / n as f64;
                println!(
                    "  {:>5} B blocks: {blocks:>+10}  {bytes:>+7.2} B/task",
                    slot * 8
                );
            }
        }
        for (log, (a, b)) in sizes0.iter().zip(&sizes1).skip(129).enumerate() {
            if a != b {
                let bytes = (*b as f64 - *a as f64) / n as f64;
                println!("  [2^{log}, 2^{}) B blocks:  {bytes:>+7.2} B/task", log + 1);
            }
        }
    }

    let rss = (rss1 as f64 - rss0 as f64) / n as f64;
    let heap = (heap1 as f64 - heap0 as f64) / n as f64;
    let handle = std::mem::size_of::<R::Join<()>>();
    println!(
        "{:<15} tasks {n}  workers {}  rss {rss:>7.1} B/task  heap {heap:>7.1} B/task  (handle {handle} B, included)",
        R::NAME,
        workers()
    );
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = std::path::Path::new(&target).join("heist-bench");
    let json = format!(
        "{{\"runtime\": \"{}\", \"tasks\": {n}, \"rss_bytes_per_task\": {rss:.1}, \
         \"heap_bytes_per_task\": {heap:.1}, \"handle_bytes\": {handle}}}\n",
        R::NAME
    );
    let path = dir.join(format!("memory-{}.json", R::NAME));
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, json))
        .is_err()
    {
        eprintln!("could not write {}", path.display());
    }
    // Skip tearing down a million tasks: the process ends here.
    std::mem::forget(handles);
    std::mem::forget(rt);
    std::process::exit(0);
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let n =
        std::env::var("HEIST_MEM_TASKS").map_or(1_000_000, |v| v.parse().expect("HEIST_MEM_TASKS"));
    match which.as_str() {
        "heist" => measure::<Heist>(n),
        "tokio" => measure::<Tokio>(n),
        "async-executor" => measure::<AsyncExecutor>(n),
        "all" => {
            let exe = std::env::current_exe().expect("current exe");
            for rt in ["heist", "tokio", "async-executor"] {
                let status = std::process::Command::new(&exe)
                    .arg(rt)
                    .status()
                    .expect("run self");
                assert!(status.success(), "{rt} run failed");
            }
        }
        other => {
            eprintln!("usage: memory [heist|tokio|async-executor|all], not {other:?}");
            std::process::exit(2);
        }
    }
}
