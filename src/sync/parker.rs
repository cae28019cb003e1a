//! A token parker, the same shape as `std::thread::park`: `unpark` leaves a token that
//! the next `park` consumes, so an unpark that lands before the park is never lost.
//! `block_on` parks its thread on one; the timer keepers wait on one each
//! (`time/driver.rs`); a worker parks on one too (`scheduler/park.rs`), and may wait in
//! a *seat* of the runtime's driver instead of on the condvar ([`Parker::park_seated`]):
//! the parker then records the seat, and [`Parker::unpark_seated`] wakes its holder
//! through the driver.

use super::atomic::{AtomicUsize, Ordering::SeqCst};
use super::{wait_timeout, Condvar, Mutex};
use std::time::Duration;

/// Nobody parked, no token.
const EMPTY: usize = 0;
/// A token: the next park returns at once.
const TOKEN: usize = 1;
/// Waiting on the condvar.
const ON_CONDVAR: usize = 2;
/// Waiting in a seat, seat `state - IN_SEAT`.
const IN_SEAT: usize = 3;

/// Somewhere else a parked thread may wait instead of the parker's condvar: the seats of
/// the runtime's driver (`scheduler/park.rs`, "The driver interface").
pub(crate) trait Seats {
    /// Takes a free seat, if any (a try-lock).
    fn try_enter(&self) -> Option<usize>;

    /// Blocks on `seat` (held) until the seat's unpark (kept if it lands first) or
    /// `timeout`; may return spuriously.
    fn park(&self, seat: usize, timeout: Option<Duration>);

    /// Gives `seat` up.
    fn leave(&self, seat: usize);
}

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
        if !self.take_token() {
            self.park_on_condvar(timeout);
        }
    }

    /// As [`park`](Parker::park), in a seat of `seats` if one is free (else on the
    /// condvar). Woken by [`unpark_seated`](Parker::unpark_seated).
    pub(crate) fn park_seated<S: Seats>(&self, seats: &S, timeout: Option<Duration>) {
        if self.take_token() {
            return;
        }
        let Some(seat) = seats.try_enter() else {
            return self.park_on_condvar(timeout);
        };
        match self
            .state
            .compare_exchange(EMPTY, IN_SEAT + seat, SeqCst, SeqCst)
        {
            // An unpark from now on goes to the seat (which keeps a token).
            Ok(_) => {
                seats.park(seat, timeout);
                self.state.swap(EMPTY, SeqCst);
            }
            Err(actual) => {
                assert_eq!(actual, TOKEN, "parker state corrupted: {actual}");
                self.state.store(EMPTY, SeqCst);
            }
        }
        seats.leave(seat);
    }

    /// Where the parked thread waits: `None` if it does not (not parked, or a token
    /// pending), `Some(None)` on the condvar, `Some(Some(seat))` in a seat. A snapshot,
    /// for tests.
    #[cfg(all(test, not(heist_loom)))]
    pub(crate) fn waiting(&self) -> Option<Option<usize>> {
        match self.state.load(SeqCst) {
            EMPTY | TOKEN => None,
            ON_CONDVAR => Some(None),
            in_seat => Some(Some(in_seat - IN_SEAT)),
        }
    }

    /// Fast path: consumes a pending token without touching the lock (or a seat).
    fn take_token(&self) -> bool {
        self.state
            .compare_exchange(TOKEN, EMPTY, SeqCst, SeqCst)
            .is_ok()
    }

    fn park_on_condvar(&self, timeout: Option<Duration>) {
        let mut guard = self.lock.lock();
        if let Err(actual) = self
            .state
            .compare_exchange(EMPTY, ON_CONDVAR, SeqCst, SeqCst)
        {
            // The token arrived between the fast path and the lock.
            assert_eq!(actual, TOKEN, "parker state corrupted: {actual}");
            self.state.store(EMPTY, SeqCst);
            return;
        }
        // `unpark` swaps in TOKEN and then takes the lock before notifying, so it
        // cannot signal between our ON_CONDVAR store (made under the lock) and our wait.
        wait_timeout(&self.cvar, &mut guard, timeout);
        // Woken, timed out, or spurious: leave EMPTY either way, consuming any token.
        self.state.swap(EMPTY, SeqCst);
    }

    /// Wakes the parked thread, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        self.unpark_seated(|seat| panic!("parker state corrupted: {}", IN_SEAT + seat));
    }

    /// As [`unpark`](Parker::unpark), for a parker that may wait in a seat
    /// ([`park_seated`](Parker::park_seated)): `wake_seat` wakes that seat's holder.
    pub(crate) fn unpark_seated(&self, wake_seat: impl FnOnce(usize)) {
        match self.state.swap(TOKEN, SeqCst) {
            EMPTY | TOKEN => {}
            ON_CONDVAR => {
                // Taking the lock orders this notify after the parker's wait began.
                drop(self.lock.lock());
                self.cvar.notify_one();
            }
            in_seat => wake_seat(in_seat - IN_SEAT),
        }
    }
}
