//! The synchronisation facade: the only module that names `std::sync`, `parking_lot`,
//! `crossbeam_deque`, `loom` or `std::thread`.
//!
//! Everything the scheduler shares between threads (atomics, locks, condition variables,
//! cells, the work-stealing deques, thread spawns and thread-locals) is taken from here.
//! Two sides export the same names:
//!
//! - [`real`] (the default): std atomics, `parking_lot` locks, `crossbeam_deque` queues.
//! - `model` (under `--cfg heist_loom`): loom's atomics, locks, cells and threads, plus
//!   loom-visible stand-ins for the deque and the injector built on a loom `Mutex`.
//!
//! loom therefore checks *heist's* protocols (task state word, join waker hand-off,
//! sleep/wake accounting, shutdown) over every interleaving it explores; it does not
//! check crossbeam's or parking_lot's internals, which are replaced wholesale. See
//! `docs/testing.md`.

#[cfg(not(heist_loom))]
mod real;
#[cfg(not(heist_loom))]
pub(crate) use real::*;

#[cfg(heist_loom)]
mod model;
#[cfg(heist_loom)]
pub(crate) use model::*;

/// Process-wide counters that need uniqueness only, never ordering with other memory
/// (task ids). They are plain std atomics on both sides: loom models re-run a closure
/// many times, and a loom atomic cannot live in a `static`.
pub(crate) mod counter {
    pub(crate) use std::sync::atomic::AtomicU64 as StaticAtomicU64;
}
