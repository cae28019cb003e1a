//! Hands whole free lists of task blocks from the threads that free them to the threads
//! that allocate them.
//!
//! A task is often allocated on one thread and freed on another: spawned from outside
//! the runtime and completed on a worker, or spawned on a worker and stolen. The thread
//! that only frees fills its free list (`cache.rs`) and, before this depot, gave every
//! further block back to the system allocator, while the thread that only allocates
//! found its own list empty and asked the system allocator for a new one each time.
//! With glibc that is a cross-thread free into the allocating thread's arena on every
//! task, and the two threads contend on the arena's fast bins: `spawn_many_local` with
//! two workers ran 2.2 x slower than with glibc's fast bins turned off
//! (`docs/benchmarks/worker-counts.md`, section 12).
//!
//! Now a thread whose list of a class is full hands the whole list (up to
//! `cache::MAX_CACHED` blocks) to the depot as one batch, and a thread whose list is
//! empty takes a batch back: one lock per 64 blocks each way. The depot holds at most
//! `DEPOT_BYTES` (1 MiB) per class, enough for a burst of about 10,000 small tasks;
//! beyond that a full list goes back to the system allocator block by block, as before.
//! Batches in the depot stay there until a thread takes them (the depot is process-wide
//! and never freed; `task::release_cached_task_memory` empties it).

use crate::sync::Mutex;
use std::ptr::NonNull;

/// Bytes of free blocks the depot keeps per size class (at most; at least one batch).
pub(super) const DEPOT_BYTES: usize = 1 << 20;

/// A free block, linked through its first word.
pub(super) struct Free {
    pub(super) next: *mut Free,
}

/// A free list taken whole out of a thread's cache: `len` blocks linked from `head`.
pub(super) struct Batch {
    pub(super) head: NonNull<Free>,
    pub(super) len: usize,
}

// SAFETY: a batch owns its blocks: they were freed into a thread's list, and that list
// was emptied into the batch, so nothing else refers to them; whoever holds the batch
// may use them on any thread (the global allocator's blocks are not tied to a thread).
unsafe impl Send for Batch {}

/// The batches of one size class.
pub(super) struct Depot {
    batches: Mutex<Vec<Batch>>,
}

impl Depot {
    /// An empty depot.
    #[cfg(not(heist_loom))]
    pub(super) const fn new() -> Depot {
        Depot {
            batches: Mutex::new(Vec::new()),
        }
    }

    /// An empty depot (loom's locks are not `const`; under loom only the models make
    /// one, since blocks are not recycled there).
    #[cfg(all(heist_loom, test))]
    pub(super) fn new() -> Depot {
        Depot {
            batches: Mutex::new(Vec::new()),
        }
    }

    /// Keeps `batch` if the depot holds fewer than `cap` batches; else hands it back.
    pub(super) fn put(&self, batch: Batch, cap: usize) -> Result<(), Batch> {
        let mut batches = self.batches.lock();
        if batches.len() >= cap {
            return Err(batch);
        }
        batches.push(batch);
        Ok(())
    }

    /// A batch, if the depot has one (the most recently put: its blocks are the likeliest
    /// to be in some cache still).
    pub(super) fn take(&self) -> Option<Batch> {
        self.batches.lock().pop()
    }

    /// Batches held now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.batches.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` blocks linked into a batch (boxed `Free`s; `free_all` frees them).
    pub(super) fn batch_of(n: usize) -> Batch {
        let mut head: *mut Free = std::ptr::null_mut();
        for _ in 0..n {
            head = Box::into_raw(Box::new(Free { next: head }));
        }
        Batch {
            head: NonNull::new(head).expect("n > 0"),
            len: n,
        }
    }

    /// The blocks of `batch`, freed; returns their addresses.
    pub(super) fn free_all(batch: Batch) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut block = batch.head.as_ptr();
        while !block.is_null() {
            seen.push(block as usize);
            // SAFETY: every block of a test batch is a `Box<Free>` owned by the batch.
            let boxed = unsafe { Box::from_raw(block) };
            block = boxed.next;
        }
        assert_eq!(seen.len(), batch.len, "a batch's length is its list's");
        seen
    }

    #[test]
    #[cfg(not(heist_loom))]
    fn a_full_depot_hands_the_batch_back() {
        let depot = Depot::new();
        assert!(depot.put(batch_of(2), 1).is_ok());
        let back = depot
            .put(batch_of(3), 1)
            .expect_err("the depot holds one batch");
        assert_eq!(free_all(back).len(), 3);
        let kept = depot.take().expect("the first batch is kept");
        assert_eq!(free_all(kept).len(), 2);
        assert!(depot.take().is_none());
    }
}

/// The depot's model: under loom every interleaving of two putters and a taker; on
/// real threads (miri, ThreadSanitizer) a few hundred runs.
#[cfg(test)]
mod loom_tests {
    use super::tests::{batch_of, free_all};
    use super::*;
    use crate::sync::{model, thread, Arc};

    /// Two freeing threads hand batches to a depot of one batch while an allocating
    /// thread takes one out: every block comes out exactly once (from a take, from a
    /// batch handed back, or from what is left), and the depot never holds more than
    /// its cap (a check of the count made under one lock and the push under another
    /// lets both putters in: the planted bug in `docs/testing.md`).
    #[test]
    fn batches_put_and_taken_concurrently_arrive_once_and_within_the_cap() {
        model(if cfg!(miri) { 3 } else { 300 }, || {
            let depot = Arc::new(Depot::new());
            let putters: Vec<_> = [1, 2]
                .into_iter()
                .map(|n| {
                    let depot = depot.clone();
                    thread::spawn(move || depot.put(batch_of(n), 1).err())
                })
                .collect();
            // Every batch is kept until the end: a block freed early could be allocated
            // again by a putter, and its address seen twice.
            let mut out: Vec<Batch> = depot.take().into_iter().collect();
            for putter in putters {
                out.extend(putter.join().unwrap());
            }
            assert!(depot.len() <= 1, "the depot holds more than its cap");
            out.extend(std::iter::from_fn(|| depot.take()));
            let blocks: Vec<usize> = out.into_iter().flat_map(free_all).collect();
            let mut unique = blocks.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), blocks.len(), "a block came out twice");
            assert_eq!(blocks.len(), 3, "every block put comes out");
        });
    }
}
