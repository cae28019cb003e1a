//! Hands whole free lists of task blocks from the threads that free them to the threads
//! that allocate them.
//!
//! A task is often allocated on one thread and freed on another: spawned from outside
//! the runtime and completed on a worker, or spawned on a worker and stolen. The thread
//! that only frees fills its free list (`cache.rs`) and, before this depot, gave every
//! further block back to the system allocator, while the thread that only allocates
//! found its own list empty and asked the system allocator for a new one each time.
//! With glibc that is a cross-thread free into the allocating thread's arena on every
//! task, and the two threads contend on the arena's bins: `spawn_many_local` with two
//! workers ran 2.2 x slower than with those frees kept out of glibc's fast bins
//! (`docs/benchmarks/worker-counts.md`, section 12).
//!
//! Now a thread whose list of a class is full hands the whole list (up to
//! `cache::MAX_CACHED` blocks) to the depot as one batch, and a thread whose list is
//! empty takes a batch back: one uncontended lock per 64 blocks each way. The depot
//! holds at most `DEPOT_BYTES` per class; beyond that a full list goes back to the
//! system allocator as before. Batches in the depot stay there until a thread takes
//! them (the depot is process-wide and never freed).

use crate::sync::Mutex;
use std::ptr::NonNull;

/// Bytes of free blocks the depot keeps per size class (at most; at least one batch).
pub(super) const DEPOT_BYTES: usize = 64 * 1024;

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

    /// An empty depot (loom's locks are not `const`).
    #[cfg(heist_loom)]
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
    use crate::sync::{model, thread, Arc};

    /// `n` blocks linked into a batch (boxed `Free`s; `free_all` frees them).
    fn batch_of(n: usize) -> Batch {
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
    fn free_all(batch: Batch) -> Vec<usize> {
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

    /// Two freeing threads hand batches in while an allocating thread takes them out:
    /// every block comes out exactly once, from a take or from what is left (a batch
    /// taken twice, or lost, fails; a leaked block fails under loom and miri).
    #[test]
    fn batches_put_and_taken_concurrently_arrive_once() {
        model(if cfg!(miri) { 3 } else { 300 }, || {
            let depot = Arc::new(Depot::new());
            let putters: Vec<_> = [1, 2]
                .into_iter()
                .map(|n| {
                    let depot = depot.clone();
                    thread::spawn(move || {
                        if let Err(back) = depot.put(batch_of(n), 2) {
                            free_all(back);
                            return false;
                        }
                        true
                    })
                })
                .collect();
            let mut blocks = depot.take().map(free_all).unwrap_or_default();
            let kept: usize = putters
                .into_iter()
                .map(|p| p.join().unwrap() as usize)
                .sum();
            assert_eq!(kept, 2, "a depot of two batches takes both");
            while let Some(batch) = depot.take() {
                blocks.extend(free_all(batch));
            }
            let mut unique = blocks.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), blocks.len(), "a block came out twice");
            assert_eq!(blocks.len(), 3, "every block put comes out");
        });
    }
}
