//! Keeping a service from drowning: a bounded pipeline on heist.
//!
//! A producer offers requests at ~500/s for 1.5 s. On the way in:
//!
//! 1. a **token bucket** of 100 tokens/s (burst 10), refilled by a task on
//!    `heist::time::interval`, rejects what exceeds the rate;
//! 2. admitted requests go to a **bounded queue** (async-channel, 8 slots) served by a
//!    pool of workers; when the queue is full the producer runs the request itself
//!    (**caller-runs**), which slows the producer down to what the pool can take;
//! 3. a **semaphore** caps the requests in flight against the slow downstream at 3,
//!    whoever runs them.
//!
//! Then it prints what it admitted and rejected. Run with
//! `cargo run --release --example backpressure` (about two seconds).

use heist::task::JoinSet;
use heist::time::{interval, sleep, MissedTickBehavior};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const RATE_PER_SEC: u64 = 100;
const BURST: usize = 10;
const OFFERED_PER_SEC: u64 = 500;
const RUN_FOR: Duration = Duration::from_millis(1500);
const QUEUE: usize = 8;
const WORKERS: usize = 4;
const IN_FLIGHT: usize = 3;
/// How long the downstream takes per request: with `IN_FLIGHT` it serves 100/s, just what
/// the bucket admits, so bursts fill the queue and the caller runs some requests (and
/// offers fewer meanwhile: that is the backpressure).
const WORK: Duration = Duration::from_millis(30);

#[derive(Default)]
struct Stats {
    offered: AtomicUsize,
    rate_limited: AtomicUsize,
    queued: AtomicUsize,
    caller_ran: AtomicUsize,
    completed: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

/// One request against the slow downstream, at most `IN_FLIGHT` at a time.
async fn handle(request: u64, downstream: &Semaphore, stats: &Stats) -> u64 {
    let _permit = downstream.acquire().await.expect("never closed");
    let now = stats.in_flight.fetch_add(1, Relaxed) + 1;
    stats.peak_in_flight.fetch_max(now, Relaxed);
    sleep(WORK).await;
    stats.in_flight.fetch_sub(1, Relaxed);
    stats.completed.fetch_add(1, Relaxed);
    request
}

#[heist::main(worker_threads = 2)]
async fn main() {
    let stats = Arc::new(Stats::default());
    let downstream = Arc::new(Semaphore::new(IN_FLIGHT));

    // The token bucket: one token every 10 ms, at most BURST saved up.
    let tokens = Arc::new(Semaphore::new(BURST));
    let refill = {
        let tokens = tokens.clone();
        heist::spawn(async move {
            let mut every = interval(Duration::from_micros(1_000_000 / RATE_PER_SEC));
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            every.tick().await; // the first tick is immediate
            loop {
                every.tick().await;
                if tokens.available_permits() < BURST {
                    tokens.add_permits(1);
                }
            }
        })
    };

    // The worker pool behind the bounded queue.
    let (queue, requests) = async_channel::bounded::<u64>(QUEUE);
    let mut workers = JoinSet::new();
    for _ in 0..WORKERS {
        let (requests, downstream, stats) = (requests.clone(), downstream.clone(), stats.clone());
        workers.spawn(async move {
            while let Ok(request) = requests.recv().await {
                handle(request, &downstream, &stats).await;
            }
        });
    }

    // The producer.
    let start = Instant::now();
    let mut offers = interval(Duration::from_micros(1_000_000 / OFFERED_PER_SEC));
    offers.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut request = 0u64;
    while start.elapsed() < RUN_FOR {
        offers.tick().await;
        request += 1;
        stats.offered.fetch_add(1, Relaxed);
        match tokens.try_acquire() {
            // Spend the token for good.
            Ok(token) => token.forget(),
            Err(_) => {
                stats.rate_limited.fetch_add(1, Relaxed);
                continue;
            }
        }
        match queue.try_send(request) {
            Ok(()) => {
                stats.queued.fetch_add(1, Relaxed);
            }
            Err(async_channel::TrySendError::Full(request)) => {
                // Caller-runs: the producer does the work, and offers nothing meanwhile.
                stats.caller_ran.fetch_add(1, Relaxed);
                handle(request, &downstream, &stats).await;
            }
            Err(async_channel::TrySendError::Closed(_)) => unreachable!("workers outlive it"),
        }
    }
    let offered_for = start.elapsed();

    // Drain: close the queue, let the workers finish what was admitted.
    queue.close();
    while let Some(res) = workers.join_next().await {
        res.expect("a worker failed");
    }
    refill.abort();

    let get = |c: &AtomicUsize| c.load(Relaxed);
    let admitted = get(&stats.queued) + get(&stats.caller_ran);
    println!(
        "offered   {:>4} requests in {offered_for:.2?}",
        get(&stats.offered)
    );
    println!(
        "rejected  {:>4} by the token bucket ({RATE_PER_SEC}/s, burst {BURST})",
        get(&stats.rate_limited)
    );
    println!(
        "admitted  {admitted:>4}: {} queued for the {WORKERS} workers, {} run by the caller (queue of {QUEUE} full)",
        get(&stats.queued),
        get(&stats.caller_ran)
    );
    println!(
        "completed {:>4}, at most {} in flight (cap {IN_FLIGHT})",
        get(&stats.completed),
        get(&stats.peak_in_flight)
    );
    assert_eq!(
        get(&stats.completed),
        admitted,
        "every admitted request ran"
    );
    assert!(get(&stats.peak_in_flight) <= IN_FLIGHT);
}
