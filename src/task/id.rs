//! Task ids, and the id of the task running on this thread ([`id`], [`try_id`]).

use crate::sync::{next_id_block, OnceLock};
use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;

/// A task's id: unique among all tasks of the process while it runs.
///
/// Ids are handed out in blocks to each spawning thread, so spawning does not contend on
/// one shared counter; they are therefore unique but not ordered by spawn time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

const BLOCK: u64 = 1024;

crate::sync::thread_local! {
    /// The rest of this thread's block: `(next, end)`. (No `const` initialiser: loom's
    /// `thread_local!` does not take one.)
    #[allow(clippy::missing_const_for_thread_local)]
    static LOCAL: Cell<(u64, u64)> = Cell::new((0, 0));

    /// The task being polled (or whose future or output is being dropped) on this thread
    /// when no worker published it: see [`try_id`].
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Cell<Option<Id>> = Cell::new(None);
}

/// Where a worker thread reads the id of the task its worker is polling: registered by
/// the scheduler when a worker starts ([`register_worker_source`]), so that this layer
/// reads the scheduler's per-poll publication without naming the layer above it.
static WORKER_SOURCE: OnceLock<fn() -> Option<Id>> = OnceLock::new();

/// Registers the scheduler's reader of a worker's published poll (see [`try_id`]).
/// Every runtime registers the same function; the first registration stands.
pub(crate) fn register_worker_source(source: fn() -> Option<Id>) {
    let _ = WORKER_SOURCE.set(source);
}

/// The id of the task running this code.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// let handle = rt.spawn(async { heist::task::id() });
/// let id = handle.id();
/// assert_eq!(rt.block_on(handle).unwrap(), id);
/// ```
///
/// # Panics
/// Outside a task (for example directly in `block_on`); see [`try_id`].
#[track_caller]
pub fn id() -> Id {
    match try_id() {
        Some(id) => id,
        None => panic!("heist::task::id() called outside a task"),
    }
}

/// The id of the task running this code, or `None` outside a task.
///
/// Inside a task this is its id while it is polled and while its future (or its
/// output, when nobody awaits it) is dropped by the runtime; a closure run by
/// [`spawn_blocking`](crate::task::spawn_blocking) sees the id of its blocking task.
pub fn try_id() -> Option<Id> {
    // Two sources, the thread-local first: a worker's poll sets no thread-local (it
    // costs a thread-local write and restore on every poll); the id the worker already
    // publishes for the dump (`metrics/worker.rs`, `begin_poll`) serves instead. Every
    // other run of task code sets the thread-local with an `IdGuard`: tasks polled off
    // the workers (blocking and local tasks), a future or output the runtime drops, and
    // `block_in_place`, whose thread stops being a worker for a while. A guard nested
    // in a worker's poll (a local task run inside it, a future dropped inside it) so
    // shadows the poll's id, and restores it when it ends.
    CURRENT
        .try_with(Cell::get)
        .ok()
        .flatten()
        .or_else(worker_polling_id)
}

/// The id of the poll this thread's worker published and is still running, if any (the
/// registered [`WORKER_SOURCE`]): `None` off the workers, between polls, and once the
/// task withdrew its id as its future's poll returned.
pub(crate) fn worker_polling_id() -> Option<Id> {
    WORKER_SOURCE.get().and_then(|source| source())
}

/// Makes `id` the current task id until dropped, then restores the previous one.
pub(crate) struct IdGuard {
    prev: Option<Id>,
}

impl IdGuard {
    #[inline]
    pub(crate) fn enter(id: Id) -> IdGuard {
        IdGuard::replace(Some(id))
    }

    /// No id in the thread-local until dropped: for a worker's run loop, whose polls
    /// publish their ids elsewhere (see [`try_id`]), on a thread that may hold one (a
    /// stand-in runs the loop inside its own blocking task, `scheduler/lend.rs`).
    pub(crate) fn clear() -> IdGuard {
        IdGuard::replace(None)
    }

    #[inline]
    fn replace(id: Option<Id>) -> IdGuard {
        let prev = CURRENT.try_with(|c| c.replace(id)).ok().flatten();
        IdGuard { prev }
    }
}

impl Drop for IdGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.prev));
    }
}

impl Id {
    pub(crate) fn next() -> Id {
        let raw = LOCAL
            .try_with(|local| {
                let (mut next, mut end) = local.get();
                if next == end {
                    next = next_id_block(BLOCK);
                    end = next + BLOCK;
                }
                local.set((next + 1, end));
                next
            })
            // A thread being torn down has no thread-locals left: take a one-id block.
            .unwrap_or_else(|_| next_id_block(1));
        Id(NonZeroU64::new(raw).expect("task id counter wrapped"))
    }

    /// The id whose number is `raw` (0 is no id).
    pub(crate) fn from_u64(raw: u64) -> Option<Id> {
        NonZeroU64::new(raw).map(Id)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}
