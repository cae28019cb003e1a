//! `JoinHandle` and `AbortHandle`: the user's side of a task.

use super::error::JoinError;
use super::raw::RawTask;
use super::Id;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned permission to await a task's output, and to cancel it.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked or was
/// cancelled. Dropping it *detaches* the task: the task keeps running and its output is
/// dropped when it completes.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// let handle = rt.spawn(async { 6 * 7 });
/// assert_eq!(rt.block_on(handle).unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    /// The task, `marked` (`raw.rs`) once this handle has returned the output: the
    /// handle then owns no result, only its reference. The task's `JOIN_INTEREST` stays
    /// set (after completion only the handle reads it), so taking the output costs no
    /// read-modify-write of the state word, and the drop releases the reference alone.
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out (by value, on the polling thread) and touches the
// task through its atomic state protocol, so it may move between threads when `T: Send`.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: every `&self` method (`abort`, `is_finished`, `id`) works through atomics only.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

// A panic cannot leave a handle broken: it owns no user state (the output stays in the
// task until it is read, and is moved out whole), and the task's own state changes in
// single atomic steps. So code may hold one across `catch_unwind`, whatever `T`, as with
// tokio's.
impl<T> std::panic::UnwindSafe for JoinHandle<T> {}
impl<T> std::panic::RefUnwindSafe for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` is a task whose output type is `T`, and the caller gives the handle the
    /// task's JOIN_INTEREST and one reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// The task, without the mark.
    #[inline]
    fn task(&self) -> RawTask {
        self.raw.unmarked()
    }

    /// The task's header, for as long as the handle lives.
    fn header(&self) -> &super::Header {
        // SAFETY: the handle holds a reference to the task (marked or not), so the
        // allocation outlives `&self`; the header's fields are shared-safe.
        unsafe { self.task().header_ptr().as_ref() }
    }

    /// Cancels the task.
    ///
    /// A waiting or queued task is dropped by a worker soon after; a running task is
    /// dropped right after its current poll; a finished task is left as it is. Awaiting
    /// the handle of a task cancelled before it finished yields a cancelled `JoinError`.
    pub fn abort(&self) {
        self.task().remote_abort();
    }

    /// True once the task has completed, been cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.task().state().load().is_complete()
    }

    /// The task's name, if it was spawned with one ([`Builder::name`](super::Builder::name)).
    ///
    /// ```
    /// let rt = heist::Runtime::new().unwrap();
    /// let _enter = rt.enter();
    /// let handle = heist::task::Builder::new().name("ticker").spawn(async {}).unwrap();
    /// assert_eq!(handle.name(), Some("ticker"));
    /// assert_eq!(rt.spawn(async {}).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.header().meta.name()
    }

    /// Where the task was spawned (the caller of `spawn`, through `#[track_caller]`).
    pub fn spawned_at(&self) -> &'static std::panic::Location<'static> {
        self.header().meta.location()
    }

    /// A handle that can abort the task but not await it.
    pub fn abort_handle(&self) -> AbortHandle {
        self.task().ref_inc();
        AbortHandle { raw: self.task() }
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(
            !this.raw.is_marked(),
            "JoinHandle polled after it returned the output"
        );
        let mut ret: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: `ret` has the task's output type (`from_raw` contract), we are the
        // JoinHandle, and we have not taken the output (not marked).
        unsafe {
            this.raw
                .try_read_output(&mut ret as *mut _ as *mut (), cx.waker())
        };
        if ret.is_pending() {
            let raw = this.raw;
            super::meta::waiting_at_lazy(super::meta::WAIT_JOIN, || raw.header().meta.location());
        } else {
            // The output is the caller's now: remember it here, not in the task.
            this.raw = this.raw.marked();
        }
        ret
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if self.raw.is_marked() {
            // SAFETY: the output was taken; the handle holds one reference, released
            // once, here.
            unsafe { self.task().drop_reference() };
        } else {
            // SAFETY: this is the task's `JoinHandle`, dropped once.
            unsafe { self.raw.drop_join_handle() };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// A handle that cancels a task without awaiting it. Cloneable; dropping it does nothing
/// to the task.
pub struct AbortHandle {
    raw: RawTask,
}

// SAFETY: an AbortHandle touches the task only through its atomic state word.
unsafe impl Send for AbortHandle {}
// SAFETY: as above.
unsafe impl Sync for AbortHandle {}

// As for `JoinHandle`: nothing a panic could leave half-updated.
impl std::panic::UnwindSafe for AbortHandle {}
impl std::panic::RefUnwindSafe for AbortHandle {}

impl AbortHandle {
    /// Cancels the task; see [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// True once the task has completed, been cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.raw.state().load().is_complete()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        self.raw.ref_inc();
        AbortHandle { raw: self.raw }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: this `AbortHandle` owns one reference, released once, here.
        unsafe { self.raw.drop_reference() };
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}
