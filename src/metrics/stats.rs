//! `RuntimeStats`: what a runtime counts, written by the scheduler (in `Shared`). It
//! names no scheduler or runtime type, so the scheduler imports it without importing
//! the reader, `RuntimeMetrics` (`mod.rs`), which reads the scheduler.

use super::histogram;
use super::worker::WorkerStats;
use crossbeam_utils::CachePadded;
use std::time::Instant;

/// The statistics of one runtime (in `Shared`).
pub(crate) struct RuntimeStats {
    pub(crate) workers: Box<[CachePadded<WorkerStats>]>,
    /// Latency histograms, if turned on (`Builder::enable_metrics_poll_time_histogram`,
    /// `Builder::debug`).
    pub(crate) histograms: Option<histogram::Histograms>,
    pub(crate) started: Instant,
}

impl RuntimeStats {
    pub(crate) fn new(num_workers: usize, histograms: bool) -> RuntimeStats {
        RuntimeStats {
            workers: (0..num_workers)
                .map(|_| CachePadded::new(WorkerStats::default()))
                .collect(),
            histograms: histograms.then(|| histogram::Histograms::new(num_workers)),
            started: Instant::now(),
        }
    }

    /// Tasks spawned from this runtime's worker threads. Spawns from anywhere else are
    /// counted by the injector they are pushed to (`Injector::counted`): a counter here
    /// would be one more locked read-modify-write on that path.
    pub(super) fn spawned_on_workers(&self) -> u64 {
        self.workers.iter().map(|w| w.spawned.get()).sum::<u64>()
    }

    pub(super) fn completed(&self) -> u64 {
        self.workers.iter().map(|w| w.completed.get()).sum()
    }
}
