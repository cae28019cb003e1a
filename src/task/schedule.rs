//! What a task and the scheduler that owns it see of each other: the [`Schedule`] trait,
//! the scheduler's two kinds of reference to a task ([`Task`] in the owned-tasks
//! registry, [`Notified`] in a queue), and [`new_task`], which allocates one. The
//! reference rules are the table in `task/mod.rs`.

use super::meta::Meta;
use super::raw::{Header, RawTask};
use super::{Id, JoinHandle};
use std::future::Future;
use std::marker::PhantomData;
use std::mem;
use std::ptr::NonNull;

/// What a task needs from the scheduler that owns it.
pub(crate) trait Schedule: Sync + Sized + 'static {
    /// Queue a task that was woken (or spawned).
    fn schedule(&self, task: Notified<Self>);

    /// Queue a task that woke itself during its poll: at the back, never in the
    /// next-task slot.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task is about to wait for the first time (its first poll returned `Pending`):
    /// keep it where shutdown can find it. `task` carries the reference reserved for the
    /// registry at spawn. Hands it back if the scheduler is shutting down; the caller
    /// then cancels the task.
    fn register(&self, task: Task<Self>) -> Result<(), Task<Self>>;

    /// A registered task completed: unlink it, returning the registry's reference (or
    /// `None` if shutdown already took it).
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;
}

/// One counted reference to a task, as held by the owned-tasks registry.
pub(crate) struct Task<S: 'static> {
    raw: RawTask,
    _scheduler: PhantomData<S>,
}

// SAFETY: a task's shared fields are synchronised by its state word (see the tables in
// `task/mod.rs`), and its future and output are `Send`, or, for a local task, only touched on
// the owning thread (`RawTask::new_unchecked`'s contract, kept by `local::Shared`).
unsafe impl<S> Send for Task<S> {}
// SAFETY: as above; `&Task` only reaches atomics and immutable fields.
unsafe impl<S> Sync for Task<S> {}

/// A reference that carries the task's `NOTIFIED` token: running it polls the task.
pub(crate) struct Notified<S: 'static>(Task<S>);

impl<S: 'static> Task<S> {
    /// # Safety
    /// The caller gives the new `Task` one reference to a live task scheduled by `S`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Task<S> {
        Task {
            // SAFETY: the caller owns a reference for the Task to hold.
            raw: unsafe { RawTask::from_raw(ptr) },
            _scheduler: PhantomData,
        }
    }

    pub(crate) fn raw(&self) -> RawTask {
        self.raw
    }

    /// Cancels the task for shutdown, consuming this reference.
    pub(crate) fn shutdown(self) {
        let raw = self.raw;
        mem::forget(self);
        // SAFETY: this `Task` owned one reference; forgotten above, so it is given up.
        unsafe { raw.shutdown() };
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        // SAFETY: this `Task` owns one reference, released once, here.
        unsafe { self.raw.drop_reference() };
    }
}

impl<S: 'static> Notified<S> {
    /// # Safety
    /// The caller gives the `Notified` one reference and the task's `NOTIFIED` token.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified<S> {
        // SAFETY: forwarded caller contract.
        Notified(unsafe { Task::from_raw(ptr) })
    }

    /// Gives up ownership as a thin pointer (for the next-task slot).
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.0.raw.header_ptr();
        mem::forget(self);
        ptr
    }

    /// Cancels the task for shutdown (if nobody runs it), consuming this reference: how
    /// queues are drained.
    pub(crate) fn shutdown(self) {
        let raw = self.0.raw;
        mem::forget(self);
        // SAFETY: this `Notified` owned one reference; forgotten above, so it is given up.
        unsafe { raw.shutdown() };
    }

    /// Polls the task (or cancels it, if it was aborted), consuming this reference.
    /// Returns true if the task completed (or was cancelled) in this run.
    pub(crate) fn run(self) -> bool {
        let raw = self.0.raw;
        mem::forget(self);
        // SAFETY: this `Notified` owned one reference and the NOTIFIED token; forgotten
        // above, so both are given up to the poll.
        unsafe { raw.poll(None) }
    }

    /// As `run`, on a worker that published this task's id in `running`
    /// (`metrics/worker.rs`): the id is withdrawn (zeroed) as soon as the future's poll
    /// returns, before the task can complete or be queued again.
    pub(crate) fn run_published(self, running: &crate::sync::atomic::AtomicU64) -> bool {
        let raw = self.0.raw;
        mem::forget(self);
        // SAFETY: as in `run`.
        unsafe { raw.poll(Some(running)) }
    }

    /// The task's header (id, spawn location, name, state).
    pub(crate) fn header(&self) -> &Header {
        self.0.raw.header()
    }
}

/// Allocates a task: returns the first `Notified` and the `JoinHandle`. The third
/// reference is reserved for the owned-tasks registry, which takes it if the task ever
/// waits (`Schedule::register`); a task that completes in its first poll never touches
/// the registry.
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    meta: Meta,
) -> (Notified<S>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let raw = RawTask::new(future, scheduler, id, meta);
    // SAFETY: `raw` was just allocated with output type `F::Output`, nothing else holds it.
    unsafe { first_handles(raw) }
}

/// The first `Notified` and the `JoinHandle` of a task just allocated.
///
/// # Safety
/// `raw` is a new task (three references, `NOTIFIED` and `JOIN_INTEREST` set: state.rs,
/// INITIAL) that nothing else holds, scheduled by `S`, with output type `T`.
#[inline]
unsafe fn first_handles<S: 'static, T>(raw: RawTask) -> (Notified<S>, JoinHandle<T>) {
    // SAFETY: the handles take one reference each (the third stays reserved for the
    // registry); the `Notified` takes the NOTIFIED token, the JoinHandle JOIN_INTEREST
    // with output type `T` (the caller's contract).
    unsafe {
        (
            Notified::from_raw(raw.header_ptr()),
            JoinHandle::from_raw(raw),
        )
    }
}

/// Allocates a task whose future and output need not be `Send`: as [`new_task`].
///
/// # Safety
/// As [`RawTask::new_unchecked`]: `scheduler` polls and cancels the task only on the
/// thread that owns it, and holds a reference to it until it is complete.
pub(crate) unsafe fn new_local_task<F, S>(
    future: F,
    scheduler: S,
    id: Id,
    meta: Meta,
) -> (Notified<S>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: forwarded caller contract.
    let raw = unsafe { RawTask::new_unchecked(future, scheduler, id, meta) };
    // SAFETY: as in `new_task`.
    unsafe { first_handles(raw) }
}
