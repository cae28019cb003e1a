//! `LocalSet` and `spawn_local`: tasks whose futures are not `Send`, run on the thread
//! that drives the set.
//!
//! A local task is an ordinary task cell (`task/raw.rs`) whose scheduler is the set's
//! [`Shared`](shared::Shared): the same state word, `JoinHandle`, abort and `JoinError`
//! as any task. What keeps a `!Send` future on its thread is the scheduler:
//!
//! - only the thread driving the set runs its tasks (`LocalContext::tick`; the `LocalSet` is
//!   `!Send`, so that is the thread that created it);
//! - a wake on that thread, while the set is being driven, pushes the task on the set's
//!   local queue; a wake anywhere else goes through the remote queue and wakes the
//!   driver (`shared.rs` has the protocol);
//! - every task that is not complete is held by the set (a queue or the owned list)
//!   until the set's `Drop` cancels it, on the owning thread; so no other thread ever
//!   releases the last reference of a task that still holds its future.
//!
//! The set is driven by `run_until` (the future given to it and the set's tasks take
//! turns), by `LocalSet::block_on`, or by awaiting the set itself, which completes once
//! every task of the set has completed.

mod shared;

#[cfg(test)]
mod loom_tests;

use super::{new_local_task, Id, JoinHandle, Schedule, Task};
use crate::sync::Arc;
use crate::Runtime;
use shared::{Notified, Shared};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};

/// Tasks the set runs per poll before it yields to its caller (a wake of the driver
/// brings it back at once), so that the future given to `run_until`, and other work of
/// the thread, get their turn.
const BUDGET: usize = 64;

/// Tasks run between looks at the remote queue, so that tasks woken from other threads
/// are not starved by a busy local queue.
const REMOTE_INTERVAL: usize = 16;

/// A set of tasks that run on the thread that drives the set, so their futures need not
/// be `Send`.
///
/// Tasks are spawned with [`spawn_local`] (inside the set) or [`LocalSet::spawn_local`],
/// and run while the set is driven: by [`run_until`](LocalSet::run_until),
/// [`block_on`](LocalSet::block_on), or by awaiting the set, which completes when every
/// task of the set has completed. They run beside the runtime's own work: the runtime's
/// workers keep running `Send` tasks, and a local task may `heist::spawn` onto them.
///
/// A local task woken from another thread is queued back to its set and run there,
/// never on the waking thread. Dropping the set cancels its remaining tasks (their
/// futures are dropped on the set's thread); their `JoinHandle`s then resolve to a
/// cancelled [`JoinError`](crate::task::JoinError).
///
/// ```
/// use std::rc::Rc;
/// use heist::task::{self, LocalSet};
///
/// let rt = heist::Runtime::new().unwrap();
/// let local = LocalSet::new();
/// let answer = local.block_on(&rt, async {
///     let shared = Rc::new(40); // `Rc` is not `Send`
///     let shared2 = shared.clone();
///     let task = task::spawn_local(async move {
///         task::yield_now().await; // held across an `.await`
///         *shared2 + 1
///     });
///     task.await.unwrap() + (*shared - 39)
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct LocalSet {
    context: Rc<LocalContext>,
    /// `!Send` and `!Sync`: the set's tasks run on the thread that holds it.
    _not_send: PhantomData<*const ()>,
}

/// The driving thread's side of a set: its local queue and the shared part.
struct LocalContext {
    shared: Arc<Shared>,
    /// Tasks woken on the driving thread while the set was being driven. Only ever
    /// touched by that thread (this is behind an `Rc`, reached through the set or the
    /// thread-local `CURRENT`).
    local: RefCell<VecDeque<Notified>>,
}

crate::sync::thread_local! {
    /// The set being driven (or entered) on this thread.
    // Not `const`: loom's `thread_local!` (the facade's other side) has no const form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: RefCell<Option<Rc<LocalContext>>> = RefCell::new(None);
}

/// Queues `task` on its set's local queue if that set is being driven on this thread;
/// otherwise hands the task back (for the remote queue).
fn schedule_if_current(shared: &Arc<Shared>, task: Notified) -> Option<Notified> {
    let mut task = Some(task);
    let _ = CURRENT.try_with(|current| {
        if let Some(ctx) = current.borrow().as_ref() {
            if Arc::ptr_eq(&ctx.shared, shared) {
                if let Some(task) = task.take() {
                    ctx.local.borrow_mut().push_back(task);
                }
            }
        }
    });
    task
}

/// A local task is queued on its set's local queue when woken on the driving thread,
/// otherwise on the remote queue (which wakes the driver).
impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        if let Some(task) = schedule_if_current(self, task) {
            self.schedule_remote(task);
        }
    }

    fn register(&self, task: Task<Self>) -> Result<(), Task<Self>> {
        self.owned().register(task)
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned().release(task)
    }
}

/// Makes `context` current on this thread until dropped.
struct Reset {
    prev: Option<Rc<LocalContext>>,
}

fn enter(context: &Rc<LocalContext>) -> Reset {
    let prev = CURRENT.with(|current| current.borrow_mut().replace(context.clone()));
    Reset { prev }
}

impl Drop for Reset {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = prev);
    }
}

impl LocalContext {
    #[track_caller]
    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        // SAFETY: `Shared` runs the task only on the thread driving the set (`tick`, on
        // the thread that owns the `!Send` set), and the set holds every task that is
        // not complete (a queue or the owned list) until its `Drop` cancels it on this
        // thread (module doc).
        let (notified, join) =
            unsafe { new_local_task(future, self.shared.clone(), Id::next(), super::Meta::here()) };
        super::Schedule::schedule(&self.shared, notified);
        join
    }

    fn pop_local(&self) -> Option<Notified> {
        self.local.borrow_mut().pop_front()
    }

    fn append_remote(&self, mut remote: VecDeque<Notified>) {
        if !remote.is_empty() {
            self.local.borrow_mut().append(&mut remote);
        }
    }

    /// Runs up to `BUDGET` tasks, with this context current. True if tasks remain.
    fn tick(&self) -> bool {
        for n in 1..=BUDGET {
            if n % REMOTE_INTERVAL == 0 {
                self.append_remote(self.shared.take_remote());
            }
            let task = match self.pop_local() {
                Some(task) => task,
                None => {
                    self.append_remote(self.shared.take_remote());
                    match self.pop_local() {
                        Some(task) => task,
                        None => return false,
                    }
                }
            };
            task.run();
        }
        true
    }

    /// One poll of the set: register the driver's waker, take the remote queue, run a
    /// batch. Returns true if tasks remain queued (the caller wakes itself).
    fn poll_tasks(&self, cx: &mut Context<'_>) -> bool {
        self.append_remote(self.shared.register_and_take(cx.waker()));
        self.tick()
    }

    /// Every task has completed: none queued (here or remotely) and none waiting.
    fn is_done(&self) -> bool {
        self.local.borrow().is_empty() && self.shared.owned_is_empty() && {
            let remote = self.shared.take_remote();
            let empty = remote.is_empty();
            self.append_remote(remote);
            empty
        }
    }
}

impl LocalSet {
    /// An empty set.
    pub fn new() -> LocalSet {
        LocalSet {
            context: Rc::new(LocalContext {
                shared: Shared::new(),
                local: RefCell::new(VecDeque::new()),
            }),
            _not_send: PhantomData,
        }
    }

    /// Makes this set current on this thread until the guard drops, so that
    /// [`spawn_local`] spawns onto it. The tasks run when the set is next driven.
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard {
            _reset: enter(&self.context),
            _not_send: PhantomData,
        }
    }

    /// Spawns a `!Send` task onto this set. It runs when the set is driven (it may be
    /// called outside of it, before the set runs).
    ///
    /// ```
    /// use heist::task::LocalSet;
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// let local = LocalSet::new();
    /// let task = local.spawn_local(async { std::rc::Rc::new("not Send") });
    /// let out = local.block_on(&rt, task).unwrap();
    /// assert_eq!(*out, "not Send");
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.context.spawn(future)
    }

    /// Runs `future` on `rt`'s [`block_on`](Runtime::block_on), driving this set's tasks
    /// beside it, until `future` completes. Tasks still unfinished then stay in the set.
    ///
    /// # Panics
    /// As `Runtime::block_on`: on a worker thread, and inside another `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Runs `future`, driving this set's tasks beside it, until `future` completes.
    /// Tasks still unfinished then stay in the set (they run when it is driven again).
    ///
    /// ```
    /// use heist::task::{self, LocalSet};
    ///
    /// let rt = heist::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let local = LocalSet::new();
    ///     let out = local
    ///         .run_until(async { task::spawn_local(async { 7 }).await.unwrap() })
    ///         .await;
    ///     assert_eq!(out, 7);
    /// });
    /// ```
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        poll_fn(|cx| {
            let _reset = enter(&self.context);
            self.context
                .append_remote(self.context.shared.register_and_take(cx.waker()));
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            if self.context.tick() {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }
}

impl Future for LocalSet {
    type Output = ();

    /// Drives the set's tasks; ready once every task of the set has completed.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _reset = enter(&self.context);
        if self.context.poll_tasks(cx) {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else if self.context.is_done() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Default for LocalSet {
    fn default() -> LocalSet {
        LocalSet::new()
    }
}

impl Drop for LocalSet {
    /// Cancels every task of the set, on this thread: their futures are dropped here.
    fn drop(&mut self) {
        // Current, so that a future's destructor that spawns a local task spawns it here
        // (where it is cancelled below), not into a set that is gone.
        let _reset = enter(&self.context);
        let ctx = &self.context;
        // First refuse remote wakes (from now on they only release their reference; the
        // tasks they would have queued are cancelled here), then cancel every waiting
        // task, then every queued one, until destructors stop spawning.
        ctx.append_remote(ctx.shared.close());
        ctx.shared.shutdown_owned();
        while let Some(task) = ctx.pop_local() {
            task.shutdown();
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("queued", &self.context.local.borrow().len())
            .finish_non_exhaustive()
    }
}

/// Returned by [`LocalSet::enter`]: the set stays current on this thread until it drops.
#[must_use = "the set stays current only while the guard lives"]
pub struct LocalEnterGuard {
    _reset: Reset,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalEnterGuard")
    }
}

/// Spawns a `!Send` future onto the current [`LocalSet`]: the task runs on this thread.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use heist::task::{self, LocalSet};
///
/// let rt = heist::Runtime::new().unwrap();
/// LocalSet::new().block_on(&rt, async {
///     let hits = Rc::new(Cell::new(0));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let hits = hits.clone();
///             task::spawn_local(async move { hits.set(hits.get() + 1) })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(hits.get(), 3);
/// });
/// ```
///
/// # Panics
/// Outside of a `LocalSet` (neither inside `run_until`, `block_on`, a task of the set,
/// the set being awaited, nor after [`LocalSet::enter`]).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let current = CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten();
    match current {
        Some(context) => context.spawn(future),
        None => panic!(
            "`spawn_local` called from outside of a `task::LocalSet`: call it inside \
             `LocalSet::run_until` or `LocalSet::block_on`, a task of the set, or after \
             `LocalSet::enter`"
        ),
    }
}
