//! Polling, completing and cancelling a task: the typed code behind the vtable.
//!
//! Every path that runs user code while the task is between states (polling the future,
//! dropping it, dropping the output, waking the join waker) runs behind
//! `catch_unwind`, so a panic there is turned into a `JoinError` or ignored and never
//! leaves the state word half-updated.

use super::error::JoinError;
use super::raw::{Cell, Header, Stage};
use super::state::{TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::waker::waker_ref;
use super::{Notified, Schedule, Task};
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// A typed view of one task allocation.
pub(super) struct Harness<F: Future, S: 'static> {
    cell: NonNull<Cell<F, S>>,
}

impl<F, S> Harness<F, S>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    /// # Safety
    /// `ptr` is the header of a live `Cell<F, S>` and the caller holds a reference.
    pub(super) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Harness { cell: ptr.cast() }
    }

    fn cell(&self) -> &Cell<F, S> {
        // SAFETY: `from_raw`'s contract: the cell is live while the caller's reference is.
        unsafe { self.cell.as_ref() }
    }

    fn header_ptr(&self) -> NonNull<Header> {
        self.cell.cast()
    }

    fn state(&self) -> &super::state::State {
        &self.cell().header.state
    }

    /// Runs a `Notified`, consuming its reference.
    pub(super) fn poll(self) {
        match self.state().transition_to_running() {
            TransitionToRunning::Success => self.poll_future(),
            TransitionToRunning::Cancelled => {
                self.cancel_future();
                self.complete();
            }
            TransitionToRunning::Failed => {}
            TransitionToRunning::Dealloc => self.dealloc(),
        }
    }

    /// Holding `RUNNING`: poll once and act on the result.
    fn poll_future(self) {
        let waker = waker_ref(self.header_ptr());
        let mut cx = Context::from_waker(&waker);
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: we hold RUNNING, which gives exclusive access to the stage
                // until the task is complete (state.rs, RUNNING).
                let Stage::Running(future) = (unsafe { &mut *stage }) else {
                    unreachable!("RUNNING task without a future");
                };
                // SAFETY: the future lives in the heap cell and is never moved: it is
                // dropped in place by `take_stage`.
                unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
            })
        }));
        match res {
            Ok(Poll::Ready(output)) => {
                self.finish(Ok(output));
                self.complete();
            }
            Ok(Poll::Pending) if !self.register_once() => {
                // The scheduler is shutting down: do not start waiting.
                self.cancel_future();
                self.complete();
            }
            Ok(Poll::Pending) => match self.state().transition_to_idle() {
                TransitionToIdle::Ok => {}
                TransitionToIdle::OkNotified => {
                    // SAFETY: transition_to_idle moved our reference into this Notified.
                    let notified = unsafe { Notified::from_raw(self.header_ptr()) };
                    self.cell().scheduler.yield_now(notified);
                }
                TransitionToIdle::OkDealloc => self.dealloc(),
                TransitionToIdle::Cancelled => {
                    self.cancel_future();
                    self.complete();
                }
            },
            Err(payload) => {
                let id = self.cell().header.id;
                self.finish(Err(JoinError::panic(id, payload)));
                self.complete();
            }
        }
    }

    /// Holding `RUNNING`: hands the task to the registry the first time it is about to
    /// wait. False if the scheduler refused (shutdown).
    fn register_once(&self) -> bool {
        if self.state().load().is_registered() {
            return true;
        }
        // SAFETY: the reference reserved for the registry at spawn (task/mod.rs,
        // new_task); it is used at most once, guarded by REGISTERED (set only by the
        // RUNNING holder, which we are).
        let reserved = unsafe { Task::<S>::from_raw(self.header_ptr()) };
        match self.cell().scheduler.register(reserved) {
            Ok(()) => {
                self.state().set_registered();
                true
            }
            Err(reserved) => {
                // Still reserved: `complete` releases it.
                mem::forget(reserved);
                false
            }
        }
    }

    /// Holding `RUNNING`: replace the stage with `Consumed` and drop what it held, behind
    /// a panic guard. Returns the payload if that drop panicked.
    fn take_stage(&self) -> Result<(), Box<dyn std::any::Any + Send>> {
        let old = self.cell().stage.with_mut(|stage| {
            // SAFETY: the caller has exclusive access to the stage (RUNNING, or the
            // output-ownership rules in `complete` and `drop_join_handle`).
            unsafe { mem::replace(&mut *stage, Stage::Consumed) }
        });
        panic::catch_unwind(AssertUnwindSafe(move || drop(old)))
    }

    /// Holding `RUNNING`: drop the future and store the result. A panic while dropping
    /// the future turns the result into that panic.
    fn finish(&self, result: Result<F::Output, JoinError>) {
        let result = match self.take_stage() {
            Ok(()) => result,
            Err(payload) => {
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(result)));
                Err(JoinError::panic(self.cell().header.id, payload))
            }
        };
        self.cell().stage.with_mut(|stage| {
            // SAFETY: as in `take_stage`; the stage is `Consumed`, nothing to drop.
            unsafe { stage.write(Stage::Finished(result)) }
        });
    }

    /// Holding `RUNNING`: drop the future and store a cancelled (or, if the future's
    /// destructor panicked, a panic) `JoinError`.
    fn cancel_future(&self) {
        let id = self.cell().header.id;
        let result = match self.take_stage() {
            Ok(()) => JoinError::cancelled(id),
            Err(payload) => JoinError::panic(id, payload),
        };
        self.cell().stage.with_mut(|stage| {
            // SAFETY: as in `take_stage`; the stage is `Consumed`, nothing to drop.
            unsafe { stage.write(Stage::Finished(Err(result))) }
        });
    }

    /// Holding `RUNNING` with the output stored: publish completion, hand the output to
    /// whoever owns it, leave the owned list and release the runner's reference.
    fn complete(self) {
        let snapshot = self.state().transition_to_complete();
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            if !snapshot.is_join_interested() {
                // No JoinHandle: the output is ours to drop (state.rs, JOIN_INTEREST).
                let _ = self.take_stage();
            } else if snapshot.is_join_waker_set() {
                self.cell().join_waker.with(|waker| {
                    // SAFETY: JOIN_WAKER was set at completion, so the JoinHandle wrote
                    // the slot before and will not touch it again (state.rs, JOIN_WAKER).
                    let waker = unsafe { &*waker };
                    waker
                        .as_ref()
                        .expect("JOIN_WAKER set on an empty slot")
                        .wake_by_ref();
                });
            }
        }));
        let count = if snapshot.is_registered() {
            // SAFETY: borrowed view of our own reference; ManuallyDrop keeps it from
            // being released twice.
            let me = ManuallyDrop::new(unsafe { Task::<S>::from_raw(self.header_ptr()) });
            match self.cell().scheduler.release(&me) {
                Some(list_ref) => {
                    mem::forget(list_ref);
                    2
                }
                // Shutdown popped it and holds the registry's reference.
                None => 1,
            }
        } else {
            // Our reference and the one still reserved for the registry.
            2
        };
        if self.state().transition_to_terminal(count) {
            self.dealloc();
        }
    }

    /// Queues the task; consumes one reference.
    pub(super) fn schedule(self) {
        // SAFETY: the caller's reference carries the NOTIFIED token (vtable contract).
        let notified = unsafe { Notified::from_raw(self.header_ptr()) };
        self.cell().scheduler.schedule(notified);
    }

    /// Frees the allocation.
    pub(super) fn dealloc(self) {
        // SAFETY: the last reference is gone (vtable contract), so nobody else reaches
        // the cell; it is initialised, and dropped exactly once here.
        unsafe { std::ptr::drop_in_place(self.cell.as_ptr()) };
        let layout = std::alloc::Layout::new::<Cell<F, S>>();
        // SAFETY: allocated by `cache::allocate` with this layout in `RawTask::new`.
        unsafe { super::cache::deallocate(self.cell.cast(), layout) };
    }

    /// Cancels for shutdown, consuming the caller's reference.
    pub(super) fn shutdown(self) {
        if self.state().transition_to_shutdown() {
            self.cancel_future();
            self.complete();
        } else if self.state().ref_dec() {
            self.dealloc();
        }
    }

    /// The JoinHandle's poll.
    ///
    /// # Safety
    /// `dst` points to a `Poll<Result<F::Output, JoinError>>` and the caller is the
    /// JoinHandle.
    pub(super) unsafe fn try_read_output(
        self,
        dst: *mut Poll<Result<F::Output, JoinError>>,
        waker: &Waker,
    ) {
        if self.can_read_output(waker) {
            let output = self.cell().stage.with_mut(|stage| {
                // SAFETY: COMPLETE with JOIN_INTEREST: the JoinHandle owns the stage.
                match unsafe { mem::replace(&mut *stage, Stage::Consumed) } {
                    Stage::Finished(output) => output,
                    _ => panic!("JoinHandle polled after it returned the output"),
                }
            });
            // SAFETY: the caller guarantees `dst`'s type; the old value is `Pending`,
            // which has nothing to drop.
            unsafe { *dst = Poll::Ready(output) };
        }
    }

    /// The join waker protocol (state.rs, JOIN_WAKER): true when complete; otherwise
    /// makes sure `waker` is registered.
    fn can_read_output(&self, waker: &Waker) -> bool {
        let snapshot = self.state().load();
        if snapshot.is_complete() {
            return true;
        }
        if snapshot.is_join_waker_set() {
            let same = self.cell().join_waker.with(|slot| {
                // SAFETY: JOIN_WAKER set: the runtime may read the slot, nobody writes it;
                // a shared read is fine.
                unsafe { &*slot }
                    .as_ref()
                    .is_some_and(|w| w.will_wake(waker))
            });
            if same {
                return false;
            }
            if self.state().unset_join_waker().is_err() {
                return true;
            }
        }
        self.set_join_waker(waker.clone())
    }

    /// With JOIN_WAKER clear, write the slot then publish it. Returns true if the task
    /// completed first.
    fn set_join_waker(&self, waker: Waker) -> bool {
        self.cell().join_waker.with_mut(|slot| {
            // SAFETY: JOIN_WAKER is clear and the task is not complete: only the
            // JoinHandle (us) may touch the slot.
            unsafe { *slot = Some(waker) };
        });
        match self.state().set_join_waker() {
            Ok(_) => false,
            Err(_) => {
                self.cell().join_waker.with_mut(|slot| {
                    // SAFETY: JOIN_WAKER still clear: the slot is still ours.
                    unsafe { *slot = None };
                });
                true
            }
        }
    }

    /// The JoinHandle's destructor; consumes its reference.
    pub(super) fn drop_join_handle(self) {
        if self.state().drop_join_handle_fast().is_ok() {
            // Never polled: no output, no join waker; the other references remain.
            return;
        }
        match self.state().unset_join_interest() {
            // Complete: the output is ours to drop (state.rs, JOIN_INTEREST).
            Err(_) => {
                let _ = self.take_stage();
            }
            // Not complete: the runtime will drop the output, and the waker slot is ours.
            Ok(_) => {
                let waker = self.cell().join_waker.with_mut(|slot| {
                    // SAFETY: we just cleared JOIN_WAKER, so the runtime will not read it.
                    unsafe { (*slot).take() }
                });
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(waker)));
            }
        }
        if self.state().ref_dec() {
            self.dealloc();
        }
    }
}

/// Wakes through the state machine: the code behind `Waker::wake` / `wake_by_ref`.
pub(super) fn act_on_wake(ptr: NonNull<Header>, action: TransitionToNotified) {
    // SAFETY: the waker that called us holds a reference (or just transferred it into
    // the transition's action).
    let raw = unsafe { super::raw::RawTask::from_raw(ptr) };
    match action {
        TransitionToNotified::DoNothing => {}
        TransitionToNotified::Submit => raw.schedule(),
        TransitionToNotified::Dealloc => raw.dealloc(),
    }
}
