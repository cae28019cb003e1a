//! Runtime metrics: what the workers count, and [`RuntimeMetrics`], the reader.
//!
//! Counters are per worker (`worker.rs`): each is written by its worker only, with a
//! plain load and store, never a shared read-modify-write, and read by anyone with a
//! `Relaxed` load. Gauges (queue depths, thread counts) are read on demand from the
//! structures they describe. Names follow tokio's `RuntimeMetrics` wherever tokio has
//! the metric. `docs/observability.md` lists every metric, what it means and its cost.
//!
//! The I/O driver's counters (`io.rs`) are kept by the driver under the locks it takes
//! anyway, as the timer driver keeps `fired`.

pub(crate) mod histogram;
pub(crate) mod io;
mod stats;
pub(crate) mod worker;

pub use histogram::{Histogram, HistogramBucket};
pub(crate) use stats::RuntimeStats;

use crate::scheduler::Shared;
use crate::sync::stat::Ordering::Relaxed;
use crate::Handle;
use std::fmt;
use std::time::Duration;
use worker::WorkerStats;

// The reader names `Handle`, so `Handle::metrics` lives here: `runtime/handle.rs` does
// not import the reader that reads it.
impl Handle {
    /// The runtime's metrics: counters and gauges, read live; see [`RuntimeMetrics`].
    ///
    /// [`RuntimeMetrics`]: crate::RuntimeMetrics
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.clone())
    }
}

/// A runtime's metrics: counters and gauges, read without stopping anything.
///
/// Get one with [`Handle::metrics`](crate::Handle::metrics); it stays valid (and keeps
/// reading live values) as long as you hold it. Counters only grow; per-worker values
/// are indexed by worker, `0..num_workers()`, and may lag the truth by a few events
/// (each worker publishes its own with plain stores).
///
/// ```
/// let rt = heist::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(rt.spawn(async {})).unwrap();
/// let m = rt.handle().metrics();
/// assert_eq!(m.num_workers(), 2);
/// assert_eq!(m.spawned_tasks_count(), 1);
/// let polls: u64 = (0..m.num_workers()).map(|w| m.worker_poll_count(w)).sum();
/// assert_eq!(polls, 1);
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    handle: Handle,
}

impl RuntimeMetrics {
    pub(crate) fn new(handle: Handle) -> RuntimeMetrics {
        RuntimeMetrics { handle }
    }

    fn shared(&self) -> &Shared {
        &self.handle.scheduler
    }

    fn stats(&self) -> &RuntimeStats {
        &self.shared().stats
    }

    fn worker(&self, worker: usize) -> &WorkerStats {
        let workers = &self.stats().workers;
        assert!(
            worker < workers.len(),
            "worker index {worker} out of range: the runtime has {} workers",
            workers.len()
        );
        &workers[worker]
    }

    /// The number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared().num_workers()
    }

    /// Tasks spawned and not yet completed (or cancelled): `spawned_tasks_count()`
    /// minus the tasks that completed in a poll. Exact while the runtime runs; after
    /// shutdown, tasks cancelled by shutdown itself still count as alive.
    pub fn num_alive_tasks(&self) -> usize {
        let stats = self.stats();
        // Read completions first: a task counted as completed was spawned before.
        let completed = stats.completed();
        usize::try_from(self.spawned_tasks_count().saturating_sub(completed)).unwrap_or(usize::MAX)
    }

    /// Tasks spawned on this runtime since it started (blocking calls not included).
    pub fn spawned_tasks_count(&self) -> u64 {
        self.stats().spawned_on_workers() + self.shared().injector.counted()
    }

    /// Tasks in the global queue (the injector): spawned or woken from outside the
    /// workers and not yet picked up.
    pub fn global_queue_depth(&self) -> usize {
        self.shared().injector.len()
    }

    /// Threads of the blocking pool (running a call or idle).
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.blocking.counts().0
    }

    /// Blocking-pool threads waiting for work.
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.handle.blocking.counts().1
    }

    /// Blocking calls waiting for a pool thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.blocking.counts().2
    }

    /// Timers registered now (a `Sleep`, `Interval` or `Timeout` that was polled and
    /// has not fired or been dropped).
    pub fn num_timers(&self) -> usize {
        self.handle.time().len()
    }

    /// Timers fired since the runtime started.
    pub fn timers_fired_count(&self) -> u64 {
        self.handle.time().fired_count()
    }

    /// File descriptors (sockets, `AsyncFd`s) registered with the I/O driver since the
    /// runtime started. Zero while the runtime has done no I/O (its driver is created
    /// on first use).
    pub fn io_driver_fd_registered_count(&self) -> u64 {
        self.io(|io| io.registered_count.load(Relaxed))
    }

    /// File descriptors deregistered from the I/O driver (their owner dropped them)
    /// since the runtime started: `io_driver_fd_registered_count() -
    /// io_driver_fd_deregistered_count()` are registered now.
    pub fn io_driver_fd_deregistered_count(&self) -> u64 {
        self.io(|io| io.deregistered_count.load(Relaxed))
    }

    /// Readiness events the I/O driver dispatched to registered file descriptors (at
    /// most one per descriptor per poll; the driver's own wake-ups and late events of
    /// dropped descriptors are not counted).
    pub fn io_driver_ready_count(&self) -> u64 {
        self.io(|io| io.ready.get())
    }

    /// Times the I/O driver polled the OS for events (`epoll_wait`): a parked worker
    /// waiting in it, or a busy worker's non-blocking check.
    pub fn io_driver_poll_count(&self) -> u64 {
        self.io(|io| io.polls.get())
    }

    /// Times a task was forced to yield back to the scheduler after spending its
    /// cooperative budget: 128 I/O operations in one poll (tokio's name and meaning;
    /// counted once per poll; heist's budget counts I/O operations only).
    pub fn budget_forced_yield_count(&self) -> u64 {
        self.io(|io| io.budget_forced_yields.load(Relaxed))
    }

    fn io(&self, read: impl FnOnce(&io::IoDriverStats) -> u64) -> u64 {
        self.handle.driver.io.get().map_or(0, |d| read(&d.stats))
    }

    /// Time since the runtime started.
    pub fn uptime(&self) -> Duration {
        self.stats().started.elapsed()
    }

    /// How many times worker `worker` parked (went to sleep for lack of work).
    ///
    /// # Panics
    /// If `worker >= num_workers()` (as every `worker_*` method).
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.worker(worker).park_count.get()
    }

    /// Parks plus unparks of worker `worker`: odd while it is parked, even while it runs.
    pub fn worker_park_unpark_count(&self, worker: usize) -> u64 {
        self.worker(worker).park_unpark_count.get()
    }

    /// How many times worker `worker` unparked and parked again without polling a task.
    pub fn worker_noop_count(&self, worker: usize) -> u64 {
        self.worker(worker).noop_count.get()
    }

    /// Tasks worker `worker` stole from its peers' queues.
    pub fn worker_steal_count(&self, worker: usize) -> u64 {
        self.worker(worker).steal_count.get()
    }

    /// Successful steals by worker `worker` (each moves one or more tasks).
    pub fn worker_steal_operations(&self, worker: usize) -> u64 {
        self.worker(worker).steal_operations.get()
    }

    /// Polls worker `worker` started.
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.worker(worker).poll_count()
    }

    /// Tasks spawned or woken on worker `worker`'s thread into its own queue or
    /// next-task slot.
    pub fn worker_local_schedule_count(&self, worker: usize) -> u64 {
        self.worker(worker).local_schedule_count.get()
    }

    /// Tasks spawned or woken on worker `worker`'s thread that went to the global queue
    /// instead of its own. heist's local queue is unbounded, so this counts only wakes
    /// that came while the worker was between polls dropping something (its queue was
    /// busy); tokio counts local-queue overflows under this name.
    pub fn worker_overflow_count(&self, worker: usize) -> u64 {
        self.worker(worker).overflow_count.get()
    }

    /// Tasks in worker `worker`'s local queue now (its next-task slot not included).
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.shared().remotes[worker].stealer.len()
    }

    /// Time worker `worker` spent unparked (running tasks or looking for them), up to
    /// its last park.
    pub fn worker_total_busy_duration(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.worker(worker).busy_nanos.get())
    }

    /// A moving average of worker `worker`'s poll time, estimated without a clock read
    /// per poll: each run of polls between two parks contributes its busy time over its
    /// polls, weighted 1/8 (tokio estimates the same way). Zero until the worker first
    /// parks after polling.
    pub fn worker_mean_poll_time(&self, worker: usize) -> Duration {
        Duration::from_nanos(self.worker(worker).mean_poll_nanos.get())
    }

    /// Whether poll times are recorded in a histogram
    /// (`Builder::enable_metrics_poll_time_histogram` or `Builder::debug`).
    pub fn poll_time_histogram_enabled(&self) -> bool {
        self.stats().histograms.is_some()
    }

    /// The poll-time histogram of all workers (empty unless enabled).
    pub fn poll_time_histogram(&self) -> Histogram {
        self.stats()
            .histograms
            .as_ref()
            .map(|h| h.poll_times())
            .unwrap_or_default()
    }

    /// The scheduling-delay histogram: the time from a task being queued (spawned or
    /// woken) to the start of its poll, all workers together (empty unless enabled).
    pub fn scheduling_delay_histogram(&self) -> Histogram {
        self.stats()
            .histograms
            .as_ref()
            .map(|h| h.scheduling_delays())
            .unwrap_or_default()
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .field("spawned_tasks_count", &self.spawned_tasks_count())
            .field("global_queue_depth", &self.global_queue_depth())
            .finish_non_exhaustive()
    }
}
