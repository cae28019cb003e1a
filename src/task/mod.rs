//! Tasks: one heap allocation per spawned future, shared by reference counting between
//! the run queues, the wakers and the user's handles.
//!
//! This module is the specification; `docs/task-states.md` draws the same table.
//!
//! # Handles and their references
//!
//! Every handle below owns one reference in the state word's count; the allocation is
//! freed by whoever releases the last one.
//!
//! | handle        | where it lives                      | what it may do                          |
//! |---------------|-------------------------------------|-----------------------------------------|
//! | `Task`        | the owned-tasks registry (`list.rs`), from the first `Pending` on | cancel the task at shutdown |
//! | `Notified`    | a run queue, a next-task slot       | poll the task (carries `NOTIFIED`)      |
//! | `JoinHandle`  | user code                           | read the output, register a join waker  |
//! | `AbortHandle` | user code                           | cancel                                  |
//! | `Waker`       | anywhere, any number of clones      | wake (queue a `Notified` when waiting)  |
//!
//! A new task starts with three references: the first `Notified`, the `JoinHandle`, and
//! one reserved for the owned-tasks registry, which takes it when the task first waits
//! (`Schedule::register`); a task that completes in its first poll releases the reserved
//! one itself. Until it first waits, a task is always in exactly one queue or being run,
//! so shutdown reaches it by draining the queues.
//!
//! Local tasks (`local/`, `LocalSet`) use the same cell, handles and transitions; their
//! future need not be `Send` because their scheduler polls and cancels them only on the
//! thread that owns the set, and holds every task that is not complete until it has
//! cancelled it there (`RawTask::new_unchecked`). Scoped tasks (`Handle::scope`,
//! `src/runtime/scope.rs`) are ordinary tasks whose future is a lifetime-erased box.
//!
//! # States
//!
//! The user-facing states are derived from the flags (`state.rs` documents each flag):
//!
//! | state       | flags                              | meaning                                    |
//! |-------------|------------------------------------|--------------------------------------------|
//! | *ready*     | `NOTIFIED`, not `RUNNING`          | a `Notified` is queued                     |
//! | *running*   | `RUNNING`                          | one thread holds the future and polls it   |
//! | *waiting*   | none of `RUNNING/NOTIFIED/COMPLETE`| only wakers can bring it back              |
//! | *complete*  | `COMPLETE`, not `FAILED`           | output stored (or taken)                   |
//! | *failed*    | `COMPLETE` + `FAILED`              | cancelled (future dropped without finishing) or panicked: a `Failure` stored (or taken) |
//!
//! `FAILED`, not `CANCELLED`, tells a dropped future from a delivered output:
//! `CANCELLED` records that someone asked (abort, shutdown), and an abort that lands
//! during a poll that returns `Ready` leaves it set on a task whose output is delivered.
//!
//! # Who touches which field when
//!
//! - `stage` (future, then output or failure; an untagged union, raw.rs `Stage`): the
//!   thread holding `RUNNING` until `COMPLETE`; after `COMPLETE`, the `JoinHandle` if
//!   `JOIN_INTEREST` was set at completion (it takes or drops the result once, and marks
//!   itself when it takes it, `join.rs`), otherwise the completing thread (which drops
//!   the result at once). `FAILED` says whether the result is the output or a `Failure`. A
//!   cell is freed with its future still inside only if it never completed.
//! - `join_waker`: the `JoinHandle` while `JOIN_WAKER` is clear and the task is not
//!   complete; the runtime (read only) when `JOIN_WAKER` was set at completion; the
//!   dropping thread at deallocation.
//! - owned-list links: only under the lock of the task's list shard.
//! - `scheduler`, `id`, `meta` (spawn location, name), `vtable`: immutable.
//!
//! # Transitions (all in `state.rs`)
//!
//! | event                        | transition                          | next step for the caller             |
//! |------------------------------|-------------------------------------|--------------------------------------|
//! | worker pops a `Notified`     | `transition_to_running`             | poll / cancel / drop ref / free      |
//! | poll returns `Pending`       | `transition_to_idle`                | wait / requeue at back / cancel      |
//! | poll returns `Ready`, panics | `transition_to_complete`            | hand output over, leave list         |
//! | same, no `JoinHandle` left   | `transition_to_complete_and_terminal` | (output dropped, list left, before) free if last |
//! | runner leaves                | `transition_to_terminal`            | free if last                         |
//! | `Waker::wake(_by_ref)`       | `transition_to_notified_by_(val|ref)` | queue once / nothing / free        |
//! | `abort()`                    | `transition_to_notified_and_cancel` | queue so a worker drops it           |
//! | shutdown                     | `transition_to_shutdown`            | drop the future now, or let the poller |
//! | `JoinHandle` poll            | `set_join_waker` / `unset_join_waker` | read output if complete            |
//! | `JoinHandle` reads output    | (none: the handle marks itself)     | its drop only releases its reference |
//! | `JoinHandle` drop            | `unset_join_interest`               | drop output if complete              |
//!
//! # Freeing
//!
//! Whoever releases the last reference frees the cell (`Harness::dealloc`). That path
//! relies on these invariants, which the code above and in `scheduler/` keeps:
//!
//! - **A task that is not complete still holds its registry reference** (reserved at
//!   spawn, or held by the owned-tasks registry). Only completion releases it (`complete`,
//!   for the reserved one or the list's), or shutdown, which completes the task through
//!   it (`Task::shutdown`: it takes `RUNNING` and cancels, or leaves that to the thread
//!   holding `RUNNING`, which sees `CANCELLED` after its poll). So the last reference of
//!   an unfinished task is never released on a runtime path, and `dealloc` drops a
//!   future only if a test frees a task by hand; that drop is panic-guarded all the same.
//! - **`Shared` outlives every queued task.** A task's cell holds its scheduler (an
//!   `Arc` of the runtime's `Shared`), so a task in one of `Shared`'s queues keeps it
//!   alive; shutdown drains every queue (injector, local queues, next-task slots), which
//!   breaks that cycle. A `Notified` is therefore never dropped by a queue that is being
//!   freed, and `Schedule::schedule` always has a live scheduler.
//! - **Shutdown never clears `NOTIFIED`.** `transition_to_shutdown` sets `RUNNING` and
//!   `CANCELLED` only. A `Notified` still queued then pops a task that is still
//!   `NOTIFIED` (which `transition_to_running` asserts), finds it running or complete
//!   and releases its own reference (`Failed` / `Dealloc`); and a wake of the task does
//!   nothing (already notified), so shutdown never causes a second `Notified`.
//! - **User code the freeing path runs is guarded.** `dealloc` can run on a worker (a
//!   worker often releases the last reference) and runs the future's destructor (for an
//!   unfinished task) and the join waker's; both are behind `catch_unwind`, as are the
//!   output's destructor and the join waker's `wake_by_ref` in `complete` and every join
//!   waker the `JoinHandle` replaces. A panic there never unwinds through a worker.
//! - **Frees never nest.** Freeing a task drops its join waker, which may release the
//!   last reference of the task that awaited it, and so on down a chain of finished
//!   tasks. `RawTask::dealloc` queues a free that starts inside another on the same
//!   thread, and the outermost frees them one by one, so a chain of any length runs in
//!   constant stack (`tests/spawn.rs`, `freeing_a_long_chain_of_finished_tasks_...`).
//!
//! Guarantees that follow: a task is never polled by two threads (the `RUNNING` lock); a
//! wake during a poll requeues the task once, after the poll; a wake of a complete task
//! does nothing; the output is handed to exactly one owner; the future is dropped exactly
//! once, on the thread that holds `RUNNING`.

mod cache;
pub(crate) mod coop;
mod depot;
mod error;
mod harness;
mod id;
mod join;
mod join_set;
pub(crate) mod list;
mod local;
pub(crate) mod meta;
mod raw;
mod spawn;
pub(crate) mod state;
mod task_local;
mod yield_now;

// Models of the task protocols: explored by loom under `--cfg heist_loom`, and run on
// real threads otherwise (so miri and ThreadSanitizer check the same races).
#[cfg(test)]
mod loom_tests;

pub use error::JoinError;

/// Frees the memory of finished tasks that heist keeps for reuse: the blocks in the
/// depot that hands them between threads and in the calling thread's own free lists
/// (a worker's lists are freed when the worker exits). For tests that count live
/// allocations and for programs that want the memory of a burst of tasks back; heist
/// keeps at most 1 MiB per block size in the depot and 64 blocks per size and thread.
#[doc(hidden)]
pub fn release_cached_task_memory() {
    cache::release_cached();
}
pub(crate) use harness::YIELD_REQUESTED;
pub use id::{id, try_id, Id};
pub(crate) use id::{register_worker_source, IdGuard};
pub use join::{AbortHandle, JoinHandle};
pub use join_set::JoinSet;
pub use local::{spawn_local, LocalEnterGuard, LocalSet};
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
pub(crate) use yield_now::register_worker_yield;
pub use yield_now::yield_now;
/// Futures returned by this module's functions (tokio's path for them).
pub mod futures {
    pub use super::task_local::TaskLocalFuture;
}
// The blocking pool lives in `src/blocking/`; its entry point belongs with `spawn`.
pub use crate::blocking::spawn_blocking;
pub use crate::runtime::block_in_place;
// `Builder` spawns onto a runtime: it lives in `runtime/task_builder.rs`.
pub use crate::runtime::task_builder::Builder;

pub(crate) use harness::{Notified, Schedule, Task};
pub(crate) use meta::Meta;
pub(crate) use raw::Header;
pub(crate) use spawn::{new_local_task, new_task};
