//! The runtime's driver stack: what a parked worker waits in (`scheduler/park.rs`, "The
//! driver interface"). Today the timers alone; an I/O driver goes on top of them (it
//! polls with the timers' next deadline as its timeout, then turns them), and this file
//! is where the two are stacked.

use crate::scheduler::park::{self, Seat};
use crate::sync::Arc;
use crate::time;
use std::time::Duration;

/// The runtime's driver: its timers (and, next, its I/O reactor).
pub(crate) struct Driver {
    pub(crate) time: Arc<time::Driver>,
}

impl Driver {
    pub(crate) fn new() -> Driver {
        Driver {
            time: Arc::new(time::Driver::new()),
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
