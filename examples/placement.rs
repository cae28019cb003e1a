//! How far apart two CPUs are right now: two threads pinned to CPUs 0 and 1 bounce one
//! cache line, 50 batches of 1,000 round trips, and the minimum and median round trip
//! of a batch are printed. On the 2-vCPU VM of `docs/benchmarks/worker-counts.md`
//! (section 10) the hypervisor moves the vCPUs every few seconds between two
//! placements: about 50-63 ns a round trip (the vCPUs share a cache) and about
//! 285-330 ns (they do not). The minimum tells the placement (preemption only raises
//! the median). Run it before and after a timed run to know which placement the run
//! had: every line the workers share costs about 6 x more in the far one.
//! `benches/scheduler.rs` runs the same probe around every runtime's measurement.
//!
//! ```text
//! cargo run --release --example placement            # CPUs 0 and 1
//! HEIST_PLACEMENT_CPUS=2,5 cargo run --release --example placement
//! ```

#[path = "../benches/common/placement.rs"]
#[allow(dead_code)]
mod placement;

const BATCHES: usize = 50;
const ROUNDS: u64 = 1_000;

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
    let batches = placement::round_trips(a, b, BATCHES, ROUNDS);
    let min = batches[0];
    println!(
        "round trip CPU {a} <-> {b}: min {min:.0} ns, median {:.0} ns ({})",
        batches[BATCHES / 2],
        placement::label(Some(min))
    );
}
