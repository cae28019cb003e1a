//! Nothing leaks: every task allocation made during a run of the runtime is freed by the
//! time the runtime and all handles are gone, whatever state the tasks were in.
//!
//! A counting global allocator tracks live allocations. One warm-up round first creates
//! the process-wide state that lives forever (crossbeam's epoch collector, thread-local
//! storage, std's lazily initialised globals); after that, a round that spawns tens of
//! thousands of tasks must end with the live count back within a small constant of where
//! it started: a leaked task would leave thousands behind.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use std::sync::mpsc;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(1, SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(1, SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const TASKS: usize = if cfg!(miri) { 50 } else { 20_000 };

/// Tasks in every state at shutdown: completed and joined, completed and detached,
/// aborted, panicked, waiting with a waker held outside, queued behind a busy worker,
/// and a wake arriving after shutdown.
fn one_round() {
    let rt = rt(2);
    let joined: Vec<_> = (0..TASKS / 4)
        .map(|i| rt.spawn(async move { vec![i; 4] }))
        .collect();
    for i in 0..TASKS / 4 {
        drop(rt.spawn(async move { vec![i; 4] }));
    }
    let aborted: Vec<_> = (0..TASKS / 8).map(|_| rt.spawn(Pending)).collect();
    for h in &aborted {
        h.abort();
    }
    let panicked = rt.spawn(async { panic!("leak test") });
    let (waker_tx, waker_rx) = mpsc::channel();
    for _ in 0..TASKS / 8 {
        let tx = waker_tx.clone();
        drop(rt.spawn(std::future::poll_fn(move |cx| {
            let _ = tx.send(cx.waker().clone());
            std::task::Poll::<()>::Pending
        })));
    }
    let wakers: Vec<_> = (0..TASKS / 8).map(|_| waker_rx.recv().unwrap()).collect();
    // A busy worker with a queue behind it.
    let release = occupy_worker(&rt);
    let queued: Vec<_> = (0..TASKS / 8).map(|_| rt.spawn(async {})).collect();
    rt.block_on(async {
        for h in joined {
            assert_eq!(h.await.unwrap().len(), 4);
        }
    });
    release.send(()).unwrap();
    drop(rt);
    assert!(futures::executor::block_on(panicked)
        .unwrap_err()
        .is_panic());
    for h in aborted {
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    }
    drop(queued);
    for w in wakers {
        w.wake();
    }
}

#[test]
fn every_task_allocation_is_freed() {
    one_round();
    // Freed task blocks kept for reuse (the depot that hands them between threads holds
    // up to 1 MiB per size) are not a leak: released before each count.
    heist::task::release_cached_task_memory();
    let before = LIVE.load(SeqCst);
    one_round();
    heist::task::release_cached_task_memory();
    let after = LIVE.load(SeqCst);
    assert!(
        (after - before).abs() < 64,
        "{} allocations still live after a round of {TASKS} tasks",
        after - before
    );
}
