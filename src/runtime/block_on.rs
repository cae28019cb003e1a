//! Running a future to completion on the calling thread.
//!
//! While it polls, the thread holds the runtime's paused clock (`time/clock.rs`): auto-
//! advance waits until it parks, so time does not jump under a `block_on` future that is
//! still running. A wake-up counts the thread as busy again *before* it returns, so a
//! task that wakes `block_on` and then goes idle leaves no gap in which the runtime
//! looks idle (`docs/sleep-protocol.md`, "Auto-advance").

use super::{context, Handle};
use crate::sync::Parker;
use crate::task::coop::Budget;
// A std atomic, on purpose: as the clock's counts (`time/clock.rs`), what orders the
// auto-advance protocol is the clock's and the sleepers' locks; this word only decides,
// by read-modify-writes, which of the waker and the woken thread counts the thread busy.
use crate::time;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

// `Handle::block_on` lives with `block_on`, so `handle.rs` imports neither it nor the
// context.
impl Handle {
    /// Runs a future to completion on this thread, with this runtime current; see
    /// [`Runtime::block_on`](crate::Runtime::block_on).
    ///
    /// # Panics
    /// On a worker thread of any heist runtime, and inside another `block_on`.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _blocking = context::enter_blocking();
        let _enter = self.enter();
        block_on(self.time().clone(), future)
    }
}

/// Polling (or woken, about to poll): counted as holding the clock.
const BUSY: usize = 0;
/// Polling, and woken during the poll: polls again without letting the clock go.
const NOTIFIED: usize = 1;
/// Parked, not counted.
const IDLE: usize = 2;
/// `block_on` returned: a late wake counts nothing.
const DONE: usize = 3;

/// Wakes the thread blocked in `block_on`.
struct ThreadWaker {
    parker: Parker,
    state: AtomicUsize,
    time: crate::sync::Arc<time::Driver>,
}

impl ThreadWaker {
    /// A wake-up (or the thread's own return from `park`): IDLE -> BUSY, counting the
    /// thread as holding the clock (by whoever gets there first, the waker or the woken
    /// thread), or BUSY -> NOTIFIED. The count is raised before the state says so and
    /// given back if another got there first, so it never drops below the holders.
    fn count_woken(&self) {
        let mut state = self.state.load(SeqCst);
        loop {
            let next = match state {
                BUSY => NOTIFIED,
                IDLE => {
                    self.time.inhibit_auto_advance();
                    BUSY
                }
                _ => return,
            };
            match self.state.compare_exchange(state, next, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(actual) => {
                    if state == IDLE {
                        self.time.allow_auto_advance();
                    }
                    state = actual;
                }
            }
        }
    }
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.count_woken();
        self.parker.unpark();
    }
}

/// Ends `block_on`'s hold on the clock, on return or unwind.
struct Done<'a>(&'a ThreadWaker);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        if self.0.state.swap(DONE, SeqCst) != IDLE {
            self.0.time.allow_auto_advance();
        }
    }
}

/// Polls `future` on this thread, parking between polls until its waker fires.
/// The caller has entered the runtime context (whose timer driver is `time`) and
/// checked it is not on a worker.
pub(crate) fn block_on<F: Future>(time: crate::sync::Arc<time::Driver>, future: F) -> F::Output {
    time.inhibit_auto_advance();
    let thread = Arc::new(ThreadWaker {
        parker: Parker::new(),
        state: AtomicUsize::new(BUSY),
        time,
    });
    let _done = Done(&thread);
    let waker = Waker::from(thread.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    // The I/O budget of each poll (`task/coop.rs`): made current once, refilled per poll.
    let budget = Budget::new();
    let _budget = context::enter_budget(&budget);
    loop {
        budget.new_poll();
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // Let the clock go while parked, unless woken during the poll (then poll again).
        // A wake from here on counts us busy again.
        if thread
            .state
            .compare_exchange(BUSY, IDLE, SeqCst, SeqCst)
            .is_ok()
        {
            thread.time.allow_auto_advance();
            thread.parker.park(None);
            thread.count_woken();
        } else {
            thread.state.store(BUSY, SeqCst);
        }
    }
}
