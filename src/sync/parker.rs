//! A token parker, the same shape as `std::thread::park`: `unpark` leaves a token that
//! the next `park` consumes, so an unpark that lands before the park is never lost.
//! `block_on` parks its thread on one; the timer keepers wait on one each
//! (`time/driver.rs`). A worker's own parker, which may also wait in the runtime's
//! driver, is `scheduler/park.rs`.

use super::atomic::{AtomicUsize, Ordering::SeqCst};
use super::{wait_timeout, Condvar, Mutex};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const TOKEN: usize = 2;

/// One thread's parking spot.
#[derive(Debug)]
pub(crate) struct Parker {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Blocks until `unpark` is called (or was called since the last park), or until
    /// `timeout` passes. May also return spuriously; callers re-check their condition.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        // Fast path: consume a pending token without touching the lock.
        if self
            .state
            .compare_exchange(TOKEN, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = self.lock.lock();
        if let Err(actual) = self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            // The token arrived between the fast path and the lock.
            assert_eq!(actual, TOKEN, "parker state corrupted: {actual}");
            self.state.store(EMPTY, SeqCst);
            return;
        }
        // `unpark` swaps in TOKEN and then takes the lock before notifying, so it
        // cannot signal between our PARKED store (made under the lock) and our wait.
        wait_timeout(&self.cvar, &mut guard, timeout);
        // Woken, timed out, or spurious: leave EMPTY either way, consuming any token.
        self.state.swap(EMPTY, SeqCst);
    }

    /// Wakes the parked thread, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        match self.state.swap(TOKEN, SeqCst) {
            EMPTY | TOKEN => {}
            PARKED => {
                // Taking the lock orders this notify after the parker's wait began.
                drop(self.lock.lock());
                self.cvar.notify_one();
            }
            actual => panic!("parker state corrupted: {actual}"),
        }
    }
}
