//! How far apart two CPUs are right now: two threads pinned to CPUs `a` and `b` bounce
//! one cache line in batches of round trips, and the fastest batch's round trip is the
//! answer. On the 2-vCPU VM of `docs/benchmarks/worker-counts.md` (section 10) the
//! hypervisor moves the vCPUs every few seconds to a minute between two placements:
//! about 50-63 ns a round trip (the vCPUs share a cache, "near") and about 285-330 ns
//! (they do not, "far"), and every line two workers share costs about 6 x more in the
//! far one. The minimum tells the placement (preemption only raises the median).
//!
//! Used by `examples/placement.rs` and, around every runtime's measurement, by
//! `benches/scheduler.rs`, which records the placement before and after for
//! `scripts/bench-compare.sh` (`target/heist-bench/placement.jsonl`).

use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::Arc;
use std::time::Instant;

/// A round trip at or above this many nanoseconds is the far placement.
pub const FAR_NS: f64 = 150.0;

/// Pins the calling thread to `cpu` (best effort: an error leaves it unpinned).
fn pin(cpu: usize) {
    // SAFETY: `set` is a plain bit set owned by this frame; `sched_setaffinity` with
    // pid 0 only changes the calling thread's affinity and reads `set`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[repr(align(128))]
struct Line(AtomicU64);

/// Round trips of one cache line between two fresh threads pinned to CPUs `a` and `b`:
/// `batches` batches of `rounds`; returns the batch round trips in nanoseconds, sorted.
/// The calling thread is not pinned.
pub fn round_trips(a: usize, b: usize, batches: usize, rounds: u64) -> Vec<f64> {
    let flag = Arc::new(Line(AtomicU64::new(0)));
    let total = batches as u64 * rounds;
    let other = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            pin(b);
            for i in 0..total {
                while flag.0.load(Acquire) != 2 * i + 1 {
                    std::hint::spin_loop();
                }
                flag.0.store(2 * i + 2, Release);
            }
        })
    };
    let mine = std::thread::spawn(move || {
        pin(a);
        let mut out = Vec::with_capacity(batches);
        let mut i = 0;
        for _ in 0..batches {
            let start = Instant::now();
            for _ in 0..rounds {
                flag.0.store(2 * i + 1, Release);
                while flag.0.load(Acquire) != 2 * i + 2 {
                    std::hint::spin_loop();
                }
                i += 1;
            }
            out.push(start.elapsed().as_nanos() as f64 / rounds as f64);
        }
        out
    });
    let mut out = mine.join().expect("placement probe thread");
    other.join().expect("placement probe thread");
    out.sort_by(f64::total_cmp);
    out
}

/// The fastest batch's round trip between CPUs 0 and 1 (20 batches of 500: a few
/// milliseconds), or `None` on a machine with one CPU.
pub fn probe() -> Option<f64> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    round_trips(0, 1, 20, 500).first().copied()
}

/// "near", "far" or "n/a" for a [`probe`] result.
pub fn label(ns: Option<f64>) -> &'static str {
    match ns {
        None => "n/a",
        Some(ns) if ns >= FAR_NS => "far",
        Some(_) => "near",
    }
}
