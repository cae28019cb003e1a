//! The owned-tasks registry: every live task of a runtime, so shutdown can cancel them.
//!
//! Each shard, under its own lock, keeps its tasks' pointers in a dense array (in
//! fixed-size chunks), and each task keeps its index there in a `u32` of its header
//! (`Header::owned`). Adding is a push; removing moves the last entry into the hole
//! and rewrites that task's index. A task's shard is picked by its id, so spawns and
//! completions on different workers rarely meet on a lock. The list holds one reference
//! to each task; whoever takes a task out (`release` at completion, or shutdown's pop)
//! receives that reference.
//!
//! Why not intrusive links, as before: two link words in every task's header made a
//! small task's cell 88 bytes; the index fits beside the poll count in one word and the
//! cell is 72. The array costs one pointer per *registered* task (those that have
//! waited once), and at most two chunks of slack per shard. Chunks, not one `Vec`, so
//! that no push copies a shard's whole array under its lock.

use super::raw::{Header, NO_SLOT};
use super::{Schedule, Task};
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Entries per chunk (4 KiB of pointers on 64-bit targets).
// Under miri, small chunks: its tests cross chunk boundaries in a few dozen tasks, not
// a thousand (miri runs them under eight schedules).
const CHUNK: usize = if cfg!(miri) { 8 } else { 512 };

/// The live tasks of one runtime.
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    _scheduler: PhantomData<fn(S)>,
}

struct Shard {
    /// Entries `0..len` are the shard's tasks, in `chunks[i / CHUNK][i % CHUNK]`.
    chunks: Vec<Box<[Option<NonNull<Header>>; CHUNK]>>,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers in a shard are only followed under the shard's lock, and the
// tasks they point to are Send (their futures and outputs are `Send`).
unsafe impl Send for Shard {}

impl Shard {
    fn entry(&mut self, slot: usize) -> &mut Option<NonNull<Header>> {
        &mut self.chunks[slot / CHUNK][slot % CHUNK]
    }

    /// Appends `ptr`, recording its slot in its header.
    ///
    /// # Safety
    /// The caller holds this shard's lock (it has `&mut self`) and `ptr` is a live task
    /// in no shard.
    unsafe fn push(&mut self, ptr: NonNull<Header>) {
        let slot = self.len;
        assert!(slot < NO_SLOT as usize, "owned-tasks shard overflow");
        if slot == self.chunks.len() * CHUNK {
            self.chunks.push(Box::new([None; CHUNK]));
        }
        *self.entry(slot) = Some(ptr);
        // SAFETY: caller contract; the slot fits a `u32` (asserted above).
        unsafe { set_slot(ptr, slot as u32) };
        self.len += 1;
    }

    /// Takes the task in `slot` out, moving the last entry into its place.
    ///
    /// # Safety
    /// The caller holds this shard's lock and `slot < self.len`.
    unsafe fn take(&mut self, slot: usize) -> NonNull<Header> {
        let last = self.len - 1;
        let ptr = self.entry(slot).take().expect("registered slot");
        if slot != last {
            let moved = self.entry(last).take().expect("registered slot");
            *self.entry(slot) = Some(moved);
            // SAFETY: `moved` is in this shard, so alive, and we hold the lock.
            unsafe { set_slot(moved, slot as u32) };
        }
        // SAFETY: `ptr` is alive: the caller receives the list's reference to it.
        unsafe { set_slot(ptr, NO_SLOT) };
        self.len = last;
        // Keep one spare chunk beyond the ones in use, so a shard that hovers at a chunk
        // boundary does not allocate and free in turn.
        while self.chunks.len() * CHUNK > self.len + 2 * CHUNK {
            self.chunks.pop();
        }
        ptr
    }
}

impl<S: Schedule> OwnedTasks<S> {
    /// A registry with at least `min_shards` shards (rounded up to a power of two).
    pub(crate) fn new(min_shards: usize) -> Self {
        let n = min_shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    chunks: Vec::new(),
                    len: 0,
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks {
            shards,
            _scheduler: PhantomData,
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        let index = header.id.as_u64() as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Adds a new task, taking the list's reference. Fails once the registry is closed
    /// (the runtime is shutting down), handing the reference back.
    pub(crate) fn register(&self, task: Task<S>) -> Result<(), Task<S>> {
        let raw = task.raw();
        let mut shard = self.shard(raw.header()).lock();
        if shard.closed {
            return Err(task);
        }
        // SAFETY: we hold the shard lock; the new task is alive (we hold `task`) and in
        // no shard (a task registers once, at its first `Pending`).
        unsafe { shard.push(raw.header_ptr()) };
        std::mem::forget(task);
        Ok(())
    }

    /// Takes a completing task out. Returns the list's reference, or `None` if shutdown
    /// already popped it.
    pub(crate) fn release(&self, task: &Task<S>) -> Option<Task<S>> {
        let raw = task.raw();
        let ptr = raw.header_ptr();
        let mut shard = self.shard(raw.header()).lock();
        // SAFETY: we hold the shard lock; the task is alive (the caller holds `task`).
        let slot = unsafe { slot(ptr) };
        if slot == NO_SLOT {
            return None;
        }
        // SAFETY: we hold the lock, and a task's slot is `NO_SLOT` unless it is in the
        // shard at that slot (`push` / `take` keep the two in step under the lock).
        let taken = unsafe { shard.take(slot as usize) };
        debug_assert_eq!(taken, ptr);
        // SAFETY: the list's reference, taken out above, moves to the caller.
        Some(unsafe { Task::from_raw(ptr) })
    }

    /// Closes every shard to new tasks and cancels every task in it: waiting and queued
    /// tasks are dropped here, running ones by their poller right after the poll.
    pub(crate) fn close_and_shutdown_all(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
        for shard in self.shards.iter() {
            loop {
                let task = {
                    let mut shard = shard.lock();
                    let Some(last) = shard.len.checked_sub(1) else {
                        break;
                    };
                    // SAFETY: we hold the lock and `last < len`.
                    let ptr = unsafe { shard.take(last) };
                    // SAFETY: the list's reference moves to us.
                    unsafe { Task::<S>::from_raw(ptr) }
                };
                // Outside the lock: cancelling runs the future's destructor, which may
                // spawn or complete other tasks of this runtime.
                task.shutdown();
            }
        }
    }
}

impl<S: Schedule> OwnedTasks<S> {
    /// Runs `f` on every registered task, shard by shard, each shard under its lock (the
    /// task dump, `debug/dump.rs`). A task leaves the list only under its shard's lock,
    /// and the list holds a reference to it, so every header `f` sees is alive. `f` runs
    /// under the lock: it must not reach back into the runtime.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for ptr in shard.chunks.iter().flat_map(|c| c.iter()).take(shard.len) {
                let ptr = ptr.expect("registered slot");
                // SAFETY: we hold the shard lock and `ptr` is in the shard, so the task is
                // alive (the list's reference).
                f(unsafe { ptr.as_ref() });
            }
        }
    }

    /// True when no task is registered (tests, and a `LocalSet` awaited to completion).
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.lock().len == 0)
    }
}

/// A task's slot in its shard (`NO_SLOT` if in none).
///
/// # Safety
/// The caller holds the lock of the task's shard, and the task is alive.
unsafe fn slot(ptr: NonNull<Header>) -> u32 {
    // SAFETY: the task is alive (caller contract).
    let header = unsafe { ptr.as_ref() };
    // SAFETY: the slot is only reached under the shard lock the caller holds, so nothing
    // writes it concurrently.
    header.owned.with(|slot| unsafe { *slot })
}

/// Records a task's slot in its shard.
///
/// # Safety
/// As for [`slot`].
unsafe fn set_slot(ptr: NonNull<Header>, slot: u32) {
    // SAFETY: the task is alive (caller contract).
    let header = unsafe { ptr.as_ref() };
    // SAFETY: the slot is only reached under the shard lock the caller holds, so this is
    // the only access.
    header.owned.with_mut(|s| unsafe { *s = slot });
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;
    use crate::task::{new_task, Id, JoinHandle, Meta, Notified};
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// A scheduler for one test: a run queue the test drains by hand, and a registry with
    /// one shard (so every task shares one array of slots).
    struct Sched {
        registry: OwnedTasks<&'static Sched>,
        queue: std::sync::Mutex<Vec<Notified<&'static Sched>>>,
    }

    impl Schedule for &'static Sched {
        fn schedule(&self, task: Notified<Self>) {
            self.queue.lock().unwrap().push(task);
        }
        fn register(&self, task: Task<Self>) -> Result<(), Task<Self>> {
            self.registry.register(task)
        }
        fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
            self.registry.release(task)
        }
    }

    impl Sched {
        /// A scheduler that outlives its tasks: the `&'static` they hold, and the owning
        /// pointer for [`Sched::free`].
        fn leak() -> (&'static Sched, *mut Sched) {
            let owner = Box::into_raw(Box::new(Sched {
                registry: OwnedTasks::new(1),
                queue: std::sync::Mutex::new(Vec::new()),
            }));
            // SAFETY: `owner` is a live allocation freed only by `Sched::free`, after
            // the last use of this reference.
            (unsafe { &*owner }, owner)
        }

        /// Frees a scheduler made by [`Sched::leak`] (miri reports a leak otherwise).
        ///
        /// # Safety
        /// `owner` is the pointer [`Sched::leak`] returned, and neither its reference nor
        /// any task cell that names it is used again: every task completed and every
        /// `JoinHandle` and `Notified` of it was dropped.
        unsafe fn free(owner: *mut Sched) {
            // SAFETY: the caller promises `owner` is `Box::into_raw`'s and unused after.
            drop(unsafe { Box::from_raw(owner) });
        }

        fn run_queued(&self) {
            let queued = std::mem::take(&mut *self.queue.lock().unwrap());
            for task in queued {
                task.run();
            }
        }

        fn ids(&self) -> HashSet<u64> {
            let mut ids = HashSet::new();
            self.registry
                .for_each(|h| assert!(ids.insert(h.id.as_u64())));
            ids
        }
    }

    /// A future that never completes and counts its drops.
    struct Waits(&'static AtomicUsize);

    impl std::future::Future for Waits {
        type Output = ();
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            std::task::Poll::Pending
        }
    }

    impl Drop for Waits {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    /// Spawns `n` tasks on `sched` and polls each once, so each registers.
    fn spawn_waiting(
        sched: &'static Sched,
        n: usize,
        drops: &'static AtomicUsize,
    ) -> Vec<JoinHandle<()>> {
        let joins = (0..n)
            .map(|_| {
                let (notified, join) = new_task(Waits(drops), sched, Id::next(), Meta::here());
                sched.schedule(notified);
                join
            })
            .collect();
        sched.run_queued();
        joins
    }

    #[test]
    fn completions_move_the_last_task_into_the_hole_across_chunks() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let (sched, owner) = Sched::leak();
        let n = 2 * CHUNK + 7;
        let joins = spawn_waiting(sched, n, &DROPS);
        let mut left: HashSet<u64> = joins.iter().map(|j| j.id().as_u64()).collect();
        assert_eq!(sched.ids(), left);
        // Every third task first, then the rest: each completion moves another task's
        // slot, across chunk boundaries.
        let order = (0..n).step_by(3).chain((0..n).filter(|i| i % 3 != 0));
        for (k, i) in order.enumerate() {
            joins[i].abort();
            sched.run_queued();
            left.remove(&joins[i].id().as_u64());
            if k % 61 == 0 || left.len() < 3 {
                assert_eq!(sched.ids(), left);
            }
        }
        assert_eq!(DROPS.load(Relaxed), n);
        assert!(sched.registry.is_empty());
        assert!(
            sched.registry.shards[0].lock().chunks.len() <= 2,
            "chunks were freed"
        );
        drop(joins);
        // SAFETY: every task completed, its handles are dropped and the queue is empty.
        unsafe { Sched::free(owner) };
    }

    #[test]
    fn shutdown_cancels_every_task_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        let (sched, owner) = Sched::leak();
        let n = CHUNK + 3;
        let joins = spawn_waiting(sched, n, &DROPS);
        // One completes first, from the middle.
        joins[5].abort();
        sched.run_queued();
        sched.registry.close_and_shutdown_all();
        assert!(sched.registry.is_empty());
        assert_eq!(DROPS.load(Relaxed), n);
        // A task spawned after the close is handed back at its first `Pending` and
        // cancelled by its poller.
        let late = spawn_waiting(sched, 1, &DROPS);
        assert!(sched.registry.is_empty());
        assert_eq!(DROPS.load(Relaxed), n + 1);
        drop((joins, late));
        assert!(sched.queue.lock().unwrap().is_empty());
        // SAFETY: every task was cancelled, its handles are dropped and the queue is empty.
        unsafe { Sched::free(owner) };
    }
}
