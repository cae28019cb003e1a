//! The real side of the facade: std atomics, parking_lot locks, crossbeam deques and
//! the injector of `sync/injector.rs`.

pub(crate) use std::sync::Arc;

/// Atomics and fences.
pub(crate) mod atomic {
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

/// Threads and thread-locals.
pub(crate) mod thread {
    #[cfg(test)]
    pub(crate) use std::thread::spawn;
    pub(crate) use std::thread::{Builder, JoinHandle};
}

pub(crate) use std::thread_local;

/// The clock the timers read (`time/`): the system's monotonic clock.
pub(crate) mod time {
    /// Now.
    #[inline]
    pub(crate) fn now() -> std::time::Instant {
        std::time::Instant::now()
    }
}

/// Recycle task allocations per thread (`task/cache.rs`).
pub(crate) const RECYCLE_TASK_ALLOCATIONS: bool = true;

/// The body of a retry loop: a CPU hint here, a scheduling point under loom.
pub(crate) use std::hint::spin_loop;

/// Runs a model test body. Without loom there is nothing to explore: the body runs
/// `iterations` times on real threads (a small stress test, which is what miri and
/// ThreadSanitizer then check).
#[cfg(test)]
pub(crate) fn model(iterations: usize, f: impl Fn()) {
    for _ in 0..iterations {
        f();
    }
}

/// Drives a future to completion on the calling thread (tests only).
#[cfg(test)]
pub(crate) use futures::executor::block_on;

/// Work-stealing queues: crossbeam's per-worker deques, and heist's own injector
/// (`sync/injector.rs` says why not crossbeam's).
pub(crate) mod deque {
    pub(crate) use super::super::injector::Injector;
    pub(crate) use crossbeam_deque::{Steal, Stealer, Worker};
}

/// A cell whose contents are reached only through closures, so that the loom side can
/// track every access. Callers uphold the aliasing rules exactly as for
/// `std::cell::UnsafeCell`.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a unique pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Parks the current thread on `condvar` until notified or `timeout` passes.
#[inline]
pub(crate) fn wait_timeout<T>(
    condvar: &Condvar,
    guard: &mut MutexGuard<'_, T>,
    timeout: Option<std::time::Duration>,
) {
    match timeout {
        None => condvar.wait(guard),
        Some(d) => {
            let _ = condvar.wait_for(guard, d);
        }
    }
}
