//! One allocation per task: its layout, its vtable, and the type-erased `RawTask`.
//!
//! ```text
//! Cell<F, S> (repr(C), one Box):
//!   Header      state word | &'static Vtable | Id | Meta | polls | owned-list slot
//!   scheduler   S (the runtime's handle; used to requeue the task on wake)
//!   stage       union { future: F, output: F::Output, failure: Failure }
//!   join_waker  Option<Waker> (the JoinHandle's waker; see JOIN_WAKER)
//! ```
//!
//! The stage carries no tag of its own: the state word says which field is live (see
//! [`Stage`]). For a small future with a `()` output the stage is one word and the cell
//! 72 bytes (`cell_sizes` below).
//!
//! A pointer to the `Header` is a pointer to the `Cell` (`repr(C)`, header first), so the
//! run queues, wakers and handles carry one thin pointer and reach the typed code through
//! the vtable.

use super::error::Failure;
use super::harness::{Harness, Schedule};
use super::id::Id;
use super::meta::Meta;
use super::state::{State, TransitionToNotified};
use crate::sync::atomic::AtomicU64;
use crate::sync::UnsafeCell;
use std::alloc::Layout;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

/// The type-independent first part of every task.
#[repr(C)]
pub(crate) struct Header {
    /// The state word; see `task/state.rs`.
    pub(crate) state: State,
    /// The typed functions for this task's `F` and `S`.
    pub(crate) vtable: &'static Vtable,
    /// The task's id, fixed at spawn.
    pub(crate) id: Id,
    /// Where it was spawned and its name (`meta.rs`), fixed at spawn.
    pub(crate) meta: Meta,
    /// Polls so far (a statistic for the dump): bumped by the worker holding the task's
    /// `Notified` just before it runs it.
    pub(crate) polls: crate::sync::stat::AtomicU32,
    /// The task's slot in its owned-tasks registry shard (`task/list.rs`; [`NO_SLOT`]
    /// when in none). Read and written only under that shard's lock. With `polls` it
    /// fills one word: a small task's cell is 72 bytes, not 88 as with two link words.
    pub(crate) owned: UnsafeCell<u32>,
}

impl AsRef<Meta> for Header {
    /// The task's spawn location and name (what `meta::Polling::enter` records into).
    fn as_ref(&self) -> &Meta {
        &self.meta
    }
}

/// `Header::owned` of a task in no owned-tasks registry shard (`task/list.rs`).
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// What the task's cell holds as it progresses. Which field is live follows from the
/// state word (state.rs) and from who is looking:
///
/// - not `COMPLETE`: `future`, except inside the `RUNNING` holder between dropping the
///   future and publishing `COMPLETE`, when the holder writes the result;
/// - `COMPLETE` and `JOIN_INTEREST`: the result, owned by the `JoinHandle`; `output` if
///   `FAILED` is clear, `failure` if it is set;
/// - `COMPLETE` without `JOIN_INTEREST`: nothing; the result was dropped by the completer
///   (no handle) or taken or dropped by the handle.
///
/// So a cell freed while `COMPLETE` holds nothing to drop, and one freed before holds the
/// future.
pub(crate) union Stage<F: Future> {
    pub(crate) future: ManuallyDrop<F>,
    pub(crate) output: ManuallyDrop<F::Output>,
    pub(crate) failure: ManuallyDrop<Failure>,
}

/// The whole task allocation.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) scheduler: S,
    pub(crate) stage: UnsafeCell<Stage<F>>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

/// Typed entry points, one static table per `(F, S)`.
pub(crate) struct Vtable {
    /// Run a `Notified`: consumes its reference. Returns true if the task completed.
    /// The cell holds the id the poller published; it is zeroed before the task
    /// completes.
    pub(crate) poll: unsafe fn(NonNull<Header>, &AtomicU64) -> bool,
    /// Hand a `Notified` (one reference) to the scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Free the allocation (the last reference is gone).
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// `JoinHandle::poll`: write `Poll<Result<F::Output, JoinError>>` to the pointer.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// `JoinHandle::drop`: consumes the handle's reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>),
    /// Cancel for shutdown: consumes the caller's reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

fn vtable<F, S>() -> &'static Vtable
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

crate::sync::thread_local! {
    /// Whether this thread is inside `RawTask::dealloc` (see there): `IDLE`, `FREEING`,
    /// or `QUEUED` (freeing, and a nested call queued a task in `PENDING`). (No `const`
    /// initialiser: loom's `thread_local!` does not take one.)
    #[allow(clippy::missing_const_for_thread_local)]
    static FREES: std::cell::Cell<u8> = std::cell::Cell::new(IDLE);

    /// The frees that nested calls left to the outermost one on this thread.
    #[allow(clippy::missing_const_for_thread_local)]
    static PENDING: std::cell::RefCell<Vec<RawTask>> = std::cell::RefCell::new(Vec::new());
}

/// `FREES`: no free under way on this thread.
const IDLE: u8 = 0;
/// `FREES`: a free is under way, nothing queued.
const FREEING: u8 = 1;
/// `FREES`: a free is under way and `PENDING` may hold tasks (only then does the
/// outermost call look at it: a free that nests nothing touches one thread-local).
const QUEUED: u8 = 2;

/// A type-erased pointer to a task. Copying it does not take a reference: every
/// `RawTask` is held by an owner of one (a `Task`, `Notified`, `JoinHandle`,
/// `AbortHandle` or `Waker`), and its methods document whose reference they consume.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    /// Allocates a task in the state `State::new` describes (three references).
    pub(crate) fn new<F, S>(future: F, scheduler: S, id: Id, meta: Meta) -> RawTask
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        // SAFETY: the future and its output are `Send`: any thread may poll, cancel or
        // drop them.
        unsafe { RawTask::new_unchecked(future, scheduler, id, meta) }
    }

    /// Allocates a task whose future or output need not be `Send` (local tasks,
    /// `task/local/`).
    ///
    /// # Safety
    /// The task's `Send` handles (`Task`, `Notified`, wakers, `AbortHandle`) may reach
    /// other threads, so the caller guarantees, through `S`, that the future is polled
    /// and dropped, and the output dropped by the runtime, only on the thread that owns
    /// it: `S` runs and cancels the task on that thread only, and keeps a reference to
    /// every task that is not complete until it has cancelled the task there (so the
    /// last reference of a task that still holds its future is never released
    /// elsewhere).
    pub(crate) unsafe fn new_unchecked<F, S>(future: F, scheduler: S, id: Id, meta: Meta) -> RawTask
    where
        F: Future + 'static,
        F::Output: 'static,
        S: Schedule,
    {
        let ptr = super::cache::allocate(Layout::new::<Cell<F, S>>()).cast::<Cell<F, S>>();
        let cell = ptr.as_ptr();
        // SAFETY: a fresh block with the size and alignment of `Cell<F, S>`; each field is
        // written once, in place (building the cell on the stack and copying it over
        // showed up in spawn profiles as a stall on the copy).
        unsafe {
            (&raw mut (*cell).header).write(Header {
                state: State::new(),
                vtable: vtable::<F, S>(),
                id,
                meta,
                polls: crate::sync::stat::AtomicU32::new(0),
                owned: UnsafeCell::new(NO_SLOT),
            });
            (&raw mut (*cell).scheduler).write(scheduler);
            (&raw mut (*cell).stage).write(UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }));
            (&raw mut (*cell).join_waker).write(UnsafeCell::new(None));
        }
        RawTask { ptr: ptr.cast() }
    }

    /// # Safety
    /// `ptr` points to a live task header and the caller owns (or borrows from an owner)
    /// one reference for as long as the `RawTask` is used.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask exists only while someone holds a reference (type invariant),
        // so the allocation is live; the header's fields are shared-safe (atomics, or
        // cells whose access rules are documented on the field).
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn state(&self) -> &State {
        &self.header().state
    }

    /// Runs a `Notified`; consumes its reference. Returns true if the task completed (or
    /// was cancelled) in this run. `running`: see `Vtable::poll`.
    ///
    /// # Safety
    /// The caller owns the `Notified`'s reference (and its `NOTIFIED` token) and gives it
    /// up: no copy of this `RawTask` uses that reference afterwards.
    pub(crate) unsafe fn poll(self, running: &AtomicU64) -> bool {
        // SAFETY: the vtable was built for this cell's F and S; the caller gives up the
        // Notified reference, which `poll` consumes.
        unsafe { (self.header().vtable.poll)(self.ptr, running) }
    }

    /// Queues the task; consumes one reference, which becomes the `Notified`'s.
    ///
    /// # Safety
    /// The caller owns one reference that carries the `NOTIFIED` token, and gives it up.
    pub(crate) unsafe fn schedule(self) {
        // SAFETY: as for `poll`; the caller's reference carries the NOTIFIED token.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// Cancels for shutdown; consumes one reference.
    ///
    /// # Safety
    /// The caller owns one reference and gives it up.
    pub(crate) unsafe fn shutdown(self) {
        // SAFETY: as for `poll`.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Drops the `JoinHandle`'s interest; consumes its reference.
    ///
    /// # Safety
    /// The caller is the task's `JoinHandle`, dropping it: called once.
    pub(crate) unsafe fn drop_join_handle(self) {
        // SAFETY: as for `poll`; called once, by the JoinHandle's destructor.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr) }
    }

    /// # Safety
    /// `dst` points to a `Poll<Result<T, JoinError>>` where `T` is this task's output type,
    /// and the caller is the task's `JoinHandle`.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: the caller guarantees the type of `dst` and that it is the JoinHandle.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    pub(crate) fn ref_inc(self) {
        self.state().ref_inc();
    }

    /// This pointer with its lowest bit set: the mark a `JoinHandle` keeps once it has
    /// returned the output (`task/join.rs`). A header is aligned to at least 8, so the
    /// bit is free; a marked `RawTask` is never dereferenced, only `unmarked`.
    #[inline]
    pub(super) fn marked(self) -> RawTask {
        RawTask {
            ptr: self.ptr.map_addr(|addr| addr | 1),
        }
    }

    /// Whether `marked` made this pointer.
    #[inline]
    pub(super) fn is_marked(self) -> bool {
        self.ptr.addr().get() & 1 != 0
    }

    /// The pointer without the mark.
    #[inline]
    pub(super) fn unmarked(self) -> RawTask {
        RawTask {
            // SAFETY: a header's address with its lowest bit cleared is still its
            // address (aligned to 8), never zero.
            ptr: self
                .ptr
                .map_addr(|addr| unsafe { NonZeroUsize::new_unchecked(addr.get() & !1) }),
        }
    }

    /// Releases one reference, freeing the task if it was the last.
    ///
    /// # Safety
    /// The caller owns one reference and gives it up.
    pub(crate) unsafe fn drop_reference(self) {
        if self.state().ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { self.dealloc() };
        }
    }

    /// Frees the task.
    ///
    /// Frees run one after another on a thread, never inside one another: freeing a task
    /// drops its join waker, which may release the last reference to the task that
    /// awaited it, whose join waker may release the next, and so on down a chain of
    /// finished tasks as long as the program made it. A free that starts while another
    /// is under way on this thread is queued, and the outer one frees it next, so the
    /// stack stays flat however long the chain. A free that nests nothing (the common
    /// case) touches only `FREES`, not the queue.
    ///
    /// # Safety
    /// The last reference was just released (by the caller): nobody else can reach the
    /// allocation.
    pub(crate) unsafe fn dealloc(self) {
        let queued = FREES.try_with(|frees| {
            if frees.get() == IDLE {
                frees.set(FREEING);
                return false;
            }
            frees.set(QUEUED);
            PENDING
                .try_with(|pending| pending.borrow_mut().push(self))
                .is_ok()
        });
        match queued {
            Ok(true) => {}
            Ok(false) => {
                let mut task = Some(self);
                while let Some(next) = task {
                    // SAFETY: the caller's contract, or, for a queued task, that of the
                    // nested call that queued it (nobody else reaches it); the vtable
                    // matches the cell.
                    unsafe { (next.header().vtable.dealloc)(next.ptr) };
                    // The next queued task, or back to idle once there is none.
                    task = FREES
                        .try_with(|frees| {
                            if frees.get() == QUEUED {
                                let queued = PENDING.try_with(|p| p.borrow_mut().pop());
                                if let Ok(Some(queued)) = queued {
                                    return Some(queued);
                                }
                            }
                            frees.set(IDLE);
                            None
                        })
                        .ok()
                        .flatten();
                }
            }
            // The thread's locals are being destroyed: free in place.
            // SAFETY: the caller's contract; the vtable matches the cell.
            Err(_) => unsafe { (self.header().vtable.dealloc)(self.ptr) },
        }
    }

    /// Acts on a wake's transition (the code behind `Waker::wake` / `wake_by_ref`):
    /// queues the task with the reference the transition handed over, or frees it.
    ///
    /// # Safety
    /// The caller's waker holds a reference (or, for `wake`, just transferred it into the
    /// transition's action): `action` came from `transition_to_notified_by_*` on this task.
    pub(crate) unsafe fn wake(self, action: TransitionToNotified) {
        match action {
            TransitionToNotified::DoNothing => {}
            // SAFETY: the transition made the reference passed in carry the NOTIFIED token.
            TransitionToNotified::Submit => unsafe { self.schedule() },
            // SAFETY: the transition released the last reference.
            TransitionToNotified::Dealloc => unsafe { self.dealloc() },
        }
    }

    /// `abort()`: cancel, and queue the task if it was waiting so a worker drops it.
    pub(crate) fn remote_abort(self) {
        let action = self.state().transition_to_notified_and_cancel();
        assert!(
            !matches!(action, TransitionToNotified::Dealloc),
            "abort never releases a reference"
        );
        // SAFETY: the abort's transition added the reference a `Submit` hands over.
        unsafe { self.wake(action) }
    }
}

// The vtable entries: each rebuilds the typed harness. SAFETY for all of them: the
// vtable is only installed by `vtable::<F, S>()` into a `Cell<F, S>`, so the cast is to
// the real type; reference ownership is as documented on `Vtable`.

unsafe fn poll<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>, running: &AtomicU64) -> bool
where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries.
    unsafe { Harness::<F, S>::from_raw(ptr) }.poll(running)
}

unsafe fn schedule<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>)
where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries.
    unsafe { Harness::<F, S>::from_raw(ptr) }.schedule();
}

unsafe fn dealloc<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>)
where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries.
    unsafe { Harness::<F, S>::from_raw(ptr) }.dealloc();
}

unsafe fn try_read_output<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries; `dst` is typed by the JoinHandle.
    unsafe { Harness::<F, S>::from_raw(ptr).try_read_output(dst.cast(), waker) };
}

unsafe fn drop_join_handle<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>)
where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries.
    unsafe { Harness::<F, S>::from_raw(ptr) }.drop_join_handle();
}

unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>)
where
    F::Output: 'static,
{
    // SAFETY: see the note above the vtable entries.
    unsafe { Harness::<F, S>::from_raw(ptr) }.shutdown();
}

// The task's `Waker` (its vtable, like the cell's, lives with the cell): a thin
// pointer to the header and one reference.
//
// Wakers may be cloned, woken and dropped from any thread any number of times; what a
// wake does is decided by the state machine (`state.rs`): a waiting task is queued once,
// a running task is requeued after its poll, a complete task is left alone.

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

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
    let raw = RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the vtable's functions uphold the RawWaker contract for a live task header
    // pointer (the caller's contract); ManuallyDrop keeps the borrowed reference from
    // being released.
    let waker = unsafe { Waker::from_raw(raw) };
    WakerRef {
        waker: ManuallyDrop::new(waker),
    }
}

/// The id of the task `waker` wakes, if it is a heist task's waker (any runtime's, local
/// tasks' too).
pub(super) fn waker_task_id(waker: &Waker) -> Option<Id> {
    if !std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
        return None;
    }
    // SAFETY: a waker with this vtable was made by `waker_ref` or `waker_clone` from a
    // live task header, and holds (or borrows the poller's) reference to the task for as
    // long as it lives, so the header is live; its id is immutable.
    Some(unsafe { (*waker.data().cast::<Header>()).id })
}

/// # Safety
/// `data` is a task header pointer whose reference the calling waker owns.
unsafe fn waker_task(data: *const ()) -> RawTask {
    // SAFETY: wakers are only built by `waker_ref` and `waker_clone` from live header
    // pointers, which are never null.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) }
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from one of our wakers (RawWakerVTable contract).
    unsafe { waker_task(data) }.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, whose reference this call consumes.
    let raw = unsafe { waker_task(data) };
    let action = raw.state().transition_to_notified_by_val();
    // SAFETY: the waker's reference went into the transition's action.
    unsafe { raw.wake(action) };
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, which keeps its reference.
    let raw = unsafe { waker_task(data) };
    let action = raw.state().transition_to_notified_by_ref();
    // SAFETY: the waker holds a reference; the transition added the one a `Submit`
    // hands over.
    unsafe { raw.wake(action) };
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: `data` came from one of our wakers, whose reference this call releases.
    unsafe { waker_task(data).drop_reference() };
}

#[cfg(all(test, not(heist_loom), target_pointer_width = "64"))]
mod tests {
    use super::Cell;
    use std::mem::size_of;

    #[test]
    fn cell_sizes() {
        // header 40 (state, vtable, id, spawn location / name word, poll count and
        // registry slot) + scheduler 8 + stage 8 (the failure word) + join waker 16: the
        // 72-byte class of `cache.rs`.
        assert_eq!(
            size_of::<Cell<std::future::Pending<()>, std::sync::Arc<()>>>(),
            72
        );
        // A future larger than a word sets the stage's size; the stage adds no tag.
        assert_eq!(
            size_of::<Cell<std::future::Ready<[u64; 4]>, std::sync::Arc<()>>>(),
            104
        );
    }
}
