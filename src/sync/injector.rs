//! The global queue (injector) of the real side: a `VecDeque` under a `parking_lot`
//! mutex, with its length published in an atomic so that emptiness is read without the
//! lock.
//!
//! Why not crossbeam's `Injector`: it stores tasks in linked blocks of 63 slots, and the
//! thread that pushes the 64th task allocates the next block (1,016 bytes, zeroed) while
//! the worker that drains it frees it. For a thread outside the runtime that wakes tasks
//! at a high rate (a driver's or a logger's thread feeding channels), that is one 1 KB
//! allocation per 63 wakes on the thread that is the bottleneck, and glibc serves a
//! request of that size from its large bins: it first consolidates the arena's fast
//! bins, which is where the workers' frees of that thread's small allocations (the
//! channels' message nodes) land. Measured on `foreign_wake_storm` with one worker
//! (`docs/benchmarks.md`): about 140 `malloc_consolidate` calls and 17,000
//! `_int_malloc` slow-path calls per 20,000 sends, against 0 and 3,800 for tokio, whose
//! injector is an intrusive list. A ring buffer that keeps its capacity allocates only
//! while it grows to the largest backlog it has held, so a push allocates nothing in
//! the steady state.
//!
//! The lock is held for a few instructions (one `push_back`, or moving a batch into the
//! taker's deque); tokio's injector is likewise a mutex around a list. The capacity
//! reached by a burst is kept (8 bytes per task queued at the peak, against the tasks'
//! own 96 bytes or more each).

// std's atomics: this file is the real side of the facade only (`real.rs` re-exports it).
use crossbeam_deque::{Steal, Worker};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::Release, Ordering::SeqCst};

/// Most tasks one batch take moves into the taker's deque besides the one it returns
/// (the scheduler asks for at most `INJECTOR_LIMIT`, 64, in all).
const MAX_BATCH: usize = 64;

/// A multi-producer, multi-consumer FIFO queue with batch takes into a worker's deque.
/// The same API as the part of `crossbeam_deque::Injector` the scheduler uses.
///
/// The lock and the length sit on cache lines of their own: every worker reads the
/// length on every scheduling round, and sharing its line with the lock (or with the
/// fields around the injector) made each push move that line between cores several
/// times.
pub(crate) struct Injector<T> {
    queue: CachePadded<Mutex<VecDeque<T>>>,
    /// `queue.len()`, stored under the lock after every change, read without it. The
    /// scheduler's fences pair with it as with crossbeam's indices: a pusher stores the
    /// length, then issues its `SeqCst` fence; a sleeper issues its fence, then loads
    /// the length, and so sees the push or a later length (a store sequenced before one
    /// `SeqCst` fence is seen by a load sequenced after a later one, whatever the
    /// store's own ordering; `Release` avoids a locked instruction per push).
    len: CachePadded<AtomicUsize>,
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Self {
        Injector {
            queue: CachePadded::new(Mutex::new(VecDeque::new())),
            len: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Queues `task` at the back.
    pub(crate) fn push(&self, task: T) {
        let mut queue = self.queue.lock();
        queue.push_back(task);
        self.len.store(queue.len(), Release);
    }

    /// Takes the task at the front. Never answers `Retry` (it waits for the lock).
    pub(crate) fn steal(&self) -> Steal<T> {
        if self.is_empty() {
            return Steal::Empty;
        }
        let mut queue = self.queue.lock();
        let task = queue.pop_front();
        self.len.store(queue.len(), Release);
        task.map_or(Steal::Empty, Steal::Success)
    }

    /// Takes up to `limit` tasks (at least one, at most `MAX_BATCH` besides it) from the
    /// front: returns the first and pushes the others, in order, into `dest`. Never
    /// answers `Retry`.
    ///
    /// The batch is moved out under the lock into a buffer on the stack, and pushed into
    /// `dest` after the lock is released: pushers (often one thread outside the runtime
    /// spawning or waking in a tight loop) wait only while the tasks are copied out.
    pub(crate) fn steal_batch_with_limit_and_pop(
        &self,
        dest: &Worker<T>,
        limit: usize,
    ) -> Steal<T> {
        if self.is_empty() {
            return Steal::Empty;
        }
        let mut batch: [Option<T>; MAX_BATCH] = std::array::from_fn(|_| None);
        let first = {
            let mut queue = self.queue.lock();
            let Some(first) = queue.pop_front() else {
                return Steal::Empty;
            };
            let more = queue.len().min(limit.saturating_sub(1)).min(MAX_BATCH);
            for (slot, task) in batch.iter_mut().zip(queue.drain(..more)) {
                *slot = Some(task);
            }
            self.len.store(queue.len(), Release);
            first
        };
        for task in batch.into_iter().map_while(|task| task) {
            dest.push(task);
        }
        Steal::Success(first)
    }

    /// True when no task is queued (a hint: it may change at once). Lock-free.
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(SeqCst) == 0
    }

    /// Tasks queued (a hint). Lock-free.
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stolen(s: Steal<u32>) -> Option<u32> {
        match s {
            Steal::Success(t) => Some(t),
            Steal::Empty => None,
            Steal::Retry => panic!("never retries"),
        }
    }

    #[test]
    fn fifo_with_published_length() {
        let q = Injector::new();
        assert!(q.is_empty());
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.len(), 5);
        assert_eq!(stolen(q.steal()), Some(0));
        assert_eq!(q.len(), 4);
        let w = Worker::new_fifo();
        assert_eq!(stolen(q.steal_batch_with_limit_and_pop(&w, 3)), Some(1));
        assert_eq!((w.pop(), w.pop(), w.pop()), (Some(2), Some(3), None));
        assert_eq!(q.len(), 1);
        assert_eq!(stolen(q.steal_batch_with_limit_and_pop(&w, 64)), Some(4));
        assert!(w.is_empty() && q.is_empty());
        assert_eq!(stolen(q.steal()), None);
        assert_eq!(stolen(q.steal_batch_with_limit_and_pop(&w, 8)), None);
    }

    #[test]
    fn a_limit_of_one_or_zero_takes_one() {
        let q = Injector::new();
        q.push(1);
        q.push(2);
        let w = Worker::new_fifo();
        assert_eq!(stolen(q.steal_batch_with_limit_and_pop(&w, 0)), Some(1));
        assert_eq!(stolen(q.steal_batch_with_limit_and_pop(&w, 1)), Some(2));
        assert!(w.is_empty());
    }

    #[test]
    fn queued_tasks_are_dropped_with_the_queue() {
        let token = std::sync::Arc::new(());
        let q = Injector::new();
        q.push(token.clone());
        q.push(token.clone());
        drop(q);
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
    }
}
