//! The owned-tasks registry: every live task of a runtime, so shutdown can cancel them.
//!
//! An intrusive doubly-linked list per shard (the links live in each task's header), each
//! shard under its own lock; a task's shard is picked by its id, so spawns and
//! completions on different workers rarely meet on a lock. The list holds one reference
//! to each task; whoever unlinks a task (`remove` at completion, or shutdown's pop)
//! receives that reference.

use super::raw::{Header, Links};
use super::{Schedule, Task};
use crate::sync::Mutex;
use crossbeam_utils::CachePadded;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The live tasks of one runtime.
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    _scheduler: PhantomData<fn(S)>,
}

struct Shard {
    head: Option<NonNull<Header>>,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers in a shard are only followed under the shard's lock, and the
// tasks they point to are Send (their futures and outputs are `Send`).
unsafe impl Send for Shard {}

impl<S: Schedule> OwnedTasks<S> {
    /// A registry with at least `min_shards` shards (rounded up to a power of two).
    pub(crate) fn new(min_shards: usize) -> Self {
        let n = min_shards.max(1).next_power_of_two();
        let shards = (0..n)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    head: None,
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
        let ptr = raw.header_ptr();
        let mut shard = self.shard(raw.header()).lock();
        if shard.closed {
            return Err(task);
        }
        let old_head = shard.head;
        // SAFETY: we hold the shard lock; the new task is alive (we hold `task`).
        unsafe {
            with_links(ptr, |l| {
                *l = Links {
                    prev: None,
                    next: old_head,
                }
            })
        };
        if let Some(old) = old_head {
            // SAFETY: we hold the shard lock; `old` is in the shard, so alive.
            unsafe { with_links(old, |l| l.prev = Some(ptr)) };
        }
        shard.head = Some(ptr);
        shard.len += 1;
        std::mem::forget(task);
        Ok(())
    }

    /// Unlinks a completing task. Returns the list's reference, or `None` if shutdown
    /// already popped it.
    pub(crate) fn release(&self, task: &Task<S>) -> Option<Task<S>> {
        let raw = task.raw();
        let ptr = raw.header_ptr();
        let header = raw.header();
        let mut shard = self.shard(header).lock();
        // SAFETY: we hold the shard lock; the task is alive (the caller holds `task`).
        let (prev, next) = unsafe { with_links(ptr, |l| (l.prev, l.next)) };
        if prev.is_none() && shard.head != Some(ptr) {
            return None;
        }
        unlink(&mut shard, ptr, prev, next);
        // SAFETY: the list's reference, unlinked above, moves to the caller.
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
                    let Some(ptr) = shard.head else { break };
                    // SAFETY: we hold the shard lock; the head is in the shard, so alive.
                    let next = unsafe { with_links(ptr, |l| l.next) };
                    unlink(&mut shard, ptr, None, next);
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
            let mut next = shard.head;
            while let Some(ptr) = next {
                // SAFETY: we hold the shard lock and `ptr` is in the shard, so the task is
                // alive (the list's reference) and its links are ours to read.
                f(unsafe { ptr.as_ref() });
                // SAFETY: as above.
                next = unsafe { with_links(ptr, |l| l.next) };
            }
        }
    }

    /// True when no task is registered (tests, and a `LocalSet` awaited to completion).
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.lock().len == 0)
    }
}

/// Runs `f` on a task's owned-list links.
///
/// # Safety
/// The caller holds the lock of the shard that owns `ptr` (or is binding it there), and
/// the task is alive.
unsafe fn with_links<R>(ptr: NonNull<Header>, f: impl FnOnce(&mut Links) -> R) -> R {
    // SAFETY: the task is alive (caller contract).
    let header = unsafe { ptr.as_ref() };
    header.owned.with_mut(|links| {
        // SAFETY: links are only reached under the shard lock the caller holds, so this
        // is the only access.
        f(unsafe { &mut *links })
    })
}

/// Unlinks `ptr`, whose links were `prev` / `next`, from `shard`.
fn unlink(
    shard: &mut Shard,
    ptr: NonNull<Header>,
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
) {
    match prev {
        // SAFETY: the caller holds the lock (it has `&mut Shard`); `p` is in the shard.
        Some(p) => unsafe { with_links(p, |l| l.next = next) },
        None => shard.head = next,
    }
    if let Some(n) = next {
        // SAFETY: as above, `n` is in the shard.
        unsafe { with_links(n, |l| l.prev = prev) };
    }
    // SAFETY: as above, `ptr` is still alive (the caller holds its list reference).
    unsafe { with_links(ptr, |l| *l = Links::default()) };
    shard.len -= 1;
}
