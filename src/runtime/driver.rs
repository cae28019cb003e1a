//! The runtime's driver stack: what a parked worker waits in (`scheduler/park.rs`, "The
//! driver interface"). Today the timers alone; an I/O driver goes on top of them, and
//! this file is where the two are stacked.
//!
//! # Stacking an I/O driver
//!
//! With a reactor, `Driver` holds it beside the timers and the seat becomes the
//! reactor's (one seat, a try-lock on the `mio::Poll`); the timers' keeper roles are then
//! simply never taken:
//!
//! - `turn(wait)`: poll with a zero timeout if the `try_lock` succeeds, dispatch, then
//!   `time.fire_due(wait)`; return the sum of the tasks woken.
//! - `try_enter`: the `try_lock`. `park(seat, timeout)`: poll with
//!   `time.timeout_for(timeout)` (the worker's timeout shortened to the next timer
//!   deadline), dispatch. `leave`: unlock.
//! - `needs_waiter`: after a `SeqCst` fence, nobody holds the poll and something is
//!   registered (I/O sources, or `time` has timers).
//! - `Unpark::unpark(seat)`: `mio::Waker::wake` (it leaves an event, so a wake that
//!   lands before the poll is kept).
//! - An earlier timer deadline: with no keeper role held, `time::Driver` calls the
//!   callback given to `set_summon` on every registration that lowers the next
//!   deadline. With a reactor that callback wakes the poller (`mio::Waker::wake`) and,
//!   if nobody holds the poll, summons a sleeper (`Shared::summon`) to take it.

use crate::scheduler::park::{self, Seat};
use crate::sync::Arc;
use crate::time;
use std::time::Duration;

/// The runtime's driver: its timers (and, next, its I/O reactor).
pub(crate) struct Driver {
    pub(crate) time: Arc<time::Driver>,
}

impl Driver {
    /// With the clock paused from the start if `start_paused` (`Builder::start_paused`).
    pub(crate) fn new(start_paused: bool) -> Driver {
        Driver {
            time: Arc::new(time::Driver::new(start_paused)),
        }
    }

    /// What the scheduler calls to wake a worker waiting in this driver.
    pub(crate) fn unpark(&self) -> Box<dyn park::Unpark> {
        Box::new(Unpark {
            keepers: self.time.keepers(),
        })
    }

    /// Closes the driver at shutdown: every timer still registered is woken, and polling
    /// it then panics (it could never fire).
    pub(crate) fn shutdown(&self) {
        self.time.shutdown();
    }
}

/// The timers as a park driver: a seat is one of the two keeper roles
/// (`time/driver.rs`, "Who fires timers").
impl park::Driver for Driver {
    #[inline]
    fn turn(&self, wait: bool) -> usize {
        self.time.fire_due(wait)
    }

    fn try_enter(&self, worker: usize) -> Option<Seat> {
        self.time.try_keep(worker)
    }

    fn park(&self, seat: Seat, timeout: Option<Duration>) {
        self.time.park_keeper(seat, timeout);
    }

    fn leave(&self, seat: Seat) {
        self.time.release_keeper(seat);
    }

    fn needs_waiter(&self) -> bool {
        self.time.needs_keeper()
    }

    fn may_auto_advance(&self) -> bool {
        self.time.may_auto_advance()
    }

    fn auto_advance(&self) -> usize {
        self.time.auto_advance()
    }
}

/// Wakes a worker waiting in the driver: the holder of a keeper role.
struct Unpark {
    keepers: Arc<time::Keepers>,
}

impl park::Unpark for Unpark {
    fn unpark(&self, seat: Seat) {
        self.keepers.unpark(seat);
    }
}
