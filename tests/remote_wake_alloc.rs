//! A wake from a thread outside the runtime allocates nothing on that thread once the
//! runtime has warmed up.
//!
//! Such a thread (a driver's, a logger's) is often the bottleneck of a whole pipeline,
//! and an allocation on it is worse than its own cost: the injector used to allocate a
//! 1 KB block every 63 remote wakes, a request glibc serves only after consolidating the
//! thread's arena, which made the thread's other small allocations slow as well
//! (`docs/benchmarks.md`, `foreign_wake_storm`). A counting global allocator counts the
//! allocations made on the waking thread only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Poll, Waker};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    /// Set on the thread whose allocations are counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, SeqCst);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Where the task leaves its waker for the waking thread, with the number of polls.
#[derive(Default)]
struct Slot {
    state: Mutex<(Option<Waker>, usize)>,
    cond: Condvar,
}

const WARM_UP: usize = 200;
const MEASURED: usize = 1_000;

#[test]
fn a_remote_wake_allocates_nothing_on_the_waking_thread() {
    for workers in [1, 2] {
        let rt = heist::Runtime::builder()
            .worker_threads(workers)
            .build()
            .unwrap();
        let slot = Arc::new(Slot::default());
        let task_slot = slot.clone();
        let task = rt.spawn(poll_fn(move |cx| {
            let mut state = task_slot.state.lock().unwrap();
            state.1 += 1;
            if state.1 > WARM_UP + MEASURED {
                return Poll::Ready(());
            }
            state.0 = Some(cx.waker().clone());
            task_slot.cond.notify_one();
            Poll::Pending
        }));
        // Wakes the task once it has parked its waker after `polls` polls.
        let wake_after = |polls: usize| {
            let mut state = slot.state.lock().unwrap();
            while state.1 < polls || state.0.is_none() {
                state = slot.cond.wait(state).unwrap();
            }
            let waker = state.0.take().unwrap();
            drop(state);
            waker.wake();
        };
        for polls in 1..=WARM_UP {
            wake_after(polls);
        }
        COUNTING.with(|c| c.set(true));
        for polls in WARM_UP + 1..=WARM_UP + MEASURED {
            wake_after(polls);
        }
        COUNTING.with(|c| c.set(false));
        rt.block_on(task).unwrap();
        assert_eq!(
            ALLOCATIONS.swap(0, SeqCst),
            0,
            "{MEASURED} remote wakes allocated on the waking thread ({workers} workers)"
        );
    }
}
