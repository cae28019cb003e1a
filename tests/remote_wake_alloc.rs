//! A wake from a thread outside the runtime allocates nothing on that thread once the
//! runtime has warmed up.
//!
//! Such a thread (a driver's, a logger's) is often the bottleneck of a whole pipeline,
//! and an allocation on it is worse than its own cost: the injector used to allocate a
//! 1 KB block every 63 remote wakes, a request glibc serves only after consolidating the
//! thread's arena, which made the thread's other small allocations slow as well
//! (`docs/benchmarks.md`, `foreign_wake_storm`). A counting global allocator counts the
//! allocations made on the waking thread only.
//!
//! "Warmed up" includes the waking thread itself. The injector's locks are parking_lot's,
//! and the first time a thread parks on one (a push that meets a worker's pop) parking_lot
//! allocates that thread's record in its global table, once for the thread's life (a 1 KB
//! table and its 32-byte header when the table has to grow). Whether a warm-up wake meets
//! such contention is up to the scheduler, so the test parks the thread once on purpose
//! before it counts. Without that, on a loaded machine about one round in a thousand
//! counted those two.

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

/// Parks this thread once in parking_lot (a wait that times out at once), so that its
/// per-thread record exists before the counted wakes.
fn park_once_in_parking_lot() {
    let lock = parking_lot::Mutex::new(());
    let timed_out = parking_lot::Condvar::new()
        .wait_for(&mut lock.lock(), std::time::Duration::ZERO)
        .timed_out();
    assert!(timed_out, "nobody notifies this condvar");
}

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
        park_once_in_parking_lot();
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
