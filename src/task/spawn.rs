//! Allocating a task: [`new_task`] (and [`new_local_task`]) make the cell and hand out
//! its first `Notified` and `JoinHandle`. The reference rules are the table in
//! `task/mod.rs`.

use super::harness::{Notified, Schedule};
use super::meta::Meta;
use super::raw::RawTask;
use super::{Id, JoinHandle};
use std::future::Future;

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
