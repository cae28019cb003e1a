//! Polling, completing and cancelling a task: the typed code behind the vtable.
//!
//! Every path that runs user code while the task is between states (polling the future,
//! dropping it, dropping the output, waking the join waker) runs behind
//! `catch_unwind`, so a panic there is turned into a `JoinError` or ignored and never
//! leaves the state word half-updated.
//!
//! Also what a task and the scheduler that owns it see of each other: the [`Schedule`]
//! trait the typed code calls, and the scheduler's two kinds of reference to a task
//! ([`Task`] in the owned-tasks registry, [`Notified`] in a queue). They live with the
//! cell (this file and `raw.rs`, a type and its vtable) because the cell names them and
//! they wrap the cell; `spawn.rs` allocates a task and hands out its first handles. The
//! reference rules are the table in `task/mod.rs`.

use super::error::{Failure, JoinError};
use super::id::IdGuard;
use super::raw::{waker_ref, Cell, Header, RawTask, Stage};
use super::state::{Snapshot, TransitionToIdle, TransitionToRunning};
use crate::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::Release};
use std::future::Future;
use std::marker::PhantomData;
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
    F: Future + 'static,
    F::Output: 'static,
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

    /// Runs a `Notified`, consuming its reference. Returns true if the task completed
    /// (or was cancelled) here. `running`: where the poller published this task's id
    /// (`metrics/worker.rs`; `Notified::run` passes a cell of its own, having entered
    /// the id for `task::try_id` itself); see `withdraw`. Not an `Option`: its tests were
    /// 4 instructions per poll, and a second copy of the poll per task type (one per
    /// case) stopped the future's poll from being inlined into it.
    pub(super) fn poll(self, running: &AtomicU64) -> bool {
        let transition = self.state().transition_to_running();
        if !matches!(transition, TransitionToRunning::Success) {
            withdraw(running);
        }
        match transition {
            TransitionToRunning::Success => self.poll_future(running),
            TransitionToRunning::Cancelled => {
                self.cancel_future();
                self.complete(true);
                true
            }
            TransitionToRunning::Failed => false,
            TransitionToRunning::Dealloc => {
                self.dealloc();
                false
            }
        }
    }

    /// Holding `RUNNING`: poll once and act on the result. Returns true if the task
    /// completed.
    fn poll_future(self, running: &AtomicU64) -> bool {
        // The poller published the id, where `task::try_id` finds it (`poll`).
        // SAFETY: we are the poller, holding the task's reference for the whole poll,
        // longer than the borrowed waker lives.
        let waker = unsafe { waker_ref(self.header_ptr()) };
        let mut cx = Context::from_waker(&waker);
        let res = panic::catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: we hold RUNNING and the task is not complete, so the stage holds
                // the future and we have exclusive access to it (raw.rs, Stage). It lives
                // in the heap cell and is never moved: `drop_future` drops it in place.
                unsafe { Pin::new_unchecked(&mut *(*stage).future) }.poll(&mut cx)
            })
        }));
        // The id stays published while the future is dropped (its destructor is still
        // this task's code, and `try_id` finds it there), and is withdrawn before
        // `complete` or `transition_to_idle` can let the task be seen done or moved on.
        match res {
            Ok(Poll::Ready(output)) => {
                let failed = self.finish(Ok(output), true);
                withdraw(running);
                self.complete(failed);
                true
            }
            Err(payload) => {
                let failed = self.finish(Err(Failure::panic(payload)), true);
                withdraw(running);
                self.complete(failed);
                true
            }
            Ok(Poll::Pending) => {
                // A task about to wait registers before it withdraws its id: the dump
                // reads the published ids before the registry, so it finds the task in
                // one or the other.
                let registered = self.register_once();
                let yielded = withdraw_pending(running);
                self.after_pending(registered, yielded)
            }
        }
    }

    /// Holding `RUNNING`, the future returned `Pending` (its id withdrawn; `registered`:
    /// the registry took it; `yielded`: it asked its worker to requeue it): wait, or go
    /// to the back of the queue if woken meanwhile or yielded. Returns true if the task
    /// was cancelled here.
    fn after_pending(self, registered: bool, yielded: bool) -> bool {
        if !registered {
            // The scheduler is shutting down: do not start waiting.
            self.cancel_future();
            self.complete(true);
            return true;
        }
        match self.state().transition_to_idle(yielded) {
            TransitionToIdle::Ok => false,
            TransitionToIdle::OkNotified => {
                // SAFETY: transition_to_idle moved our reference into this Notified.
                let notified = unsafe { Notified::from_raw(self.header_ptr()) };
                self.cell().scheduler.yield_now(notified);
                false
            }
            TransitionToIdle::OkDealloc => {
                self.dealloc();
                false
            }
            TransitionToIdle::Cancelled => {
                self.cancel_future();
                self.complete(true);
                true
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

    /// Holding `RUNNING`, not complete: drop the future in place, behind a panic guard.
    /// Afterwards the stage holds nothing until `store` writes the result. Returns the
    /// payload if the future's destructor panicked. `published`: the polling worker
    /// still publishes the task's id (`poll_future`), so `try_id` needs no guard.
    fn drop_future(&self, published: bool) -> Result<(), Box<dyn std::any::Any + Send>> {
        let _id = (!published).then(|| IdGuard::enter(self.cell().header.id));
        panic::catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: RUNNING and not complete: the future is live and ours alone
                // (raw.rs, Stage); it is dropped exactly once, here. A destructor that
                // panics still counts as dropped.
                unsafe { ManuallyDrop::drop(&mut (*stage).future) }
            })
        }))
    }

    /// Holding `RUNNING`, after `drop_future`: write the result into the empty stage.
    /// Returns true if it is a failure (the `FAILED` flag `complete` must publish).
    fn store(&self, result: Result<F::Output, Failure>) -> bool {
        let failed = result.is_err();
        let value = match result {
            Ok(output) => Stage {
                output: ManuallyDrop::new(output),
            },
            Err(failure) => Stage {
                failure: ManuallyDrop::new(failure),
            },
        };
        self.cell().stage.with_mut(|stage| {
            // SAFETY: the stage is empty (the future was dropped) and ours (RUNNING);
            // writing does not drop the old bytes.
            unsafe { stage.write(value) }
        });
        failed
    }

    /// Drops the result stored in the stage, behind a panic guard.
    ///
    /// # Safety
    /// The task is complete with a result still in the stage (`COMPLETE` and
    /// `JOIN_INTEREST`, or the completer before it published that there is no handle),
    /// the caller owns it, `failed` is the `FAILED` flag, and nobody reads it again.
    unsafe fn drop_output(&self, failed: bool) {
        let _id = IdGuard::enter(self.cell().header.id);
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            self.cell().stage.with_mut(|stage| {
                // SAFETY: the caller owns the live result and says which field it is.
                unsafe {
                    if failed {
                        ManuallyDrop::drop(&mut (*stage).failure);
                    } else {
                        ManuallyDrop::drop(&mut (*stage).output);
                    }
                }
            })
        }));
    }

    /// Holding `RUNNING`: drop the future and store the result. A panic while dropping
    /// the future turns the result into that panic. Returns true if the stored result is
    /// a failure.
    fn finish(&self, result: Result<F::Output, Failure>, published: bool) -> bool {
        let result = match self.drop_future(published) {
            Ok(()) => result,
            Err(payload) => {
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(result)));
                Err(Failure::panic(payload))
            }
        };
        self.store(result)
    }

    /// Holding `RUNNING`: drop the future and store a cancellation (or, if the future's
    /// destructor panicked, that panic).
    fn cancel_future(&self) {
        let failure = match self.drop_future(false) {
            Ok(()) => Failure::cancelled(),
            Err(payload) => Failure::panic(payload),
        };
        self.store(Err(failure));
    }

    /// Holding `RUNNING` with the result stored (`failed`: it is a `Failure`): publish
    /// completion, hand the output to whoever owns it, leave the owned-tasks registry and release
    /// the runner's reference.
    fn complete(self, failed: bool) {
        let now = self.state().load();
        if !now.is_join_interested() {
            return self.complete_detached(failed, now.is_registered());
        }
        let snapshot = self.state().transition_to_complete(failed);
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            if !snapshot.is_join_interested() {
                // SAFETY: no JoinHandle: the result is ours to drop (state.rs,
                // JOIN_INTEREST), and `failed` says which it is.
                unsafe { self.drop_output(failed) };
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
        let count = self.leave_registry(snapshot.is_registered());
        if self.state().transition_to_terminal(count) {
            self.dealloc();
        }
    }

    /// `complete` for a task whose `JoinHandle` is gone (`JOIN_INTEREST` was clear when
    /// the completer looked, and is never set again), the common end of a detached
    /// spawn: nobody but the completer will read the result, so it drops it before
    /// publishing completion, leaves the registry, and publishes `COMPLETE` and releases
    /// its references in one read-modify-write, where a task with a handle needs two
    /// (the handle must see `COMPLETE` before the completer lets go of the cell).
    fn complete_detached(self, failed: bool, registered: bool) {
        // SAFETY: no JoinHandle: the result is ours (state.rs, JOIN_INTEREST; we still
        // hold RUNNING), and `failed` says which it is.
        unsafe { self.drop_output(failed) };
        let count = self.leave_registry(registered);
        if self
            .state()
            .transition_to_complete_and_terminal(failed, count)
        {
            self.dealloc();
        }
    }

    /// The completer takes the task out of the owned-tasks registry if it is there
    /// (`registered`); returns how many references it then releases: its own and the
    /// registry's (still reserved, or handed back by the registry), or only its own
    /// when shutdown already took the task out and holds the registry's.
    fn leave_registry(&self, registered: bool) -> usize {
        if !registered {
            // Our reference and the one still reserved for the registry.
            return 2;
        }
        // SAFETY: borrowed view of our own reference; ManuallyDrop keeps it from being
        // released twice.
        let me = ManuallyDrop::new(unsafe { Task::<S>::from_raw(self.header_ptr()) });
        match self.cell().scheduler.release(&me) {
            Some(list_ref) => {
                mem::forget(list_ref);
                2
            }
            // Shutdown popped it and holds the registry's reference.
            None => 1,
        }
    }

    /// Queues the task; consumes one reference.
    pub(super) fn schedule(self) {
        // SAFETY: the caller's reference carries the NOTIFIED token (vtable contract).
        let notified = unsafe { Notified::from_raw(self.header_ptr()) };
        self.cell().scheduler.schedule(notified);
    }

    /// Frees the allocation, dropping the future if the task never completed.
    ///
    /// Runs user code (the future's destructor, the join waker's) on whatever thread
    /// releases the last reference, often a worker; each drop is behind a panic guard and
    /// a panic is dropped, as no `JoinHandle` is left to report it to (the panic hook
    /// has reported it). The allocation is freed whatever panicked.
    pub(super) fn dealloc(self) {
        // Freeing counts as a write to the cell's fields (the allocator may hand the
        // memory out again): every access made through another reference must happen
        // before it, through the reference releases' `AcqRel`. These touch nothing; they
        // let loom check that ordering (its `UnsafeCell` records them; the real one
        // compiles them away).
        self.cell().stage.with_mut(|_| ());
        self.cell().join_waker.with_mut(|_| ());
        if !self.state().load().is_complete() {
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                self.cell().stage.with_mut(|stage| {
                    // SAFETY: the last reference is gone, so nobody else reaches the cell;
                    // a task that is not complete still holds its future (raw.rs, Stage).
                    // Dropped once: a destructor that panics still counts as dropped.
                    unsafe { ManuallyDrop::drop(&mut (*stage).future) }
                })
            }));
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: as above; the cell is initialised and dropped exactly once here (the
            // stage's fields are `ManuallyDrop`: a complete task's result was already
            // dropped or taken, see raw.rs, Stage). If a field's destructor (the join
            // waker's) panics, the drop glue still drops the other fields as it unwinds.
            unsafe { std::ptr::drop_in_place(self.cell.as_ptr()) }
        }));
        let layout = std::alloc::Layout::new::<Cell<F, S>>();
        // SAFETY: allocated by `cache::allocate` with this layout in `RawTask::new`.
        unsafe { super::cache::deallocate(self.cell.cast(), layout) };
    }

    /// Cancels for shutdown, consuming the caller's reference.
    pub(super) fn shutdown(self) {
        if self.state().transition_to_shutdown() {
            self.cancel_future();
            self.complete(true);
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
        let Some(snapshot) = self.can_read_output(waker) else {
            return;
        };
        assert!(
            snapshot.is_join_interested(),
            "JoinHandle polled after it returned the output"
        );
        let output = self.cell().stage.with_mut(|stage| {
            // SAFETY: COMPLETE with JOIN_INTEREST: the result is in the stage and the
            // JoinHandle (the caller) owns it; FAILED (published with COMPLETE, which our
            // Acquire load saw) says which field. Moved out once: the handle marks
            // itself (`task/join.rs`) and neither reads nor drops it again.
            unsafe {
                if snapshot.is_failed() {
                    let failure = ManuallyDrop::take(&mut (*stage).failure);
                    Err(failure.into_error(self.cell().header.id))
                } else {
                    Ok(ManuallyDrop::take(&mut (*stage).output))
                }
            }
        });
        // SAFETY: the caller guarantees `dst`'s type; the old value is `Pending`, which has
        // nothing to drop.
        unsafe { *dst = Poll::Ready(output) };
    }

    /// The join waker protocol (state.rs, JOIN_WAKER): the state once complete (read with
    /// `Acquire`, so the result is visible); otherwise makes sure `waker` is registered
    /// and returns `None`.
    fn can_read_output(&self, waker: &Waker) -> Option<Snapshot> {
        let snapshot = self.state().load();
        if snapshot.is_complete() {
            return Some(snapshot);
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
                return None;
            }
            if let Err(snapshot) = self.state().unset_join_waker() {
                return Some(snapshot);
            }
        }
        // A clone is user code. If it panics, nothing is half done (JOIN_WAKER is clear
        // and the slot keeps the old waker, for the next poll or `dealloc` to drop), and
        // the panic goes to whoever polled the handle: in a task, it is that task's
        // panic, reported like any panic in its poll.
        self.set_join_waker(waker.clone())
    }

    /// With JOIN_WAKER clear, write the slot then publish it. Returns the state if the
    /// task completed first.
    ///
    /// The wakers it replaces are dropped after the slot and the state agree, behind a
    /// panic guard: a user waker's destructor cannot leave the hand-off half done.
    fn set_join_waker(&self, waker: Waker) -> Option<Snapshot> {
        let old = self.cell().join_waker.with_mut(|slot| {
            // SAFETY: JOIN_WAKER is clear and the task is not complete: only the
            // JoinHandle (us) may touch the slot.
            unsafe { (*slot).replace(waker) }
        });
        drop_waker_guarded(old);
        match self.state().set_join_waker() {
            Ok(_) => None,
            Err(snapshot) => {
                let ours = self.cell().join_waker.with_mut(|slot| {
                    // SAFETY: JOIN_WAKER still clear: the slot is still ours.
                    unsafe { (*slot).take() }
                });
                drop_waker_guarded(ours);
                Some(snapshot)
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
            // Complete, and the output was not taken: it is ours to drop (state.rs,
            // JOIN_INTEREST).
            Err(snapshot) if snapshot.is_join_interested() => {
                // SAFETY: COMPLETE with JOIN_INTEREST: the result is in the stage and we,
                // the handle, own it; FAILED says which field it is.
                unsafe { self.drop_output(snapshot.is_failed()) };
            }
            // Complete without interest: not reached, as the interest is cleared only
            // here before completion and a handle that took the output is marked and
            // releases its reference without coming here (`task/join.rs`).
            Err(_) => {}
            // Not complete: the runtime will drop the output, and the waker slot is ours.
            Ok(_) => {
                let waker = self.cell().join_waker.with_mut(|slot| {
                    // SAFETY: we just cleared JOIN_WAKER, so the runtime will not read it.
                    unsafe { (*slot).take() }
                });
                drop_waker_guarded(waker);
            }
        }
        if self.state().ref_dec() {
            self.dealloc();
        }
    }
}

/// Clears the id a worker published for this poll (`metrics/worker.rs`), once the
/// future's poll (and, if it finished, the drop of the future) is over and before any
/// transition lets another thread see the task complete, or queue and run it again
/// elsewhere: so a dump that saw a task complete (or move on) never finds it still
/// published as running here. Each transition after this store releases it. A task
/// about to wait for the first time registers before this (the registration lets no
/// other thread run or complete it: shutdown only marks a running task cancelled), so
/// the task is never in neither place (`debug/dump.rs`).
#[inline]
fn withdraw(running: &AtomicU64) {
    // `Release`: a dump that reads the id withdrawn then sees the registration that
    // came before (`debug/dump.rs`). A plain store on x86.
    running.store(0, Release);
}

/// Set in the task id a worker publishes for its poll (`metrics/worker.rs`) when the
/// task asked, in that poll, to be requeued: read back as the poll returns `Pending`
/// (`task/harness.rs`, `withdraw_pending`). Ids never reach it (they are counted up from
/// 1 in blocks of 1,024); every reader of a published id masks it off.
pub(crate) const YIELD_REQUESTED: u64 = 1 << 63;

/// `withdraw` after a poll that returned `Pending`, reading first whether the task asked
/// its worker to requeue it in that poll (`task::YIELD_REQUESTED`, set by `yield_now`
/// through the worker that published the id). Only this thread writes the cell between
/// polls, so a load before the store reads the last value (a plain load on x86).
#[inline]
fn withdraw_pending(running: &AtomicU64) -> bool {
    let published = running.load(Relaxed);
    withdraw(running);
    published & YIELD_REQUESTED != 0
}

/// Drops a join waker (user code) behind a panic guard. A panic is dropped: the caller
/// is the runtime or a `JoinHandle` in the middle of the hand-off, with nobody to report
/// it to but the panic hook, which already did.
fn drop_waker_guarded(waker: Option<Waker>) {
    if waker.is_some() {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(waker)));
    }
}

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
        // No worker publishes the id: this thread's `task::try_id` answers it for the
        // whole run, and the poll withdraws it from a cell nobody reads.
        let _id = IdGuard::enter(raw.header().id);
        let unpublished = AtomicU64::new(0);
        mem::forget(self);
        // SAFETY: this `Notified` owned one reference and the NOTIFIED token; forgotten
        // above, so both are given up to the poll.
        unsafe { raw.poll(&unpublished) }
    }

    /// As `run`, on a worker that published this task's id in `running`
    /// (`metrics/worker.rs`): the id is withdrawn (zeroed) as soon as the future's poll
    /// returns, before the task can complete or be queued again.
    pub(crate) fn run_published(self, running: &crate::sync::atomic::AtomicU64) -> bool {
        let raw = self.0.raw;
        mem::forget(self);
        // SAFETY: as in `run`.
        unsafe { raw.poll(running) }
    }

    /// The task's header (id, spawn location, name, state).
    pub(crate) fn header(&self) -> &Header {
        self.0.raw.header()
    }
}
