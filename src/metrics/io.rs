//! The I/O driver's counters (`io/driver.rs` keeps them, `RuntimeMetrics` reads them).
//!
//! A poll and its ready events are counted under the poll lock the driver holds for
//! them anyway, so those counters have one writer at a time and are a plain load and
//! store ([`Counter`]), like the workers' counters. Registrations and releases, rare and
//! each beside an `epoll_ctl` system call, take a `Relaxed` `fetch_add`, as do forced
//! yields (at most one per 128 I/O operations, by any thread). A reader never
//! takes the driver's locks (the seat's holder sleeps in `epoll_wait` holding the poll
//! lock).

use super::worker::Counter;
use crate::sync::stat::{AtomicU64, Ordering::Relaxed};

/// Counters of one runtime's I/O driver. tokio's names where tokio has the metric.
#[derive(Default)]
pub(crate) struct IoDriverStats {
    /// Sources registered (`io_driver_fd_registered_count`).
    pub(crate) registered_count: AtomicU64,
    /// Sources whose registration was released (`io_driver_fd_deregistered_count`).
    pub(crate) deregistered_count: AtomicU64,
    /// Events dispatched to a registered source (`io_driver_ready_count`; the driver's
    /// own wake-ups and stale events of released sources are not counted). Under the
    /// poll lock.
    pub(crate) ready: Counter,
    /// `epoll_wait` calls, blocking (the seat's) or not (a busy worker's turn)
    /// (`io_driver_poll_count`). Under the poll lock.
    pub(crate) polls: Counter,
    /// Polls whose cooperative budget ran out: an I/O operation returned `Pending` and
    /// woke its task instead of running (`budget_forced_yield_count`; `task/coop.rs`).
    pub(crate) budget_forced_yields: AtomicU64,
}

impl IoDriverStats {
    /// A source was registered.
    pub(crate) fn registered(&self) {
        self.registered_count.fetch_add(1, Relaxed);
    }

    /// A task's poll spent its I/O budget and was forced to yield (once per poll).
    pub(crate) fn budget_forced_yield(&self) {
        self.budget_forced_yields.fetch_add(1, Relaxed);
    }

    /// A source's registration was released.
    pub(crate) fn deregistered(&self) {
        self.deregistered_count.fetch_add(1, Relaxed);
    }
}
