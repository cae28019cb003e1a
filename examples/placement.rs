//! How far apart two CPUs are right now: two threads pinned to CPUs 0 and 1 bounce one
//! cache line, 50 batches of 1,000 round trips, and the minimum and median round trip
//! of a batch are printed. On the 2-vCPU VM of `docs/benchmarks/worker-counts.md`
//! (section 10) the hypervisor moves the vCPUs every few seconds between two
//! placements: about 50-63 ns a round trip (the vCPUs share a cache) and about
//! 285-330 ns (they do not). The minimum tells the placement (preemption only raises
//! the median). Run it before and after a timed run to know which placement the run
//! had: every line the workers share costs about 6 x more in the far one.
//!
//! ```text
//! cargo run --release --example placement            # CPUs 0 and 1
//! HEIST_PLACEMENT_CPUS=2,5 cargo run --release --example placement
//! ```

use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::Arc;
use std::time::Instant;

const BATCHES: usize = 50;
const ROUNDS: u64 = 1_000;

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

fn main() {
    let cpus: Vec<usize> = std::env::var("HEIST_PLACEMENT_CPUS")
        .unwrap_or_else(|_| "0,1".into())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("HEIST_PLACEMENT_CPUS: two CPU numbers")
        })
        .collect();
    let [a, b] = cpus[..] else {
        panic!("HEIST_PLACEMENT_CPUS: two CPU numbers");
    };
    let flag = Arc::new(Line(AtomicU64::new(0)));
    let total = BATCHES as u64 * ROUNDS;
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
    pin(a);
    let mut batches = Vec::with_capacity(BATCHES);
    let mut i = 0;
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            flag.0.store(2 * i + 1, Release);
            while flag.0.load(Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
            i += 1;
        }
        batches.push(start.elapsed().as_nanos() as f64 / ROUNDS as f64);
    }
    other.join().unwrap();
    batches.sort_by(f64::total_cmp);
    println!(
        "round trip CPU {a} <-> {b}: min {:.0} ns, median {:.0} ns",
        batches[0],
        batches[BATCHES / 2]
    );
}
