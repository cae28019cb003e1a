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
//! # How it works
//!
//! `docs/design.md` walks through the life of a task (spawn, wake, run, steal, park,
//! shutdown); `docs/task-states.md` is the task state machine, specified in the `task`
//! module; `docs/sleep-protocol.md` shows why no wake-up is lost. Every concurrent
//! protocol goes through the crate's `sync` facade so that loom can check it
//! (`docs/testing.md`). `docs/design.md` also covers the timing wheel and the blocking pool.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod block_on;
mod blocking;
mod builder;
mod context;
pub mod debug;
mod handle;
pub mod metrics;
mod queue;
mod runtime;
mod scheduler;
mod sync;
pub mod task;
pub mod time;

pub use builder::Builder;
pub use context::{EnterGuard, TryCurrentError};
pub use debug::{Dump, SlowPoll};
pub use handle::Handle;
pub use metrics::RuntimeMetrics;
pub use runtime::Runtime;

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
    match context::with_current(|handle| scheduler::Shared::spawn(&handle.shared, future, meta)) {
        Ok(join) => join,
        Err(e) => panic!("heist::spawn: {e}"),
    }
}
