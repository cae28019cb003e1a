//! The loom side of the facade (`--cfg heist_loom`): loom's types, and loom-visible
//! stand-ins for parking_lot's locks and crossbeam's deques with the same API.
//!
//! The stand-in deques are a loom `Mutex<VecDeque>`: loom then explores every order in
//! which heist's workers push, pop and steal, but it does not check crossbeam-deque's
//! lock-free internals (those are crossbeam's to prove). A lock is also *stronger* than
//! the lock-free deque, so where heist's own orderings pair with a queue operation the
//! stand-in must not order things by itself: `is_empty` on the injector and on a
//! thief's end of a local queue (a sleeping worker's re-check) reads a `SeqCst` length
//! without the lock, so loom checks the fences heist pairs with them
//! (`docs/testing.md`, "What loom cannot see").

pub(crate) use loom::sync::Arc;

/// Atomics and fences.
pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };
}

/// Threads and thread-locals.
pub(crate) mod thread {
    #[cfg(test)]
    pub(crate) use loom::thread::spawn;
    pub(crate) use loom::thread::{Builder, JoinHandle};
}

pub(crate) use loom::thread_local;

/// Virtual time for the timers (`time/`): loom has no clock, so a model's time stands
/// still except where a thread waits with a timeout (`wait_timeout`), which moves it to
/// that wait's end if it is later. Per model execution (a `loom::lazy_static`), and
/// deterministic: it depends only on the order loom chose. A std atomic, on purpose:
/// time is not shared memory the code synchronises through, and a loom atomic would
/// add a scheduling point to every clock read.
pub(crate) mod time {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::{Duration, Instant};

    struct Virtual {
        start: Instant,
        nanos: AtomicU64,
    }

    loom::lazy_static! {
        static ref VIRTUAL: Virtual = Virtual {
            start: Instant::now(),
            nanos: AtomicU64::new(0),
        };
    }

    /// Now, in the model's virtual time.
    pub(crate) fn now() -> Instant {
        VIRTUAL.start + Duration::from_nanos(VIRTUAL.nanos.load(Relaxed))
    }

    /// A timed wait ended at `t`: time is at least `t` from now on.
    pub(crate) fn advance_to(t: Instant) {
        let nanos = t.saturating_duration_since(VIRTUAL.start).as_nanos();
        VIRTUAL
            .nanos
            .fetch_max(u64::try_from(nanos).unwrap_or(u64::MAX), Relaxed);
    }
}

/// Under loom every task allocation goes to the global allocator (`task/cache.rs`):
/// loom runs its threads on one OS thread, so a per-thread cache would be shared.
pub(crate) const RECYCLE_TASK_ALLOCATIONS: bool = false;

/// A retry loop must let loom run another thread, or a thread spinning on a `Retry`
/// would starve the one holding the lock (and exhaust `LOOM_MAX_BRANCHES`).
pub(crate) use loom::hint::spin_loop;

/// Runs a model test body under `loom::model`, which explores its interleavings (the
/// iteration count is for the real side; loom decides how often to run the body).
///
/// Prints how many interleavings were explored (see `--nocapture`), so that the cost of
/// each model can be tracked in `docs/testing.md`.
#[cfg(test)]
pub(crate) fn model(_iterations: usize, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let start = std::time::Instant::now();
    loom::model(move || {
        counter.fetch_add(1, Relaxed);
        f();
    });
    let name = std::thread::current().name().unwrap_or("model").to_string();
    println!(
        "{name}: {} interleavings in {:.2?}",
        runs.load(Relaxed),
        start.elapsed()
    );
}

/// Drives a future to completion on the calling thread, parking through loom (a lost
/// wake-up is then reported as a deadlock).
#[cfg(test)]
pub(crate) use loom::future::block_on;

pub(crate) use loom::cell::UnsafeCell;

/// A parking_lot-shaped mutex over loom's (no poisoning, `lock` returns the guard).
#[derive(Debug)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

/// The guard of [`Mutex`]; the `Option` lets [`Condvar::wait`] take it by `&mut`.
pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        MutexGuard(Some(self.0.lock().unwrap()))
    }

    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("guard present outside Condvar::wait")
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("guard present outside Condvar::wait")
    }
}

/// A parking_lot-shaped condition variable over loom's.
#[derive(Debug, Default)]
pub(crate) struct Condvar(loom::sync::Condvar);

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar(loom::sync::Condvar::new())
    }

    pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
        let inner = guard.0.take().expect("guard present");
        guard.0 = Some(self.0.wait(inner).unwrap());
    }

    pub(crate) fn notify_one(&self) -> bool {
        self.0.notify_one();
        true
    }

    pub(crate) fn notify_all(&self) -> usize {
        self.0.notify_all();
        0
    }
}

/// loom has no notion of time. An untimed wait waits for a notification. A timed wait
/// yields to the other threads (so any of them may run, and notify, first) and then
/// reports the timeout: in a model every timeout expires, the soonest it can, and the
/// virtual clock (`time`) moves to its end, so a worker parked until a timer's deadline
/// finds the timer due when it wakes.
///
/// This is what lets loom explore the paths a real timeout opens, such as a parked
/// worker waking by itself to look at a peer's stalled next-task slot
/// (`Idle::wake_self` racing with a notifier), which an untimed wait would never take.
/// The caller must re-check its condition, as it must after any timed wait.
pub(crate) fn wait_timeout<T>(
    condvar: &Condvar,
    guard: &mut MutexGuard<'_, T>,
    timeout: Option<std::time::Duration>,
) {
    match timeout {
        None => condvar.wait(guard),
        Some(timeout) => {
            let end = time::now().checked_add(timeout);
            loom::thread::yield_now();
            if let Some(end) = end {
                time::advance_to(end);
            }
        }
    }
}

/// loom-visible stand-ins for crossbeam-deque, with the subset of its API heist uses.
pub(crate) mod deque {
    use super::atomic::{AtomicUsize, Ordering::SeqCst};
    use super::{Arc, Mutex};
    use std::collections::VecDeque;

    pub(crate) use crossbeam_deque::Steal;

    /// A locked queue with its length published for lock-free emptiness checks: stored
    /// with `SeqCst` under the lock whenever it changes (crossbeam's deque publishes its
    /// `back` index with `Release` on push, and a thief's `is_empty` reads both indices
    /// around a `SeqCst` fence). A sleeping worker's re-check (`has_queued_work`) is then
    /// ordered against a push only by the atomics and heist's own fences, as on the real
    /// deque, not by this stand-in's lock.
    struct Locked<T> {
        queue: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Locked<T> {
        fn new() -> Self {
            Locked {
                queue: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }
        /// Runs `f` on the queue under the lock, then publishes the length if it changed.
        fn with<R>(&self, f: impl FnOnce(&mut VecDeque<T>) -> R) -> R {
            let mut queue = self.queue.lock();
            let before = queue.len();
            let out = f(&mut queue);
            if queue.len() != before {
                self.len.store(queue.len(), SeqCst);
            }
            out
        }
    }

    /// The owner's end of a FIFO work-stealing queue.
    pub(crate) struct Worker<T> {
        inner: Arc<Locked<T>>,
    }

    /// A thief's end of a [`Worker`].
    pub(crate) struct Stealer<T> {
        inner: Arc<Locked<T>>,
    }

    /// The global multi-producer queue.
    ///
    /// Unlike the local deques, its emptiness is read without the lock, from a length
    /// published with `SeqCst` under it (crossbeam's injector moves and reads
    /// its indices with `SeqCst`). A sleeping worker's re-check (`has_queued_work`) is
    /// then ordered against a push only by what orders it on the real injector, the
    /// atomics and heist's fences, not by this stand-in's lock.
    pub(crate) struct Injector<T> {
        inner: Locked<T>,
        /// `push_counted` calls (a statistic: std's atomic, which loom does not see).
        counted: crate::sync::stat::AtomicU64,
    }

    impl<T> Worker<T> {
        pub(crate) fn new_fifo() -> Self {
            Worker {
                inner: Arc::new(Locked::new()),
            }
        }
        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer {
                inner: self.inner.clone(),
            }
        }
        pub(crate) fn push(&self, task: T) {
            self.inner.with(|q| q.push_back(task))
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.inner.with(|q| q.pop_front())
        }
        /// The owner's check, from the published length (no lock: it only decides
        /// whether to notify, and a lock here would add interleavings for nothing).
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.len.load(SeqCst) == 0
        }
        pub(crate) fn len(&self) -> usize {
            self.inner.queue.lock().len()
        }
    }

    /// Moves up to `limit` (and at most half, rounded up) of `src` into `dest`, returning
    /// the first. A contended source answers `Retry`, as crossbeam's may.
    ///
    /// The batch is taken out under the source's lock and pushed after releasing it:
    /// holding both locks would let two workers stealing from each other deadlock, which
    /// crossbeam's lock-free deque cannot do.
    fn steal_half<T>(src: &Locked<T>, dest: &Worker<T>, limit: usize) -> Steal<T> {
        let Some(mut queue) = src.queue.try_lock() else {
            return Steal::Retry;
        };
        let n = queue.len().div_ceil(2).min(limit + 1);
        let Some(first) = queue.pop_front() else {
            return Steal::Empty;
        };
        let batch: Vec<T> = (1..n).map_while(|_| queue.pop_front()).collect();
        src.len.store(queue.len(), SeqCst);
        drop(queue);
        if !batch.is_empty() {
            dest.inner.with(|q| q.extend(batch));
        }
        Steal::Success(first)
    }

    impl<T> Stealer<T> {
        pub(crate) fn steal_batch_with_limit_and_pop(
            &self,
            dest: &Worker<T>,
            limit: usize,
        ) -> Steal<T> {
            steal_half(&self.inner, dest, limit)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.len.load(SeqCst) == 0
        }
        /// Under the lock, as `Injector::len`.
        pub(crate) fn len(&self) -> usize {
            self.inner.queue.lock().len()
        }
        /// One task from the front; `Retry` when the lock is contended.
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.inner.queue.try_lock() {
                None => Steal::Retry,
                Some(mut q) => {
                    let task = q.pop_front();
                    self.inner.len.store(q.len(), SeqCst);
                    task.map_or(Steal::Empty, Steal::Success)
                }
            }
        }
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector {
                inner: Locked::new(),
                counted: crate::sync::stat::AtomicU64::new(0),
            }
        }
        pub(crate) fn push(&self, task: T) {
            self.inner.with(|q| q.push_back(task))
        }
        pub(crate) fn push_counted(&self, task: T) {
            self.counted
                .fetch_add(1, crate::sync::stat::Ordering::Relaxed);
            self.push(task);
        }
        pub(crate) fn counted(&self) -> u64 {
            self.counted.load(crate::sync::stat::Ordering::Relaxed)
        }
        pub(crate) fn steal(&self) -> Steal<T> {
            match self.inner.queue.try_lock() {
                None => Steal::Retry,
                Some(mut q) => {
                    let task = q.pop_front();
                    self.inner.len.store(q.len(), SeqCst);
                    task.map_or(Steal::Empty, Steal::Success)
                }
            }
        }
        pub(crate) fn steal_batch_with_limit_and_pop(
            &self,
            dest: &Worker<T>,
            limit: usize,
        ) -> Steal<T> {
            steal_half(&self.inner, dest, limit)
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.inner.len.load(SeqCst) == 0
        }
        /// Under the lock: only `is_empty` (the sleeper's re-check) needs the lock-free
        /// read, and an atomic read here on every scheduling round multiplied the
        /// interleavings of the two-worker model several-fold.
        pub(crate) fn len(&self) -> usize {
            self.inner.queue.lock().len()
        }
    }
}
