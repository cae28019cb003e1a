//! heist: a multi-threaded, work-stealing executor for Rust futures.
//!
//! # A short tour
//!
//! A [`Runtime`] starts one worker thread per core. Each worker owns a local run queue;
//! tasks spawned or woken from outside go to a global injector; idle workers steal about
//! half of a busy peer's queue; workers with nothing to do park until work arrives.
//!
//! ```
//! use heist::Runtime;
//!
//! let rt = Runtime::builder().worker_threads(2).build().unwrap();
//! let total = rt.block_on(async {
//!     // `heist::spawn` works anywhere inside the runtime.
//!     let handles: Vec<_> = (0..10u64).map(|i| heist::spawn(async move { i * i })).collect();
//!     let mut total = 0;
//!     for h in handles {
//!         total += h.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 285);
//! ```
//!
//! Tasks are cancelled with [`JoinHandle::abort`](task::JoinHandle::abort); a panicking
//! task does not take its worker down, its handle returns a [`JoinError`](task::JoinError):
//!
//! ```
//! let rt = heist::Runtime::new().unwrap();
//! let err = rt.block_on(rt.spawn(async { panic!("boom") })).unwrap_err();
//! assert!(err.is_panic());
//! // The runtime keeps working.
//! assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7);
//! ```
//!
//! Code written against `futures::task::Spawn` runs on a [`Handle`] unchanged:
//!
//! ```
//! use futures::task::SpawnExt;
//! let rt = heist::Runtime::new().unwrap();
//! let out = rt.block_on(rt.handle().spawn_with_handle(async { "hi" }).unwrap());
//! assert_eq!(out, "hi");
//! ```
//!
//! Timers ([`time`]) are driven by the workers themselves, and blocking work goes to a
//! separate pool of threads ([`task::spawn_blocking`]):
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = heist::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let file_len = heist::task::spawn_blocking(|| 42 /* e.g. read a file */);
//!     let len = heist::time::timeout(Duration::from_secs(5), file_len).await;
//!     assert_eq!(len.unwrap().unwrap(), 42);
//!     heist::time::sleep(Duration::from_millis(1)).await;
//! });
//! ```
//!
//! Blocking code that must stay on the current thread runs in
//! [`task::block_in_place`], which hands the worker's queued work to another thread
//! meanwhile. For tests, the clock can be paused ([`Builder::start_paused`],
//! [`time::pause`]): timers then take no real time and fire in deadline order, with any
//! number of workers:
//!
//! ```
//! use std::time::Duration;
//! use heist::time::{timeout, Instant};
//!
//! let rt = heist::Runtime::builder().start_paused(true).build().unwrap();
//! rt.block_on(async {
//!     let start = Instant::now();
//!     let never = std::future::pending::<()>();
//!     assert!(timeout(Duration::from_secs(30), never).await.is_err()); // at once
//!     assert_eq!(start.elapsed(), Duration::from_secs(30));
//! });
//! ```
//!
//! # Groups of tasks, and the `main` and `test` attributes
//!
//! A [`JoinSet`](task::JoinSet) runs a group of tasks and hands back their results as
//! they finish (O(1) work per finished task); dropping it aborts the ones still running.
//! `#[heist::main]` and `#[heist::test]` (default feature `macros`) run an `async fn` on
//! a runtime of its own:
//!
//! ```
//! use heist::task::JoinSet;
//!
//! #[heist::main(worker_threads = 2)]
//! async fn main() {
//!     let mut set = JoinSet::new();
//!     for i in 0..5u32 {
//!         set.spawn(async move { i * 10 });
//!     }
//!     let mut total = 0;
//!     while let Some(res) = set.join_next().await {
//!         total += res.unwrap();
//!     }
//!     assert_eq!(total, 100);
//! }
//! # // rustdoc wraps this example in a `fn main` of its own, which calls ours:
//! # main();
//! ```
//!
//! Task-local values ([`task_local!`]) follow a task across workers, and
//! [`task::id`] names the running task:
//!
//! ```
//! heist::task_local! {
//!     static REQUEST: u64;
//! }
//!
//! let rt = heist::Runtime::new().unwrap();
//! let task = rt.spawn(REQUEST.scope(7, async {
//!     heist::task::yield_now().await;
//!     (REQUEST.get(), heist::task::id())
//! }));
//! let id = task.id();
//! assert_eq!(rt.block_on(task).unwrap(), (7, id));
//! ```
//!
//! # Tasks that are not `Send`, and tasks that borrow
//!
//! Futures that are not `Send` run on a [`LocalSet`](task::LocalSet), on the thread that
//! drives it, beside the workers; [`Handle::scope`] runs tasks that borrow from the
//! caller's stack on the workers, and returns once they have all finished:
//!
//! ```
//! use heist::task::{self, LocalSet};
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let rt = heist::Runtime::new().unwrap();
//! let log = Rc::new(RefCell::new(Vec::new())); // not Send
//! LocalSet::new().block_on(&rt, async {
//!     let log2 = log.clone();
//!     let task = task::spawn_local(async move {
//!         // Woken by a task on a worker; still runs on this thread.
//!         let n = heist::spawn(async { 6 * 7 }).await.unwrap();
//!         log2.borrow_mut().push(n);
//!     });
//!     task.await.unwrap();
//! });
//! assert_eq!(*log.borrow(), [42]);
//!
//! let chunks = [vec![1, 2], vec![3, 4]];
//! let mut sums = [0, 0];
//! rt.handle().scope(|s| {
//!     for (chunk, sum) in chunks.iter().zip(&mut sums) {
//!         s.spawn(async move { *sum = chunk.iter().sum() }); // borrows both arrays
//!     }
//! });
//! assert_eq!(sums, [3, 7]);
//! ```
//!
//! Sockets ([`net`]) run on a reactor that the workers host too (a parked worker waits
//! in `epoll_wait`), with tokio's names:
//!
//! ```
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = heist::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (mut a, mut b) = heist::net::UnixStream::pair().unwrap();
//!     a.write_all(b"ping").await.unwrap();
//!     let mut buf = [0; 4];
//!     b.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"ping");
//! });
//! ```
//!
//! # How it works
//!
//! `docs/design.md` walks through the life of a task (spawn, wake, run, steal, park,
//! shutdown); `docs/task-states.md` is the task state machine, specified in the `task`
//! module; `docs/sleep-protocol.md` shows why no wake-up is lost. Every concurrent
//! protocol goes through the crate's `sync` facade so that loom can check it
//! (`docs/testing.md`). `docs/design.md` also covers the timing wheel and the blocking pool.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod blocking;
pub mod debug;
pub mod io;
pub mod metrics;
pub mod net;
mod runtime;
mod scheduler;
mod sync;
pub mod task;
pub mod time;

pub use debug::{Dump, SlowPoll};
/// Runs `async fn main` on a heist runtime; see the [crate docs](crate#groups-of-tasks-and-the-main-and-test-attributes).
///
/// Arguments: `worker_threads = N` (default: one per core), `flavor = "multi_thread"`
/// (heist's only flavor), `crate = "path"` (where heist is, if renamed). A clear
/// compile error for anything else, and for a function that is not `async`.
#[cfg(feature = "macros")]
pub use heist_macros::main;
/// Runs an `async fn` test on a heist runtime of its own; same arguments as
/// [`main`](macro@main).
///
/// ```
/// #[heist::test(worker_threads = 2)]
/// async fn spawned_tasks_run() {
///     assert_eq!(heist::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
#[cfg(feature = "macros")]
pub use heist_macros::test;
pub use metrics::RuntimeMetrics;
pub use runtime::{Builder, EnterGuard, Handle, Runtime, Scope, ScopedJoinHandle, TryCurrentError};

use std::future::Future;

/// Spawns a task onto the current runtime.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = heist::spawn(async { "from a task" });
///     assert_eq!(h.await.unwrap(), "from a task");
/// });
/// ```
///
/// # Panics
/// Outside a runtime (not in a task, `block_on`, or after `Runtime::enter`).
#[track_caller]
pub fn spawn<F>(future: F) -> task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let meta = task::Meta::here();
    // On a worker, its own runtime (one thread-local lookup); elsewhere the current one.
    scheduler::worker::with_current(|worker| match worker {
        Some(worker) => worker.spawn(future, meta),
        None => match runtime::context::with_current(|handle| {
            scheduler::Shared::spawn_remote(&handle.scheduler, future, meta)
        }) {
            Ok(join) => join,
            Err(e) => panic!("heist::spawn: {e}"),
        },
    })
}
