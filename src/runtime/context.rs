//! The thread-local runtime context: which runtime is current on this thread (inside
//! its workers, `block_on` and `Runtime::enter`), whether the thread is inside
//! `block_on`, and that `block_on`'s cooperative budget (`with_poll_budget` finds the
//! budget of the poll running on this thread, `task/coop.rs`). Which *worker* a thread
//! runs is the scheduler's own thread-local (`scheduler/worker.rs`).

use super::handle::Handle;
use crate::scheduler::worker;
use crate::task::coop::{Budget, PollBudget};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

struct RuntimeContext {
    /// The current runtime, for `Handle::current` and `heist::spawn` off the workers.
    handle: RefCell<Option<Handle>>,
    /// `EnterGuard`s alive on this thread: each records the depth it made, so one dropped
    /// out of order is caught.
    depth: Cell<usize>,
    /// Inside `block_on`.
    blocking: Cell<bool>,
    /// The cooperative budget of `block_on`'s polls (`task/coop.rs`), while one runs on
    /// this thread; null otherwise.
    budget: Cell<*const Budget>,
}

crate::sync::thread_local! {
    // Not `const`: loom's `thread_local!` (the facade's other side) has no const form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CONTEXT: RuntimeContext = RuntimeContext {
        handle: RefCell::new(None),
        depth: Cell::new(0),
        blocking: Cell::new(false),
        budget: Cell::new(std::ptr::null()),
    };
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    destroyed: bool,
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.destroyed {
            f.write_str("the heist runtime context is being torn down on this thread")
        } else {
            f.write_str(
                "there is no heist runtime on this thread: call this from inside a task, \
                 `Runtime::block_on`, or after `Runtime::enter`",
            )
        }
    }
}

impl std::error::Error for TryCurrentError {}

// The current runtime is this file's: `Handle`'s methods that read or set it live here,
// so `handle.rs` does not import the context that stores a `Handle`.
impl Handle {
    /// The handle of the runtime this code runs on (inside a task, `block_on`, or after
    /// [`Runtime::enter`](crate::Runtime::enter)).
    ///
    /// # Panics
    /// Outside a runtime; see [`Handle::try_current`].
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => panic!("Handle::current: {e}"),
        }
    }

    /// The handle of the current runtime, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        with_current(Handle::clone)
    }

    /// Makes this runtime current on this thread until the guard drops, so that
    /// [`spawn`](crate::spawn) and [`Handle::current`] work outside a task.
    pub fn enter(&self) -> EnterGuard {
        enter(self.clone())
    }
}

/// Runs `f` with the current runtime's handle, without cloning it.
pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> Result<R, TryCurrentError> {
    CONTEXT
        .try_with(|ctx| match ctx.handle.borrow().as_ref() {
            Some(h) => Ok(f(h)),
            None => Err(TryCurrentError { destroyed: false }),
        })
        .unwrap_or(Err(TryCurrentError { destroyed: true }))
}

/// Makes `handle` current until the guard drops.
///
/// Guards nest: each restores, as it drops, the runtime that was current when it was
/// made, so they must be dropped in the reverse order of their making, on the thread
/// that made them. A guard is not `Send`:
///
/// ```compile_fail
/// let rt = heist::Runtime::new().unwrap();
/// let guard = rt.enter();
/// std::thread::spawn(move || drop(guard));
/// ```
///
/// # Panics
/// On drop, if a guard made after it on this thread is still alive (dropped out of
/// order), as tokio's does; the runtime context is then left as it is.
#[must_use = "the runtime stays current only while the guard lives"]
pub struct EnterGuard {
    prev: Option<Handle>,
    /// This guard's place in the thread's stack of guards.
    depth: usize,
    /// On a worker of another runtime: that worker stands aside while the guard lives,
    /// so `heist::spawn` here goes to the entered runtime (`scheduler/worker.rs`).
    worker: Option<worker::CurrentGuard>,
    /// Not `Send`: it restores this thread's context (a `MutexGuard` is `Sync`, not
    /// `Send`).
    _not_send: PhantomData<std::sync::MutexGuard<'static, ()>>,
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let other_worker = worker::is_worker() && !worker::is_worker_of(&*handle.scheduler);
    let worker = other_worker.then(worker::CurrentGuard::suspend);
    let (prev, depth) = CONTEXT.with(|ctx| {
        let depth = ctx.depth.get() + 1;
        ctx.depth.set(depth);
        (ctx.handle.borrow_mut().replace(handle), depth)
    });
    EnterGuard {
        prev,
        depth,
        worker,
        _not_send: PhantomData,
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CONTEXT.try_with(|ctx| {
            if ctx.depth.get() != self.depth {
                if std::thread::panicking() {
                    // Unwinding already: a second panic would abort.
                    return;
                }
                panic!(
                    "heist: `EnterGuard`s dropped out of order: guards returned by \
                     `Runtime::enter` / `Handle::enter` must be dropped in the reverse order \
                     of their making, on the thread that made them"
                );
            }
            ctx.depth.set(self.depth - 1);
            *ctx.handle.borrow_mut() = prev;
        });
        // The worker this guard set aside (if any) comes back.
        drop(self.worker.take());
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

/// A blocking-pool thread makes its runtime current and holds its paused clock through
/// the runtime's handle.
impl crate::blocking::Host for Handle {
    type Entered = EnterGuard;

    fn enter(&self) -> EnterGuard {
        self.enter()
    }

    fn inhibit_auto_advance(&self) {
        self.time().inhibit_auto_advance();
    }

    fn allow_auto_advance(&self) {
        self.time().allow_auto_advance();
    }
}

/// Marks this thread as inside `block_on` until the guard drops.
pub(crate) struct BlockingGuard(());

/// Enters `block_on`.
///
/// # Panics
/// On a worker thread (blocking it could deadlock the runtime) and inside another
/// `block_on`.
#[track_caller]
pub(crate) fn enter_blocking() -> BlockingGuard {
    let on_worker = worker::is_worker();
    CONTEXT.with(|ctx| {
        if on_worker {
            panic!(
                "`block_on` called on a heist worker thread: blocking a worker can deadlock \
                 the runtime; `.await` the future instead, or use `spawn`"
            );
        }
        if ctx.blocking.replace(true) {
            panic!("`block_on` called inside `block_on`: `.await` the inner future instead");
        }
    });
    BlockingGuard(())
}

impl Drop for BlockingGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|ctx| ctx.blocking.set(false));
    }
}

/// The cooperative budget the poll running on this thread spends (`task/coop.rs`): its
/// worker's, else the one of the `block_on` it runs in, else none (a thread that polls
/// with its own executor: no budget, as in tokio). The worker's is looked up first: one
/// thread-local read on the workers, where servers run.
#[inline]
pub(crate) fn with_poll_budget<R>(f: impl FnOnce(Option<PollBudget<'_>>) -> R) -> R {
    worker::poll_budget(|budget| {
        let budget = budget.or_else(|| {
            let ptr = CONTEXT
                .try_with(|ctx| ctx.budget.get())
                .unwrap_or(std::ptr::null());
            // SAFETY: set by `enter_budget` to a budget that outlives the guard which
            // clears it, and only read on this thread.
            unsafe { ptr.as_ref() }.map(Budget::current)
        });
        // One call of `f`, so that it can be inlined (the I/O loop is its body).
        f(budget)
    })
}

/// Makes `budget` the one this thread's polls spend until the guard drops
/// (`block_on`'s; it starts each poll with `Budget::new_poll`).
pub(crate) fn enter_budget(budget: &Budget) -> BudgetGuard<'_> {
    let prev = CONTEXT.with(|ctx| ctx.budget.replace(budget));
    BudgetGuard {
        prev,
        _budget: PhantomData,
    }
}

/// Restores the budget `enter_budget` replaced.
pub(crate) struct BudgetGuard<'a> {
    prev: *const Budget,
    _budget: PhantomData<&'a Budget>,
}

impl Drop for BudgetGuard<'_> {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|ctx| ctx.budget.set(self.prev));
    }
}
