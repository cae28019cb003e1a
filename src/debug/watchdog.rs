//! The slow-poll watchdog: a thread, started only when a slow-poll threshold is set,
//! that reports polls still running past the threshold.
//!
//! Every quarter threshold it reads what each worker is polling (the seqlock each
//! worker publishes at the start of a poll, `metrics/worker.rs`: poll number, task id,
//! spawn location) without touching the task. A worker seen in the same poll for a
//! whole threshold is reported as stuck, once; when that poll ends the watchdog reports
//! it again with its approximate duration (when every poll is timed, the worker reports
//! the end itself, exactly). So the worker's only cost is the publication it makes anyway,
//! plus copying the task's name, for named tasks only, into a per-worker slot the
//! watchdog can read after the task is gone.
//!
//! Durations are measured from the first sample that saw the poll, so a report can be
//! up to one period (a quarter threshold) late and its elapsed time that much short.
//!
//! A reader above the scheduler (`docs/design.md`, "Layers"): it holds the runtime's
//! `Shared`. Its stop signal (`WatchdogStop`, which shutdown sets) and the name slots it
//! reads are in `observe.rs`, below the scheduler, which holds them.

use super::observe::{Observe, SlowPoll};
use crate::metrics::worker::CurrentPoll;
use crate::scheduler::Shared;
use crate::sync::{thread, Arc};
use std::io;
use std::time::{Duration, Instant};

/// What the watchdog remembers about one worker's current poll.
struct Seen {
    poll: CurrentPoll,
    first_seen: Instant,
    reported: bool,
    /// Its name, read when it was reported stuck (the worker's name slot moves on).
    name: Option<String>,
}

/// Starts the watchdog thread, named `{thread_name}-watchdog`, if `observe` asks for
/// one. Shutdown stops it (`WatchdogStop::stop`).
pub(crate) fn start(shared: &Arc<Shared>, observe: &Observe, thread_name: &str) -> io::Result<()> {
    let Some(threshold) = observe.slow_poll_threshold else {
        return Ok(());
    };
    let shared = shared.clone();
    thread::Builder::new()
        .name(format!("{thread_name}-watchdog"))
        .spawn(move || run(&shared, threshold))
        .map(drop)
}

fn run(shared: &Shared, threshold: Duration) {
    let period = (threshold / 4).max(Duration::from_millis(1));
    let observe = &shared.config.observe;
    let mut seen: Vec<Option<Seen>> = (0..shared.num_workers()).map(|_| None).collect();
    loop {
        if shared.debug.watchdog.wait(period) {
            return;
        }
        let now = Instant::now();
        let mut reports = Vec::new();
        for (index, slot) in seen.iter_mut().enumerate() {
            let current = shared.stats.workers[index].current();
            match slot {
                Some(s) if Some(s.poll) == current => {
                    let elapsed = now - s.first_seen;
                    if !s.reported && elapsed >= threshold {
                        s.reported = true;
                        s.name = shared.debug.name_for(index, s.poll.seq);
                        reports.push(report(index, s, elapsed, threshold, true));
                    }
                }
                _ => {
                    if let Some(s) = slot.take() {
                        if s.reported && !observe.exact_ends() {
                            let elapsed = now - s.first_seen;
                            reports.push(report(index, &s, elapsed, threshold, false));
                        }
                    }
                    *slot = current.map(|poll| Seen {
                        poll,
                        first_seen: now,
                        reported: false,
                        name: None,
                    });
                }
            }
        }
        // Every worker stuck in one poll: nothing else runs until one returns (the
        // failure mode of a blocking call inside a task). Said in each stuck report.
        let all_stuck = seen.iter().all(|s| s.as_ref().is_some_and(|s| s.reported));
        for mut r in reports {
            r.all_workers_stuck = all_stuck && r.still_running;
            observe.report(&r);
        }
    }
}

fn report(
    worker: usize,
    seen: &Seen,
    elapsed: Duration,
    threshold: Duration,
    still_running: bool,
) -> SlowPoll {
    SlowPoll {
        id: seen.poll.id,
        name: seen.name.clone(),
        spawned_at: seen.poll.location,
        worker,
        elapsed,
        threshold,
        still_running,
        exact: false,
        all_workers_stuck: false,
    }
}
