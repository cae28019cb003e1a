//! The synchronisation facade: the only module that names `parking_lot`,
//! `crossbeam_deque` or `loom`.
//!
//! Everything a heist protocol shares between threads (atomics, locks, condition
//! variables, cells, the work-stealing deques, the token parker, thread spawns and
//! thread-locals) is taken from here. Other modules name std only for what no protocol
//! runs through (`std::sync::Arc` for user hooks and `block_on`'s waker, `Ordering`
//! paths, the per-thread task cache that is off under loom, `available_parallelism`);
//! `docs/testing.md` lists them.
//! Two sides export the same names:
//!
//! - [`real`] (the default): std atomics, `parking_lot` locks, `crossbeam_deque` queues
//!   and the injector (`injector.rs`: a ring buffer with a pushers' lock and a takers' lock).
//! - `model` (under `--cfg heist_loom`): loom's atomics, locks, cells and threads, plus
//!   loom-visible stand-ins for the deque and the injector built on a loom `Mutex`.
//!
//! loom therefore checks *heist's* protocols (task state word, join waker hand-off,
//! sleep/wake accounting, shutdown) over every interleaving it explores; it does not
//! check crossbeam's or parking_lot's internals, which are replaced wholesale. See
//! `docs/testing.md`.

#[cfg(not(heist_loom))]
mod injector;
#[cfg(not(heist_loom))]
mod real;
#[cfg(not(heist_loom))]
pub(crate) use real::*;

#[cfg(heist_loom)]
mod model;
#[cfg(heist_loom)]
pub(crate) use model::*;

/// Atomics for statistics (`src/metrics/`): std's on both sides of the facade.
///
/// A statistic never orders other memory and never decides what a thread does next, so
/// loom has nothing to check in it; keeping it out of loom's view keeps the models'
/// state space what it was. Nothing may synchronise through these.
pub(crate) mod stat {
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering,
    };
}

mod parker;
pub(crate) use parker::{Parker, Seats};

/// A cell written once before the threads that read it start (the timer driver's
/// host); not part of any protocol loom explores, so std's on both sides.
pub(crate) use std::sync::OnceLock;

/// std's `Arc` on both sides, for wakers built with `std::task::Wake` (which takes
/// nothing else): the join set's per-entry wakers (`task/join_set/`). loom does not see
/// these reference counts (a leak of one is not reported); the state behind them uses the
/// facade's locks and atomics, which loom does see.
pub(crate) use std::sync::Arc as WakeArc;

/// std's thread-locals on both sides, for task-locals (`task/task_local.rs`): the
/// `task_local!` macro expands in the user's crate, where loom's are not in scope.
pub(crate) use std::thread::{AccessError as StdAccessError, LocalKey as StdLocalKey};

/// Hands out `len` consecutive task ids from the process-wide counter (only uniqueness
/// matters, never ordering with other memory, hence `Relaxed`).
///
/// Under loom the counter is a loom `lazy_static`, reset for every explored execution:
/// a task's id picks its owned-list shard, hence which lock a spawn takes, and loom
/// needs every execution of a model to be deterministic. (A plain static kept counting
/// across executions, and loom failed with "Is the model fully deterministic?".)
pub(crate) fn next_id_block(len: u64) -> u64 {
    use atomic::{AtomicU64, Ordering::Relaxed};
    #[cfg(not(heist_loom))]
    static NEXT: AtomicU64 = AtomicU64::new(1);
    #[cfg(heist_loom)]
    loom::lazy_static! {
        static ref NEXT: AtomicU64 = AtomicU64::new(1);
    }
    NEXT.fetch_add(len, Relaxed)
}
