//! The runtime: the front door and the composition root. `Builder` puts a runtime
//! together from its three parts, side by side in its `Handle`: the scheduler
//! (`src/scheduler/`), the driver its workers park in (`driver.rs`: the timers of
//! `src/time/`) and the blocking pool (`src/blocking/`). `Runtime` owns the worker
//! threads and shuts the three down in order; `context` is the thread-local current
//! runtime; `block_on` runs a future on the calling thread; `scope` is `Handle::scope`
//! (tasks that borrow the caller's stack).
//!
//! `docs/design.md`, "Layers", draws which module may use which.

mod block_in_place;
mod block_on;
mod builder;
pub(crate) mod context;
pub(crate) mod driver;
mod handle;
mod scope;
pub(crate) mod task_builder;
#[cfg(all(test, not(heist_loom)))]
mod watch_tests;

pub use block_in_place::block_in_place;
pub use builder::Builder;
pub use context::{EnterGuard, TryCurrentError};
pub use handle::Handle;
pub use scope::{Scope, ScopedJoinHandle};

use crate::scheduler::worker;
use crate::sync::thread::JoinHandle as ThreadHandle;
use crate::task::JoinHandle;
use futures::task::{FutureObj, Spawn, SpawnError};
use std::fmt;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

/// A multi-threaded work-stealing runtime.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let a = heist::spawn(async { 40 });
///     let b = heist::spawn(async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// # Shutdown
///
/// Dropping the runtime (or [`shutdown_timeout`](Runtime::shutdown_timeout)) stops the
/// workers taking new tasks, waits for each to finish the poll it is in, then drops every
/// unfinished task's future exactly once; their `JoinHandle`s resolve to a cancelled
/// `JoinError`. Tasks spawned afterwards through a leftover [`Handle`] are cancelled at
/// once. Dropping waits for the workers without limit: a task that never returns from
/// `poll` makes it hang, so use `shutdown_timeout` when that can happen.
///
/// Blocking calls ([`spawn_blocking`](Runtime::spawn_blocking)) made before shutdown
/// began all run to completion, started or not, and are waited for: without limit on
/// drop, up to the timeout with `shutdown_timeout`, not at all with
/// `shutdown_background` (those not finished then finish on their own). Timers still
/// pending are dropped with their tasks.
pub struct Runtime {
    handle: Handle,
    threads: Vec<ThreadHandle<()>>,
}

impl Runtime {
    /// A runtime with the default configuration (see [`Builder::new`]).
    ///
    /// # Errors
    /// If a worker thread cannot be started.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_parts(handle: Handle, threads: Vec<ThreadHandle<()>>) -> Runtime {
        Runtime { handle, threads }
    }

    /// Spawns a task; it starts running on a worker right away.
    ///
    /// The returned [`JoinHandle`] yields the output; dropping it lets the task run on,
    /// detached. A panic in the task is caught and returned as a `JoinError`.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the runtime's blocking pool; see
    /// [`task::spawn_blocking`](crate::task::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, func: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(func)
    }

    /// Runs `future` to completion on the calling thread, with this runtime current
    /// (so [`spawn`](crate::spawn) works inside it). Tasks it spawns run on the workers.
    ///
    /// # Panics
    /// On a worker thread of any heist runtime (it would block the worker; `.await`
    /// instead), and inside another `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// A handle to spawn onto this runtime from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// Shuts down, waiting at most `timeout` for workers to finish their current poll
    /// and for blocking calls made before shutdown to return. Tasks still running then
    /// are cancelled after their poll by their worker, which is left to exit on its own;
    /// blocking calls not finished are left to finish on their own.
    ///
    /// # Panics
    /// On one of this runtime's own worker threads.
    #[track_caller]
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Instant::now().checked_add(timeout), true);
    }

    /// Shuts down without waiting for the workers: tasks not running are cancelled on
    /// this thread, running ones by their worker after their current poll. This is the
    /// one way to shut a runtime down from inside one of its own tasks.
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Instant::now()), false);
    }

    /// `may_block`: the caller asked to wait (drop, `shutdown_timeout`); on one of the
    /// runtime's own workers that wait is impossible, so after shutting down in the
    /// background this panics to report the mistake.
    #[track_caller]
    fn shutdown(&mut self, deadline: Option<Instant>, may_block: bool) {
        let shared = self.handle.scheduler.clone();
        let on_own_worker = worker::is_worker_of(&*shared);
        let deadline = if on_own_worker {
            Some(Instant::now())
        } else {
            deadline
        };
        if !shared.begin_shutdown() {
            return;
        }
        let all_exited = shared.wait_for_workers(deadline);
        shared.finish_shutdown();
        // The cancelled tasks' timers left the wheel as their futures dropped; close it,
        // waking any timer still registered outside a task (its poll then panics).
        self.handle.driver.shutdown();
        // Blocking pool: wait for the calls made before shutdown up to the same deadline.
        self.handle.blocking.shutdown(deadline);
        // Join only threads past their stop hooks (so joining waits for nothing but
        // their exit): a slow hook cannot hold the caller past the deadline.
        if all_exited && shared.wait_for_stopped_workers(deadline) {
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
        // Workers still in a poll or a stop hook are detached; they exit after it.
        self.threads.clear();
        if on_own_worker && may_block && !std::thread::panicking() {
            panic!(
                "a heist Runtime was dropped (or shut down with a timeout) inside one of its \
                 own tasks, where it cannot wait for its workers; it was shut down in the \
                 background instead. Use `Runtime::shutdown_background` there, or drop the \
                 Runtime outside it"
            );
        }
    }
}

impl Drop for Runtime {
    /// Shuts down and waits for the workers; see the [type docs](Runtime#shutdown).
    ///
    /// # Panics
    /// Inside one of this runtime's own tasks (after shutting down in the background).
    fn drop(&mut self) {
        self.shutdown(None, true);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish()
    }
}

/// Spawns onto the runtime; see the [`Spawn` impl of `Handle`](Handle#impl-Spawn-for-Handle).
impl Spawn for &Runtime {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.handle.spawn_obj(future)
    }

    fn status(&self) -> Result<(), SpawnError> {
        self.handle.status()
    }
}
