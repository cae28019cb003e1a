//! The run queues: the per-worker deque and next-task slot, and the global injector.
//!
//! - `LocalQueue` (crossbeam `Worker`, FIFO): the owner pushes and pops; thieves take
//!   about half through its `Stealer`.
//! - `NextSlot`: the next-task slot (tokio's "LIFO slot"; `Builder::lifo_slot_limit`): one
//!   task that runs next, for tasks spawned or woken on a worker,
//!   so message passing stays on a warm core. Unlike a plain field it is an atomic
//!   pointer, so a searching worker can take it when its owner is stuck in a long poll
//!   (see `scheduler/worker.rs`, `steal_stalled_slot`).
//! - `Injector`: tasks spawned or woken off the workers.
//!
//! The search order lives in `scheduler/worker.rs` and is explained in `docs/design.md`.
//!
//! The queues hold tasks of any scheduler (`task::Notified<S>`): this file names nothing
//! of the scheduler that uses it, whose `mod.rs` names the queue types with its own
//! task type (`scheduler::LocalQueue`, `Stealer`, `Injector`, `NextSlot`).

use crate::sync::atomic::{
    AtomicPtr, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
};
use crate::task::{Header, Notified};
use std::marker::PhantomData;
use std::ptr;

pub(crate) use crate::sync::deque::{
    Injector as RawInjector, Steal, Stealer as RawStealer, Worker as RawWorker,
};

/// A single-task slot that its owner fills and empties, and that any thread may empty.
pub(crate) struct NextSlot<S: 'static> {
    task: AtomicPtr<Header>,
    /// The slot owns the `Notified` its pointer stands for.
    _task: PhantomData<Notified<S>>,
}

impl<S: 'static> NextSlot<S> {
    pub(crate) fn new() -> NextSlot<S> {
        NextSlot {
            task: AtomicPtr::new(ptr::null_mut()),
            _task: PhantomData,
        }
    }

    /// Puts `task` in the slot, returning the task it displaced.
    pub(crate) fn put(&self, task: Notified<S>) -> Option<Notified<S>> {
        // AcqRel: releases the new task to whoever takes it; acquires the displaced one.
        let old = self.task.swap(task.into_raw().as_ptr(), AcqRel);
        // SAFETY: the slot owns the `Notified` it points to; the swap moved it to us.
        ptr::NonNull::new(old).map(|p| unsafe { Notified::from_raw(p) })
    }

    /// Puts `task` in a slot its owner knows to be empty (`Core::slot_filled`): a plain
    /// store, where `put` must swap. Only the owner fills the slot and thieves only empty
    /// it, so an empty slot stays empty until this store; the previous occupant, if the
    /// caller were wrong, would be leaked (never run), which the debug assertion catches.
    pub(crate) fn put_into_empty(&self, task: Notified<S>) {
        debug_assert!(self.is_empty(), "put_into_empty on a full slot");
        // Release: the task's cells, written before, are visible to whoever takes it
        // (its `swap` acquires).
        self.task.store(task.into_raw().as_ptr(), Release);
    }

    /// Empties the slot.
    pub(crate) fn take(&self) -> Option<Notified<S>> {
        // Acquire even when empty: the task dump, finding the slot emptied by its owner
        // (or a thief), must see what that thread announced before it took the task
        // (`WorkerStats::begin_take`, `Remote::moving`; `debug/dump.rs`).
        if self.task.load(Acquire).is_null() {
            return None;
        }
        let old = self.task.swap(ptr::null_mut(), AcqRel);
        // SAFETY: as in `put`: whoever swaps the pointer out owns the `Notified`.
        ptr::NonNull::new(old).map(|p| unsafe { Notified::from_raw(p) })
    }

    /// True when the slot looks empty (a hint: it may change at once).
    pub(crate) fn is_empty(&self) -> bool {
        self.task.load(Relaxed).is_null()
    }
}

impl<S: 'static> Drop for NextSlot<S> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// Drains the injector at shutdown, cancelling what it holds: a task that was never
/// polled is not in the owned-tasks registry, so its queue entry is the only way to reach
/// it.
pub(crate) fn drain_injector<S: 'static>(injector: &RawInjector<Notified<S>>) {
    loop {
        match injector.steal() {
            Steal::Success(task) => task.shutdown(),
            Steal::Retry => crate::sync::spin_loop(),
            Steal::Empty => break,
        }
    }
}
