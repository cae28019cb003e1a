//! `RuntimeStats`: what a runtime counts, written by the scheduler (in `Shared`). It
//! names no scheduler or runtime type, so the scheduler imports it without importing
//! the reader, `RuntimeMetrics` (`mod.rs`), which reads the scheduler.

use super::histogram;
use super::worker::WorkerStats;
use crate::sync::stat::{AtomicU64, Ordering::Relaxed};
use crossbeam_utils::CachePadded;
use std::time::Instant;

/// The statistics of one runtime (in `Shared`).
pub(crate) struct RuntimeStats {
    pub(crate) workers: Box<[CachePadded<WorkerStats>]>,
    /// Tasks spawned from threads that are not this runtime's workers: the one shared
    /// counter, bumped on the remote-spawn path, which already pushes to the shared
    /// injector with read-modify-writes and a `SeqCst` fence.
    pub(crate) remote_spawned: AtomicU64,
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
            remote_spawned: AtomicU64::new(0),
            histograms: histograms.then(|| histogram::Histograms::new(num_workers)),
            started: Instant::now(),
        }
    }

    /// A spawn from off the workers.
    #[inline]
    pub(crate) fn spawned_remotely(&self) {
        self.remote_spawned.fetch_add(1, Relaxed);
    }

    pub(super) fn spawned(&self) -> u64 {
        self.workers.iter().map(|w| w.spawned.get()).sum::<u64>()
            + self.remote_spawned.load(Relaxed)
    }

    pub(super) fn completed(&self) -> u64 {
        self.workers.iter().map(|w| w.completed.get()).sum()
    }
}
