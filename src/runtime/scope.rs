//! `Handle::scope`: tasks that borrow from the caller's stack, run on the runtime's
//! workers, with the caller blocked until every one of them is gone.
//!
//! A scoped future is not `'static`, so it cannot be a task as it is. `Scope::spawn`
//! wraps it in a [`ScopedTask`], boxes that as a `dyn Future + Send + 'scope`, erases
//! the lifetime, and spawns the box as an ordinary task. The erasure is what needs an
//! argument; [`Handle::scope`] gives it, and this module keeps it:
//!
//! - every `ScopedTask` counts itself in its scope's `running` count when it is made and
//!   counts itself out as the very last thing its destructor does, after it has dropped
//!   the user's future and its own hold on the output slot;
//! - `Handle::scope` does not return, or unwind, before that count is zero.
//!
//! A task cell may outlive the scope (a `JoinHandle` or a waker keeps it), but by then
//! it holds only the `()` output of a future that was dropped: nothing that borrows.

use crate::scheduler::worker;
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::{Id, JoinError, JoinHandle};
use crate::Handle;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

type Payload = Box<dyn Any + Send + 'static>;

impl Handle {
    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack, and
    /// returns `f`'s result once every task spawned in the scope has finished, as
    /// [`std::thread::scope`] does for threads.
    ///
    /// The tasks run on this runtime's workers while the calling thread blocks. If a
    /// task panics, and its panic was not received through its [`ScopedJoinHandle`],
    /// the panic is re-raised here (the first one, with its own payload) once every
    /// other task has finished. If `f` itself panics, `scope` still waits for every task
    /// before the panic continues.
    ///
    /// ```
    /// let rt = heist::Runtime::new().unwrap();
    /// let words = vec!["borrowed", "from", "the", "stack"];
    /// let mut total = 0;
    /// let longest = rt.handle().scope(|s| {
    ///     let lens: Vec<_> = words
    ///         .iter()
    ///         .map(|w| s.spawn(async move { w.len() })) // borrows `words`
    ///         .collect();
    ///     s.spawn(async { total = words.len() }); // borrows `total` mutably
    ///     rt.block_on(async {
    ///         let mut longest = 0;
    ///         for len in lens {
    ///             longest = longest.max(len.await.unwrap());
    ///         }
    ///         longest
    ///     })
    /// });
    /// assert_eq!((longest, total), (8, 4));
    /// ```
    ///
    /// # Panics
    /// On a worker thread of any heist runtime (before spawning anything): blocking a
    /// worker until other tasks finish can deadlock the runtime. Call it from a thread
    /// of your own, from [`spawn_blocking`](crate::task::spawn_blocking), or from
    /// outside the runtime. Also re-raises a task's panic, as above.
    ///
    /// # Safety (why this is sound)
    ///
    /// A scoped future borrows data that lives for `'env` (the caller's stack), and is
    /// handed to the runtime as if it were `'static`. That is sound because nothing
    /// that borrows can be touched after `scope` returns or unwinds:
    ///
    /// 1. *Every scoped future is counted.* `Scope::spawn` counts the task in (`running
    ///    += 1`) before it hands anything to the runtime. The count is taken out only by
    ///    the wrapper's destructor, and only after it has dropped the user's future
    ///    (and, with it, every borrow) and its share of the output slot (the output may
    ///    borrow too; the rest of the slot belongs to the `ScopedJoinHandle`, which
    ///    cannot leave the scope). The wrapper catches panics of the future's `poll` and
    ///    `Drop`, so an unwinding future still reaches the count.
    /// 2. *`scope` waits for the count on every path.* The closure runs under
    ///    `catch_unwind`; whether it returns or panics, `scope` then blocks until
    ///    `running == 0`, and only then returns or resumes the panic. No borrow ends
    ///    before `scope` does, so none ends while a future can still use it.
    /// 3. *Every future is eventually dropped, or `scope` never returns.* A task ends by
    ///    completing (the runtime drops the future right after its last poll), by
    ///    `abort`, or by shutdown: if the runtime shuts down while the scope waits
    ///    (dropped on another thread, `shutdown_timeout`, `shutdown_background`), every
    ///    task is cancelled, queued ones by the shutdown and running ones by their
    ///    worker after the current poll, and cancelling drops the future; a task spawned
    ///    into a runtime already shut down is dropped at once. If instead a runtime is
    ///    leaked with tasks in it (`mem::forget`), their futures are never dropped and
    ///    `scope` waits forever: a hang, never a dangling borrow. The same holds if a
    ///    worker leaks a task cell: cells are freed only through the task's reference
    ///    count, and freeing a cell whose future is still in it drops that future first.
    /// 4. *A scoped `JoinHandle` cannot escape.* The closure is
    ///    `for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R`, so neither the
    ///    `&Scope` nor a [`ScopedJoinHandle<'scope, T>`] can be part of `R`, as in
    ///    `std::thread::scope`. The task's cell may outlive the scope, but it then holds
    ///    only the `()` output of the wrapper.
    /// 5. *The caller is not a worker.* A worker blocked here could be the one the
    ///    scoped tasks need; `scope` refuses to start on one (a deadlock is not unsound,
    ///    but it is a bug this check turns into a clear panic).
    ///
    /// `tests/scope.rs` runs under miri (`scripts/miri.sh`), which checks these borrows
    /// on real workers, the shutdown path included.
    #[track_caller]
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        if worker::is_worker() {
            panic!(
                "`Handle::scope` called on a heist worker thread: it blocks until its tasks \
                 finish, and blocking a worker can deadlock the runtime; call it from \
                 another thread or from `spawn_blocking`"
            );
        }
        let scope = Scope {
            handle: self.clone(),
            state: Arc::new(ScopeState::default()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
        // Point 2 of the safety argument: on every path, before anything else.
        scope.state.wait_all();
        match result {
            Err(payload) => panic::resume_unwind(payload),
            Ok(value) => {
                if let Some(payload) = scope.state.take_panic() {
                    panic::resume_unwind(payload);
                }
                value
            }
        }
    }
}

/// Spawns tasks that may borrow from the stack of [`Handle::scope`]'s caller.
///
/// `'env` is the lifetime of what the tasks borrow; `'scope` is the scope itself, which
/// ends before `Handle::scope` returns.
pub struct Scope<'scope, 'env: 'scope> {
    handle: Handle,
    state: Arc<ScopeState>,
    // Invariant in both lifetimes, as std's `Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a task onto the scope's runtime. The future may borrow anything that
    /// outlives the scope; `Handle::scope` returns only after the task has finished and
    /// its future has been dropped.
    ///
    /// Awaiting the returned handle yields the output (or a `JoinError`); dropping it
    /// detaches the task, which the scope still waits for.
    pub fn spawn<F>(&'scope self, future: F) -> ScopedJoinHandle<'scope, F::Output>
    where
        F: Future + Send + 'scope,
        F::Output: Send + 'scope,
    {
        let slot = Arc::new(Slot {
            result: Mutex::new(None),
            state: self.state.clone(),
        });
        let task = ScopedTask::new(future, slot.clone(), self.state.clone());
        let task: Pin<Box<dyn Future<Output = ()> + Send + 'scope>> = Box::pin(task);
        // SAFETY: only the lifetime bound changes (same type, same vtable). The box is
        // used as `'static` by the runtime, but everything in it that borrows for
        // `'scope` is dropped before the `ScopedTask` counts itself out of the scope,
        // and `Handle::scope` does not return before every task counted itself out
        // (`Handle::scope`, "Safety", points 1 to 3).
        let task: Pin<Box<dyn Future<Output = ()> + Send + 'static>> =
            unsafe { mem::transmute(task) };
        ScopedJoinHandle {
            join: self.handle.spawn(task),
            slot,
            _scope: PhantomData,
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &*self.state.running.lock())
            .finish_non_exhaustive()
    }
}

/// An owned permission to await a scoped task's output, as a
/// [`JoinHandle`](crate::task::JoinHandle) is for a task. It cannot outlive its scope.
pub struct ScopedJoinHandle<'scope, T> {
    join: JoinHandle<()>,
    slot: Arc<Slot<T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Cancels the task; see [`JoinHandle::abort`](crate::task::JoinHandle::abort).
    pub fn abort(&self) {
        self.join.abort();
    }

    /// True once the task has completed, been cancelled, or panicked.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.join.id()
    }
}

impl<T> Future for ScopedJoinHandle<'_, T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let done = match Pin::new(&mut self.join).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        let id = self.join.id();
        match (self.slot.result.lock().take(), done) {
            (Some(Ok(output)), _) => Poll::Ready(Ok(output)),
            (Some(Err(payload)), _) => Poll::Ready(Err(JoinError::from_panic(id, payload))),
            (None, Err(e)) => Poll::Ready(Err(e)),
            (None, Ok(())) => unreachable!("a scoped task completed without a result"),
        }
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// What every task of one scope shares with the caller of `Handle::scope`. `'static`:
/// it borrows nothing, so the tasks may hold it after they counted themselves out.
#[derive(Default)]
struct ScopeState {
    /// Scoped tasks whose wrapper has not been dropped yet.
    running: Mutex<usize>,
    all_done: Condvar,
    /// The first panic of a task that nobody received through its handle.
    panic: Mutex<Option<Payload>>,
}

impl ScopeState {
    fn count_in(&self) {
        *self.running.lock() += 1;
    }

    fn count_out(&self) {
        let mut running = self.running.lock();
        *running -= 1;
        if *running == 0 {
            self.all_done.notify_all();
        }
    }

    fn wait_all(&self) {
        let mut running = self.running.lock();
        while *running > 0 {
            self.all_done.wait(&mut running);
        }
    }

    fn record_panic(&self, payload: Payload) {
        let mut first = self.panic.lock();
        if first.is_none() {
            *first = Some(payload);
        } else {
            drop(first);
            // A payload's destructor is user code.
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
        }
    }

    fn take_panic(&self) -> Option<Payload> {
        self.panic.lock().take()
    }
}

/// Where a scoped task leaves its result for its `ScopedJoinHandle`. A panic still in
/// it when the slot is dropped (nobody awaited the handle) goes to the scope.
struct Slot<T> {
    result: Mutex<Option<Result<T, Payload>>>,
    state: Arc<ScopeState>,
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if let Some(Err(payload)) = self.result.lock().take() {
            self.state.record_panic(payload);
        }
    }
}

/// The future the runtime runs for a scoped task: the user's future, with panics caught
/// and the result put in the slot, counted in its scope from `new` to the end of `drop`.
struct ScopedTask<F: Future> {
    /// Structurally pinned: polled in place, dropped in place (never moved out).
    future: Option<F>,
    /// Dropped (with the `Arc`'s share of the output) before counting out.
    slot: Option<Arc<Slot<F::Output>>>,
    state: Arc<ScopeState>,
}

impl<F: Future> ScopedTask<F> {
    fn new(future: F, slot: Arc<Slot<F::Output>>, state: Arc<ScopeState>) -> Self {
        state.count_in();
        ScopedTask {
            future: Some(future),
            slot: Some(slot),
            state,
        }
    }

    /// Drops the user's future in place (if still there); a panic in its destructor is
    /// returned.
    fn drop_future(future: Pin<&mut Option<F>>) -> Result<(), Payload> {
        let mut future = future;
        panic::catch_unwind(AssertUnwindSafe(|| future.set(None)))
    }

    fn store(&mut self, result: Result<F::Output, Payload>) {
        if let Some(slot) = &self.slot {
            *slot.result.lock() = Some(result);
        }
    }
}

impl<F: Future> Future for ScopedTask<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned: it is only reached through this
        // `Pin`, dropped in place (`Pin::set`, or the field's own drop in `Drop`), and
        // never moved out; `ScopedTask` is not `Unpin` unless `F` is. The other fields
        // are not pinned and are only reached by `&mut`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut future = unsafe { Pin::new_unchecked(&mut this.future) };
        let Some(inner) = future.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let result = match panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(payload) => Err(payload),
        };
        // Drop the future now, as the runtime would: a panic there wins over the output.
        let result = match Self::drop_future(future) {
            Ok(()) => result,
            Err(payload) => {
                let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(result)));
                Err(payload)
            }
        };
        this.store(result);
        Poll::Ready(())
    }
}

impl<F: Future> Drop for ScopedTask<F> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs on a pinned value that is never used again; dropping the
        // future in place is what pinning allows.
        let future = unsafe { Pin::new_unchecked(&mut self.future) };
        if let Err(payload) = Self::drop_future(future) {
            // Cancelled, and the future panicked in its destructor: report it.
            self.store(Err(payload));
        }
        // Our share of the slot (and, if the handle is gone, the output or the panic,
        // which the slot hands to the scope).
        let slot = self.slot.take();
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(slot)));
        // Last: from here on nothing of ours borrows for `'scope` (module doc).
        self.state.count_out();
    }
}
