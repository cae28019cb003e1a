//! The global queue (injector) of the real side: a ring buffer with one `parking_lot`
//! mutex for the pushers and one for the takers, its indices in atomics so that
//! emptiness is read without a lock.
//!
//! Why not crossbeam's `Injector`: it stores tasks in linked blocks of 63 slots, and the
//! thread that pushes the 64th task allocates the next block (1,016 bytes, zeroed) while
//! the worker that drains it frees it. For a thread outside the runtime that wakes tasks
//! at a high rate (a driver's or a logger's thread feeding channels), that is one 1 KB
//! allocation per 63 wakes on the thread that is the bottleneck, and glibc serves a
//! request of that size from its large bins: it first consolidates the arena's fast
//! bins, which is where the workers' frees of that thread's small allocations (the
//! channels' message nodes) land. Measured on `foreign_wake_storm` with one worker
//! (`docs/benchmarks/worker-counts.md`): about 140 `malloc_consolidate` calls and 17,000
//! `_int_malloc` slow-path calls per 20,000 sends, against 0 and 3,800 for tokio, whose
//! injector is an intrusive list. A ring buffer that keeps its capacity allocates only
//! while it grows to the largest backlog it has held, so a push allocates nothing in
//! the steady state.
//!
//! Two locks, not one: pushers take the *tail* lock, takers the *head* lock, and they
//! meet only when the ring is full and must grow (the pusher then takes the head lock
//! too). One lock for both, as before, made a thread spawning 10,000 tasks in a tight
//! loop queue behind the workers pulling them: with 4 workers on 2 cores, 0 to 470 of
//! its pushes per 10,000 went into `parking_lot`'s slow path (spin, `sched_yield`,
//! park), two thirds of all slow paths, and a worker preempted while holding the lock
//! stalls the pusher for a time slice (`docs/benchmarks/worker-counts.md`). This is the
//! two-lock queue of Michael and Scott over a ring: with one pushing thread, a push
//! never waits for a taker. The capacity reached by a burst is kept (8 bytes per task
//! queued at the peak, against the tasks' own 96 bytes or more each).
//!
//! The ring: slots `head..tail` (indices that only grow, wrapping, taken modulo the
//! power-of-two capacity) hold tasks. A pusher, under the tail lock, writes slot `tail`
//! and then publishes `tail + 1` (`Release`); a taker, under the head lock, reads
//! `tail` (`Acquire`), moves slots `head..` out and then publishes the new `head`
//! (`Release`), which a pusher reads (`Acquire`) before it reuses those slots: only
//! when the ring looks full by the pushers' last copy of `head`, so a push does not
//! touch the takers' line. The buffer itself is replaced only by a pusher holding both
//! locks, so each side reads it under its own lock without a race.

use crossbeam_deque::{Steal, Worker};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
// std's atomics: this file is the real side of the facade only (`real.rs` re-exports it).
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
    Ordering::SeqCst,
};

/// Most tasks one batch take moves into the taker's deque besides the one it returns
/// (the scheduler asks for at most `INJECTOR_LIMIT`, 64, in all).
const MAX_BATCH: usize = 64;

/// The capacity of the first buffer (then doubled as needed).
const MIN_CAPACITY: usize = 64;

/// A multi-producer, multi-consumer FIFO queue with batch takes into a worker's deque.
/// The same API as the part of `crossbeam_deque::Injector` the scheduler uses.
///
/// The locks and the indices sit on cache lines of their own: every worker reads the
/// indices on every scheduling round, and the pushers' and takers' lines would
/// otherwise move between cores together.
pub(crate) struct Injector<T> {
    /// Held by a pusher. Guards the pushers' copy of `head`: a lower bound of it, read
    /// again only when the ring looks full, so that a push does not read the line the
    /// takers write on every take.
    tail_lock: CachePadded<TailSide>,
    /// Held by a taker, and by a pusher that grows the ring (after the tail lock).
    head_lock: CachePadded<Mutex<()>>,
    /// Next slot to take. Written under the head lock (`Release`), read anywhere.
    head: CachePadded<AtomicUsize>,
    /// Next slot to fill. Written under the tail lock (`Release`), read anywhere.
    ///
    /// The scheduler's fences pair with these stores: a pusher stores `tail`, then
    /// issues its `SeqCst` fence; a sleeper issues its fence, then loads the indices,
    /// and so sees the push or a later state (a store sequenced before one `SeqCst`
    /// fence is seen by a load sequenced after a later one, whatever the store's own
    /// ordering; `Release` avoids a locked instruction per push).
    tail: CachePadded<AtomicUsize>,
    /// The ring. Read under either lock; replaced only under both.
    buf: UnsafeCell<Box<[UnsafeCell<MaybeUninit<T>>]>>,
}

/// The pushers' line: their lock, and the count of `push_counted` calls, bumped under
/// the lock, so with a plain load and store (the lock orders the writers), on the line
/// the push holds already. A counter of its own beside the queue cost the scheduler a
/// locked read-modify-write per spawn from outside (`RuntimeMetrics::spawned_tasks_count`).
struct TailSide {
    lock: Mutex<usize>,
    counted: AtomicU64,
}

// SAFETY: the queue owns the `T`s it holds and hands each to exactly one taker, so it
// may move to another thread when `T` may.
unsafe impl<T: Send> Send for Injector<T> {}
// SAFETY: shared use moves `T`s between threads (push on one, take on another), never
// shares a `T`; every access to `buf` and to a slot is ordered by the locks and the
// indices (module doc).
unsafe impl<T: Send> Sync for Injector<T> {}

fn new_buf<T>(capacity: usize) -> Box<[UnsafeCell<MaybeUninit<T>>]> {
    (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect()
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Self {
        Injector {
            tail_lock: CachePadded::new(TailSide {
                lock: Mutex::new(0),
                counted: AtomicU64::new(0),
            }),
            head_lock: CachePadded::new(Mutex::new(())),
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buf: UnsafeCell::new(new_buf(MIN_CAPACITY)),
        }
    }

    /// The ring's slots.
    ///
    /// # Safety
    /// The caller holds the head lock or the tail lock, for as long as it uses the
    /// slice (so nobody replaces the buffer meanwhile).
    unsafe fn ring(&self) -> &[UnsafeCell<MaybeUninit<T>>] {
        // SAFETY: the buffer is replaced only under both locks, and the caller holds one.
        unsafe { &*self.buf.get() }
    }

    /// Queues `task` at the back.
    #[inline]
    pub(crate) fn push(&self, task: T) {
        self.push_with(task, false);
    }

    /// Queues `task` at the back and counts it (`counted`).
    #[inline]
    pub(crate) fn push_counted(&self, task: T) {
        self.push_with(task, true);
    }

    /// The pushes made with `push_counted` (a hint: one in progress may be missing).
    pub(crate) fn counted(&self) -> u64 {
        self.tail_lock.counted.load(Relaxed)
    }

    #[inline]
    fn push_with(&self, task: T, count: bool) {
        let mut head = self.tail_lock.lock.lock();
        if count {
            // Under the tail lock: the lock orders the writers, so nothing is lost.
            let counted = &self.tail_lock.counted;
            counted.store(counted.load(Relaxed).wrapping_add(1), Relaxed);
        }
        // Only pushers (holding the tail lock) write `tail`.
        let tail = self.tail.load(SeqCst);
        // SAFETY: we hold the tail lock.
        let capacity = unsafe { self.ring() }.len();
        // `*head` never passes the real head (takes only move it on), so a ring that
        // is not full by it is not full.
        if tail.wrapping_sub(*head) >= capacity {
            // Acquire: the takers' reads of the slots before `head` are done before we
            // write them again.
            *head = self.head.load(Acquire);
            if tail.wrapping_sub(*head) >= capacity {
                // `grow` returns the head it saw under the takers' lock (with the ring
                // grown, or not full by it): the copy must be that one, not the one that
                // looked full, or the next push would reuse a slot no taker has read.
                *head = self.grow();
            }
        }
        // SAFETY: we hold the tail lock (so no other pusher writes, and the ring is not
        // replaced); slot `tail` is not in `head..tail` (the ring is not full), so no
        // taker reads it until we publish the new `tail` below.
        unsafe {
            let ring = self.ring();
            (*ring[tail & (ring.len() - 1)].get()).write(task);
        }
        self.tail.store(tail.wrapping_add(1), Release);
    }

    /// The ring is full: doubles it. The caller holds the tail lock; this takes the
    /// head lock too, so no taker reads the ring while it moves. Returns the head.
    #[cold]
    fn grow(&self) -> usize {
        let _head_lock = self.head_lock.lock();
        let head = self.head.load(SeqCst);
        let tail = self.tail.load(SeqCst);
        // SAFETY: we hold both locks: nobody else reads or writes `buf` or a slot.
        let buf = unsafe { &mut *self.buf.get() };
        let old = buf.len();
        if tail.wrapping_sub(head) < old {
            // A taker made room since the pusher looked.
            return head;
        }
        let new = new_buf(old * 2);
        let mut index = head;
        while index != tail {
            let src = buf[index & (old - 1)].get();
            // SAFETY: slots `head..tail` hold tasks; each is moved exactly once, into
            // the new ring at the same index, and the old ring is dropped as
            // `MaybeUninit`, which drops nothing.
            unsafe { (*new[index & (old * 2 - 1)].get()).write((*src).assume_init_read()) };
            index = index.wrapping_add(1);
        }
        *buf = new;
        head
    }

    /// Takes the task at the front. Never answers `Retry` (it waits for the lock).
    pub(crate) fn steal(&self) -> Steal<T> {
        if self.is_empty() {
            return Steal::Empty;
        }
        let _head_lock = self.head_lock.lock();
        // SAFETY: we hold the head lock.
        match unsafe { self.take(1, |_| unreachable!("a take of one has no rest")) } {
            Some(task) => Steal::Success(task),
            None => Steal::Empty,
        }
    }

    /// Takes up to `max` tasks (at least one if any) from the front, returning the
    /// first and giving the others, in order, to `rest`.
    ///
    /// # Safety
    /// The caller holds the head lock (or has the queue to itself, `&mut`).
    unsafe fn take(&self, max: usize, mut rest: impl FnMut(T)) -> Option<T> {
        // Only takers (holding the head lock) write `head`.
        let head = self.head.load(SeqCst);
        // Acquire: the pushers' writes of the slots before `tail` are visible.
        let tail = self.tail.load(Acquire);
        let n = tail.wrapping_sub(head).min(max);
        if n == 0 {
            return None;
        }
        // SAFETY: the caller holds the head lock (or has `&mut self`).
        let buf = unsafe { self.ring() };
        let mask = buf.len() - 1;
        // SAFETY: slots `head..tail` hold tasks published by pushers (the Acquire load
        // of `tail`), no other taker reads them (the head lock), and no pusher writes
        // them until we publish the new `head`; each is read out exactly once.
        let read =
            |i: usize| unsafe { (*buf[head.wrapping_add(i) & mask].get()).assume_init_read() };
        let first = read(0);
        for i in 1..n {
            rest(read(i));
        }
        self.head.store(head.wrapping_add(n), Release);
        Some(first)
    }

    /// Takes up to `limit` tasks (at least one, at most `MAX_BATCH` besides it) from the
    /// front: returns the first and pushes the others, in order, into `dest`. Never
    /// answers `Retry`.
    ///
    /// The batch is moved out under the head lock into a buffer on the stack, and
    /// pushed into `dest` after the lock is released: other takers wait only while the
    /// tasks are copied out (pushers never wait for a taker, unless the ring is full).
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
            let _head_lock = self.head_lock.lock();
            let max = limit.clamp(1, MAX_BATCH + 1);
            let mut slots = batch.iter_mut();
            // SAFETY: we hold the head lock.
            let taken = unsafe {
                self.take(max, |task| {
                    *slots.next().expect("at most MAX_BATCH besides the first") = Some(task)
                })
            };
            match taken {
                Some(first) => first,
                None => return Steal::Empty,
            }
        };
        for task in batch.into_iter().map_while(|task| task) {
            dest.push(task);
        }
        Steal::Success(first)
    }

    /// True when no task is queued (a hint: it may change at once). Lock-free.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tasks queued (a hint). Lock-free.
    pub(crate) fn len(&self) -> usize {
        // `head` first: it never passes the `tail` read after it.
        let head = self.head.load(SeqCst);
        self.tail.load(SeqCst).wrapping_sub(head)
    }
}

impl<T> Drop for Injector<T> {
    fn drop(&mut self) {
        let mut rest = Vec::new();
        // SAFETY: `&mut self`: nobody else uses the queue.
        let first = unsafe { self.take(usize::MAX, |task| rest.push(task)) };
        drop(first);
        drop(rest);
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

    #[test]
    fn grows_past_a_wrapped_ring_in_fifo_order() {
        let q = Injector::new();
        let w = Worker::new_fifo();
        let (mut next_in, mut next_out) = (0u32, 0u32);
        // Wrap the first ring (takes keep it from filling), then fill past it so it
        // grows while `head` sits in the middle, twice.
        for _ in 0..3 {
            for _ in 0..40 {
                q.push(next_in);
                next_in += 1;
            }
            for _ in 0..30 {
                assert_eq!(stolen(q.steal()), Some(next_out));
                next_out += 1;
            }
        }
        for _ in 0..300 {
            q.push(next_in);
            next_in += 1;
        }
        assert_eq!(q.len(), (next_in - next_out) as usize);
        while let Some(first) = stolen(q.steal_batch_with_limit_and_pop(&w, 7)) {
            assert_eq!(first, next_out);
            next_out += 1;
            while let Some(task) = w.pop() {
                assert_eq!(task, next_out);
                next_out += 1;
            }
        }
        assert_eq!(next_out, next_in);
        assert!(q.is_empty());
    }

    #[test]
    fn tasks_left_in_a_grown_wrapped_ring_are_dropped_once() {
        let token = std::sync::Arc::new(());
        let q = Injector::new();
        for _ in 0..50 {
            q.push(token.clone());
        }
        for _ in 0..40 {
            assert!(stolen_arc(q.steal()));
        }
        for _ in 0..200 {
            q.push(token.clone());
        }
        assert_eq!(std::sync::Arc::strong_count(&token), 211);
        drop(q);
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
    }

    fn stolen_arc(s: Steal<std::sync::Arc<()>>) -> bool {
        matches!(s, Steal::Success(_))
    }

    /// Pushers and takers on their own threads: every task is taken exactly once, and
    /// each pusher's tasks come out in the order it pushed them.
    #[test]
    fn concurrent_pushers_and_takers_lose_and_duplicate_nothing() {
        const PUSHERS: u32 = 2;
        const PER_PUSHER: u32 = if cfg!(miri) { 200 } else { 20_000 };
        let q = std::sync::Arc::new(Injector::new());
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_PUSHER {
                        // Every other push counted: the count loses none of them.
                        if i % 2 == 0 {
                            q.push_counted((p, i));
                        } else {
                            q.push((p, i));
                        }
                    }
                })
            })
            .collect();
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let (q, taken) = (q.clone(), taken.clone());
                std::thread::spawn(move || {
                    let w = Worker::new_fifo();
                    let mut seen = vec![Vec::new(); PUSHERS as usize];
                    while taken.load(SeqCst) < PUSHERS * PER_PUSHER {
                        if let Steal::Success(first) = q.steal_batch_with_limit_and_pop(&w, 5) {
                            for (p, i) in
                                std::iter::once(first).chain(std::iter::from_fn(|| w.pop()))
                            {
                                seen[p as usize].push(i);
                                taken.fetch_add(1, SeqCst);
                            }
                        }
                    }
                    seen
                })
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        assert_eq!(q.counted(), u64::from(PUSHERS * PER_PUSHER / 2));
        let mut all = vec![Vec::new(); PUSHERS as usize];
        for t in takers {
            for (p, seen) in t.join().unwrap().into_iter().enumerate() {
                assert!(seen.windows(2).all(|w| w[0] < w[1]), "FIFO per pusher");
                all[p].extend(seen);
            }
        }
        for seen in &mut all {
            seen.sort_unstable();
            assert_eq!(*seen, (0..PER_PUSHER).collect::<Vec<_>>());
        }
        assert!(q.is_empty());
    }

    /// The point of the second lock: a push does not wait for a taker. Here the test
    /// thread holds the takers' lock and still pushes (with one lock for both, this
    /// deadlocked).
    #[test]
    fn a_push_does_not_wait_for_a_taker() {
        let q = Injector::new();
        let taking = q.head_lock.lock();
        for i in 0..10 {
            q.push(i);
        }
        drop(taking);
        assert_eq!(q.len(), 10);
        assert_eq!(stolen(q.steal()), Some(0));
    }
}
