//! The task's `Waker`: a thin pointer to the header and one reference.
//!
//! Wakers may be cloned, woken and dropped from any thread any number of times; what a
//! wake does is decided by the state machine (`state.rs`): a waiting task is queued once,
//! a running task is requeued after its poll, a complete task is left alone.

use super::raw::{Header, RawTask};
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A borrowed `Waker` for the duration of a poll: it reuses the poller's reference, so
/// making it costs nothing; `clone` takes a real reference.
pub(super) struct WakerRef {
    waker: ManuallyDrop<Waker>,
}

impl Deref for WakerRef {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// # Safety
/// `ptr` is a live task header, and the caller holds a reference to the task (the
/// poller's) for as long as the `WakerRef` lives.
pub(super) unsafe fn waker_ref(ptr: NonNull<Header>) -> WakerRef {
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &VTABLE);
    // SAFETY: the vtable's functions uphold the RawWaker contract for a live task header
    // pointer (the caller's contract); ManuallyDrop keeps the borrowed reference from
    // being released.
    let waker = unsafe { Waker::from_raw(raw) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
    }
}

/// # Safety
/// `data` is a task header pointer whose reference the calling waker owns.
unsafe fn raw_task(data: *const ()) -> RawTask {
    // SAFETY: wakers are only built by `waker_ref` and `clone` from live header
    // pointers, which are never null.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from one of our wakers (RawWakerVTable contract).
    unsafe { raw_task(data) }.ref_inc();
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, whose reference this call consumes.
    let raw = unsafe { raw_task(data) };
    let action = raw.state().transition_to_notified_by_val();
    // SAFETY: the waker's reference went into the transition's action.
    unsafe { raw.wake(action) };
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, which keeps its reference.
    let raw = unsafe { raw_task(data) };
    let action = raw.state().transition_to_notified_by_ref();
    // SAFETY: the waker holds a reference; the transition added the one a `Submit`
    // hands over.
    unsafe { raw.wake(action) };
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, whose reference this call releases.
    unsafe { raw_task(data).drop_reference() };
}
