//! The blocking pool: threads for closures that block (file I/O, CPU-heavy work, calls
//! into blocking libraries), so they never hold up a worker.
//!
//! A blocking call is an ordinary heist task (`task/`): one allocation holding a future
//! that runs the closure once at its first poll, with the usual `JoinHandle`, panic
//! capture into `JoinError`, abort (effective until the closure starts) and owned-task
//! registry. Only its scheduler differs: `Schedule` for the pool queues it for a pool
//! thread instead of a worker (`pool.rs`).

mod pool;

pub(crate) use pool::{run_hook, Hook, Host, Pool, PoolConfig};

use crate::runtime::context;
use crate::task::JoinHandle;

/// Runs a blocking closure on the current runtime's blocking pool, returning a handle to
/// its result.
///
/// Use it for work that would hold up a worker thread: blocking I/O, waiting on locks or
/// channels of blocking libraries, long computations. The pool starts threads on demand,
/// up to [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads), and
/// lets them go after [`Builder::thread_keep_alive`](crate::Builder::thread_keep_alive)
/// without work. The closure runs with the runtime current, so it may
/// [`spawn`](crate::spawn) tasks and create timers.
///
/// A panic in the closure is caught and returned as a [`JoinError`](crate::task::JoinError).
/// Aborting the handle cancels the call if it has not started; a call that has started
/// runs to the end.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     heist::task::spawn_blocking(|| (1..=100u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 5050);
/// ```
///
/// # Shutdown
/// A call made before the runtime's shutdown began always runs to completion, whether
/// or not a pool thread had started it, and shutdown waits for it (dropping the
/// runtime without limit, [`shutdown_timeout`](crate::Runtime::shutdown_timeout) up to
/// its timeout; see [`Runtime`](crate::Runtime#shutdown)). A call made once
/// the runtime has shut down is cancelled at once: its handle yields a cancelled
/// `JoinError`. (tokio may cancel a
/// call that no thread started yet; heist never does.)
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let rt = heist::Runtime::new().unwrap();
/// let ran = Arc::new(AtomicBool::new(false));
/// let r = ran.clone();
/// rt.spawn_blocking(move || r.store(true, Ordering::SeqCst));
/// drop(rt);
/// assert!(ran.load(Ordering::SeqCst));
/// ```
///
/// # Panics
/// Outside a runtime (not in a task, `block_on`, or after `Runtime::enter`).
#[track_caller]
pub fn spawn_blocking<F, R>(func: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let meta = crate::task::Meta::here();
    match context::with_current(|handle| handle.blocking.spawn(func, handle, meta)) {
        Ok(join) => join,
        Err(e) => panic!("heist::task::spawn_blocking: {e}"),
    }
}
