//! How a task enters the scheduler: `Shared::spawn` (from any thread), `spawn_remote`
//! (from a thread known to run no worker), and `schedule_task`, behind the task's
//! `Schedule` impl, which queues a spawned, woken or yielding task where it belongs: on
//! this runtime's worker thread into that worker's next-task slot or queue
//! (`Worker::schedule_local`, `worker.rs`), anywhere else into the injector
//! (`Shared::schedule_remote`, `mod.rs`).
//!
//! Its own file because it is the one part of `Shared` that looks up the current
//! worker (`worker::with_current`): `mod.rs` stays below `worker.rs`, which holds an
//! `Arc<Shared>`, and calls nothing here or there (`docs/design.md`, "Layers"). What
//! every spawn shares (allocate, or cancel after shutdown) is `Shared::spawn_with`, in
//! `mod.rs`; `Worker::spawn` (`worker.rs`) uses it too.

use super::shared_ref::{SharedRef, Stock, Stocked};
use super::worker;
use super::{Notified, Shared, Task};
use crate::sync::Arc;
use crate::task::{self, JoinHandle, Schedule};
use std::future::Future;

impl Shared {
    /// Spawns a task. After shutdown the task is cancelled at once: its handle resolves to
    /// a cancelled `JoinError`.
    ///
    /// An associated function rather than a `self: &Arc<Self>` method: under
    /// `--cfg heist_loom` the `Arc` is loom's, which cannot be a method receiver.
    pub(crate) fn spawn<F>(this: &Arc<Self>, future: F, meta: task::Meta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // One thread-local lookup decides both where the task goes and where its count
        // of `this` comes from (`shared_ref.rs`).
        worker::with_current(move |worker| match worker {
            Some(worker) if std::ptr::eq(&*worker.shared, &**this) => worker.spawn(future, meta),
            _ => Shared::spawn_remote(this, future, meta),
        })
    }

    /// `spawn` from a thread known to run no worker (`heist::spawn` after its own
    /// thread-local lookup found none): straight into the injector.
    pub(crate) fn spawn_remote<F>(
        this: &Arc<Self>,
        future: F,
        meta: task::Meta,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn_with(
            this,
            future,
            meta,
            SharedRef::clone_of(this),
            |shared, task| {
                crate::debug::queued(shared, &task);
                shared.schedule_remote_spawn(task)
            },
        )
    }

    /// Queues a task: on this runtime's worker thread, into its next-task slot (or, for
    /// a yield, the back of its queue); anywhere else, into the injector. `is_spawn`
    /// counts it as spawned (`RuntimeMetrics::spawned_tasks_count`).
    #[inline]
    fn schedule_task(&self, task: Notified, is_yield: bool, is_spawn: bool) {
        crate::debug::queued(self, &task);
        worker::with_current(|worker| match worker {
            Some(worker) if std::ptr::eq(&*worker.shared, self) => {
                worker.schedule_local(task, is_yield, is_spawn)
            }
            _ if is_spawn => self.schedule_remote_spawn(task),
            _ => self.schedule_remote(task),
        })
    }
}

/// A task's count of `Shared` finds the stock of the worker this thread runs, if it is
/// one of this scheduler's (`shared_ref.rs`).
impl Stocked for Shared {
    #[inline]
    fn with_stock<R>(this: &Shared, f: impl FnOnce(Option<&Stock>) -> R) -> R {
        worker::with_current(|worker| {
            f(worker
                .filter(|worker| std::ptr::eq(&*worker.shared, this))
                .map(|worker| &worker.stock))
        })
    }
}

impl Schedule for SharedRef<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false, false);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true, false);
    }

    fn register(&self, task: Task) -> Result<(), Task> {
        self.owned.register(task)
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.release(task)
    }
}
