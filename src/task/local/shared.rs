//! The part of a `LocalSet` that its tasks (and their wakers, on any thread) reach: the
//! remote queue, the waker of whoever drives the set, and the set's owned-tasks list.
//!
//! # The cross-thread wake
//!
//! A local task may be woken on any thread (its waker is `Send`). On the thread that is
//! driving the set the task goes straight into the set's local queue (`mod.rs`);
//! anywhere else it goes into the *remote* queue, and the driver is woken:
//!
//! ```text
//! waking thread (schedule_remote)        driving thread (register_and_take)
//!   lock                                   lock
//!   push the task                          store the driver's waker
//!   take the stored waker                  take every queued task
//!   unlock                                 unlock
//!   wake the taken waker                   run the tasks; return Pending when idle
//! ```
//!
//! Both sides hold the same lock, so one of them comes first: either the driver's
//! `register_and_take` sees the pushed task, or the waking thread sees the waker the
//! driver stored before it looked, and wakes it. No wake-up is lost, and the task is
//! only ever run by the driver, on the owning thread. (Storing the waker in one critical
//! section and taking the queue in another, in that order the other way round, loses the
//! wake-up; `loom_tests.rs` catches it, see `docs/testing.md`.)
//!
//! Once the set is dropped (`close`), the remote queue refuses tasks: a late wake only
//! releases the waker's reference. Every task is complete by then (the set cancels them
//! all on its own thread before it finishes dropping), so that never drops a future on
//! the waking thread.

use crate::sync::{Arc, Mutex};
use crate::task::list::OwnedTasks;
use std::collections::VecDeque;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::task::Waker;

/// A queued local task.
pub(super) type Notified = crate::task::Notified<Arc<Shared>>;

/// Shared by a `LocalSet` and every one of its tasks (the scheduler `S` of their cells).
pub(crate) struct Shared {
    remote: Mutex<Remote>,
    /// Every task of the set that waits (registered at its first `Pending`), so that
    /// dropping the set can cancel it.
    owned: OwnedTasks<Arc<Shared>>,
}

struct Remote {
    /// Tasks woken off the driving thread, in wake order.
    queue: VecDeque<Notified>,
    /// The waker of the last poll of the set (`run_until`, or the set as a future),
    /// taken by the first remote wake after it.
    waker: Option<Waker>,
    /// The set is gone: refuse tasks.
    closed: bool,
}

impl Shared {
    pub(super) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            remote: Mutex::new(Remote {
                queue: VecDeque::new(),
                waker: None,
                closed: false,
            }),
            owned: OwnedTasks::new(1),
        })
    }

    /// The driver, at the start of each poll of the set: store its waker, then take the
    /// tasks woken from other threads. One critical section (see the module doc).
    pub(super) fn register_and_take(&self, waker: &Waker) -> VecDeque<Notified> {
        let mut remote = self.remote.lock();
        match &remote.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => remote.waker = Some(waker.clone()),
        }
        mem::take(&mut remote.queue)
    }

    /// The driver, between tasks: take the tasks woken from other threads.
    pub(super) fn take_remote(&self) -> VecDeque<Notified> {
        mem::take(&mut self.remote.lock().queue)
    }

    /// Queues a task woken off the driving thread, and wakes the driver.
    pub(super) fn schedule_remote(&self, task: Notified) {
        let mut remote = self.remote.lock();
        if remote.closed {
            drop(remote);
            // The set is gone, so the task is complete (module doc): this only releases
            // the reference the wake handed over.
            drop(task);
            return;
        }
        remote.queue.push_back(task);
        let waker = remote.waker.take();
        drop(remote);
        if let Some(waker) = waker {
            // A driver's waker is user code: its panic must not unwind into whatever
            // woke the task (it may be a worker).
            let _ = panic::catch_unwind(AssertUnwindSafe(|| waker.wake()));
        }
    }

    /// The set is being dropped: refuse remote tasks from now on. Returns those queued.
    pub(super) fn close(&self) -> VecDeque<Notified> {
        let mut remote = self.remote.lock();
        remote.closed = true;
        let waker = remote.waker.take();
        let queue = mem::take(&mut remote.queue);
        drop(remote);
        drop(waker);
        queue
    }

    /// Cancels every registered task (on the owning thread), closing the list.
    pub(super) fn shutdown_owned(&self) {
        self.owned.close_and_shutdown_all();
    }

    /// The set's registry of live tasks (for its `Schedule` impl, beside the driving
    /// thread's queue in `mod.rs`).
    pub(super) fn owned(&self) -> &OwnedTasks<Arc<Shared>> {
        &self.owned
    }

    /// True when no task of the set waits (every one completed or is queued).
    pub(super) fn owned_is_empty(&self) -> bool {
        self.owned.is_empty()
    }
}
