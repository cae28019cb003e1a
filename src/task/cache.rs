//! Recycles task allocations per thread.
//!
//! Spawning allocates one block per task and completing frees it; with the system
//! allocator those two calls were about a third of the instructions of a spawn-and-run
//! (measured with callgrind, see `docs/benchmarks.md`). Blocks are grouped into size
//! classes 16 bytes apart, up to 504 bytes; each thread keeps a short free list per class,
//! so a worker that spawns and completes tasks reuses the same few blocks. Larger or
//! over-aligned tasks go straight to the global allocator.
//!
//! A block freed on another thread lands in that thread's list; lists are capped. A
//! thread whose list is full hands the whole list to the class's depot (`depot.rs`),
//! and a thread whose list is empty takes one from there before it asks the global
//! allocator, so a thread that only frees (a worker completing tasks spawned from
//! outside) feeds one that only allocates (the spawner) without a cross-thread free in
//! the system allocator. A thread's lists are freed when it exits. Under loom
//! (`sync::RECYCLE_TASK_ALLOCATIONS` is false) every block goes to the global allocator,
//! so loom's and miri's views stay simple.

use super::depot::{Batch, Depot, Free, DEPOT_BYTES};
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::UnsafeCell;
use std::ptr::{self, NonNull};

/// Class `k` holds blocks of `k * CLASS_SIZE + CLASS_OFFSET` bytes (24, 40, ..., 504).
/// That is the system allocator's own granularity (glibc keeps 8 bytes of each 16-byte
/// aligned chunk for itself), so rounding a request up to its class never makes the
/// allocator hand out a bigger chunk than the request alone would have.
const CLASS_SIZE: usize = 16;
const CLASS_OFFSET: usize = 8;
const CLASSES: usize = 32;
const CLASS_ALIGN: usize = 16;
/// Blocks kept per class and thread (at most 32 KiB per class), and so per batch handed
/// to the depot.
pub(super) const MAX_CACHED: usize = 64;

/// One depot per class.
#[cfg(not(heist_loom))]
static DEPOTS: [Depot; CLASSES] = [const { Depot::new() }; CLASSES];

/// Batches a class's depot keeps: `DEPOT_BYTES` of blocks, and at least one batch.
fn depot_cap(class: usize) -> usize {
    (DEPOT_BYTES / (MAX_CACHED * (class * CLASS_SIZE + CLASS_OFFSET))).max(1)
}

/// The depot of `class`.
#[cfg(not(heist_loom))]
fn depot(class: usize) -> Option<&'static Depot> {
    Some(&DEPOTS[class])
}

/// None under loom, where blocks are not recycled at all (`class_of` is always `None`).
#[cfg(heist_loom)]
fn depot(_class: usize) -> Option<&'static Depot> {
    None
}

/// Frees every block of `batch` to the global allocator.
///
/// # Safety
/// `batch` holds free blocks of `class_layout(class)` that nothing else references.
unsafe fn free_batch(batch: Batch, class: usize) {
    let mut block = batch.head.as_ptr();
    while !block.is_null() {
        // SAFETY: the batch owns its blocks (the caller's contract); each is read once
        // and freed with the layout it was allocated with.
        unsafe {
            let next = (*block).next;
            dealloc(block.cast(), class_layout(class));
            block = next;
        }
    }
}

struct Lists {
    heads: [*mut Free; CLASSES],
    lens: [usize; CLASSES],
}

std::thread_local! {
    static LISTS: UnsafeCell<Lists> = const {
        UnsafeCell::new(Lists { heads: [ptr::null_mut(); CLASSES], lens: [0; CLASSES] })
    };
}

impl Lists {
    /// Frees every list's blocks to the global allocator and empties the lists.
    fn free_all(&mut self) {
        for class in 0..CLASSES {
            let head = std::mem::replace(&mut self.heads[class], ptr::null_mut());
            let len = std::mem::take(&mut self.lens[class]);
            if let Some(head) = NonNull::new(head) {
                // SAFETY: every block on a list is a free block of `class_layout(class)`
                // that nobody else references (it was freed into the list, which no
                // longer refers to it).
                unsafe { free_batch(Batch { head, len }, class) };
            }
        }
    }
}

impl Drop for Lists {
    fn drop(&mut self) {
        self.free_all();
    }
}

fn class_of(layout: Layout) -> Option<usize> {
    if !crate::sync::RECYCLE_TASK_ALLOCATIONS || layout.align() > CLASS_ALIGN {
        return None;
    }
    // The smallest class whose size is at least the request (class 0 is unused).
    let class = layout
        .size()
        .saturating_sub(CLASS_OFFSET)
        .div_ceil(CLASS_SIZE)
        .max(1);
    (class < CLASSES).then_some(class)
}

fn class_layout(class: usize) -> Layout {
    // Sizes 24 to 504 with alignment 16: always valid (a size need not be a multiple of
    // the alignment).
    Layout::from_size_align(class * CLASS_SIZE + CLASS_OFFSET, CLASS_ALIGN)
        .expect("valid class layout")
}

/// Frees the blocks kept for reuse in the depots and in the calling thread's lists (other
/// threads' lists are freed when those threads exit).
pub(crate) fn release_cached() {
    // SAFETY: as in `allocate`: this thread's lists, no re-entrancy.
    let _ = LISTS.try_with(|lists| unsafe { &mut *lists.get() }.free_all());
    #[cfg(not(heist_loom))]
    for (class, depot) in DEPOTS.iter().enumerate() {
        while let Some(batch) = depot.take() {
            // SAFETY: a batch owns its free blocks of this class.
            unsafe { free_batch(batch, class) };
        }
    }
}

/// Allocates a block for `layout` (non-zero size).
pub(super) fn allocate(layout: Layout) -> NonNull<u8> {
    let real = match class_of(layout) {
        Some(class) => {
            let reused = LISTS
                .try_with(|lists| {
                    // SAFETY: the lists are only touched by this thread, and nothing that
                    // runs while this reference lives (the depot's lock, the global
                    // allocator) calls back into this module (no re-entrancy).
                    let lists = unsafe { &mut *lists.get() };
                    let mut head = lists.heads[class];
                    if head.is_null() {
                        // Empty: take a list another thread filled, if the depot has one.
                        let batch = depot(class)?.take()?;
                        head = batch.head.as_ptr();
                        lists.lens[class] = batch.len;
                    }
                    // SAFETY: `head` is a free block of this class (see `Lists::drop`).
                    lists.heads[class] = unsafe { (*head).next };
                    lists.lens[class] -= 1;
                    NonNull::new(head.cast::<u8>())
                })
                .ok()
                .flatten();
            if let Some(block) = reused {
                return block;
            }
            class_layout(class)
        }
        None => layout,
    };
    // SAFETY: task cells are never zero-sized, and neither are class layouts.
    let block = unsafe { alloc(real) };
    NonNull::new(block).unwrap_or_else(|| handle_alloc_error(real))
}

/// Frees a block from [`allocate`].
///
/// # Safety
/// `block` came from `allocate(layout)` with this same `layout`, and is not used again.
pub(super) unsafe fn deallocate(block: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: `allocate` used `layout` itself for unclassed requests.
        unsafe { dealloc(block.as_ptr(), layout) };
        return;
    };
    let kept = LISTS
        .try_with(|lists| {
            // SAFETY: as in `allocate`: this thread's lists, no re-entrancy.
            let lists = unsafe { &mut *lists.get() };
            if lists.lens[class] >= MAX_CACHED {
                // Full: hand the whole list to the depot (or, if that is full too, to
                // the global allocator) and start a new one with this block.
                let Some(depot) = depot(class) else {
                    return false;
                };
                let full = Batch {
                    head: NonNull::new(lists.heads[class]).expect("a full list has a head"),
                    len: lists.lens[class],
                };
                lists.heads[class] = ptr::null_mut();
                lists.lens[class] = 0;
                if let Err(full) = depot.put(full, depot_cap(class)) {
                    // SAFETY: the list's blocks are free blocks of this class, and the
                    // list no longer refers to them.
                    unsafe { free_batch(full, class) };
                }
            }
            let free = block.as_ptr().cast::<Free>();
            // SAFETY: the block is at least 24 bytes, 16-aligned, and ours now.
            unsafe {
                free.write(Free {
                    next: lists.heads[class],
                })
            };
            lists.heads[class] = free;
            lists.lens[class] += 1;
            true
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: classed blocks are allocated with their class layout.
        unsafe { dealloc(block.as_ptr(), class_layout(class)) };
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_within_a_class() {
        let layout = Layout::from_size_align(100, 8).unwrap();
        let a = allocate(layout);
        // SAFETY: from `allocate(layout)`, not used again.
        unsafe { deallocate(a, layout) };
        let same_class = Layout::from_size_align(104, 16).unwrap();
        let b = allocate(same_class);
        assert_eq!(a, b);
        // SAFETY: as above.
        unsafe { deallocate(b, same_class) };
    }

    #[test]
    fn large_and_over_aligned_blocks_bypass_the_lists() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(4096, 8), None);
        assert_eq!(class(64, 64), None);
        assert_eq!(class(505, 16), None);
    }

    #[test]
    fn classes_match_the_system_allocators_chunks() {
        let class = |size| class_of(Layout::from_size_align(size, 8).unwrap());
        assert_eq!(class(16), Some(1));
        assert_eq!(class(24), Some(1));
        assert_eq!(class(25), Some(2));
        assert_eq!(class(88), Some(5));
        assert_eq!(class(504), Some(31));
        assert_eq!(class_layout(5).size(), 88);
    }

    #[test]
    fn lists_are_capped() {
        let layout = Layout::from_size_align(200, 8).unwrap();
        let blocks: Vec<_> = (0..MAX_CACHED + 10).map(|_| allocate(layout)).collect();
        for b in blocks {
            // SAFETY: from `allocate(layout)`, not used again.
            unsafe { deallocate(b, layout) };
        }
        // SAFETY: this thread's lists; nothing else runs during the read.
        let len = LISTS.with(|l| unsafe { (*l.get()).lens[class_of(layout).unwrap()] });
        assert_eq!(
            len, 10,
            "the full list went to the depot, 10 blocks came after"
        );
    }

    /// A thread that only frees feeds a thread that only allocates: the blocks freed on
    /// one thread, past a full list, are the next ones allocated on another.
    #[test]
    fn a_full_list_freed_on_one_thread_is_allocated_on_another() {
        struct Block(NonNull<u8>);
        // SAFETY: a test block is a plain allocation, owned by one thread at a time.
        unsafe impl Send for Block {}
        // A class no other test uses, so the depot's batches of it are this test's.
        let layout = Layout::from_size_align(472, 8).unwrap();
        let blocks: Vec<Block> = (0..=MAX_CACHED).map(|_| Block(allocate(layout))).collect();
        let addresses: Vec<*mut u8> = blocks.iter().map(|b| b.0.as_ptr()).collect();
        std::thread::spawn(move || {
            for b in blocks {
                // SAFETY: from `allocate(layout)` on the spawning thread, not used again.
                unsafe { deallocate(b.0, layout) };
            }
        })
        .join()
        .unwrap();
        // The freeing thread's first 64 went to the depot as one batch; its 65th was in
        // its own list, freed when it exited. This thread's list of the class is empty.
        let depot = &DEPOTS[class_of(layout).unwrap()];
        assert_eq!(depot.len(), 1, "the full list was handed over whole");
        let again: Vec<NonNull<u8>> = (0..MAX_CACHED).map(|_| allocate(layout)).collect();
        assert!(
            again.iter().all(|b| addresses.contains(&b.as_ptr())),
            "every block came back from the depot"
        );
        assert_eq!(depot.len(), 0);
        for b in again {
            // SAFETY: from `allocate(layout)`, not used again.
            unsafe { deallocate(b, layout) };
        }
    }
}
