//! The runtime's driver stack: what a parked worker waits in (`scheduler/park.rs`, "The
//! driver interface"): the I/O reactor (`src/io/driver.rs`) over the timers
//! (`src/time/`), stacked here.
//!
//! Seats: the timers' two keeper roles are seats `0..KEEPERS`; the reactor's one seat
//! is `IO_SEAT`. A parking worker takes the reactor's seat first (once the runtime has
//! done any I/O) and waits in `epoll_wait` with the time to the timers' next deadline as
//! its timeout; otherwise a keeper role, as before. A watcher whose peer is awake asks
//! for no seat that waits for events (`try_enter(.., false)`): only a keeper role, and
//! it polls the reactor without blocking when its period ends (`scheduler/park.rs`).
//! The reactor's holder keeps no timer role: a timer that moves earlier while no keeper
//! is seated summons a sleeper, which may be the holder (woken through mio's `Waker`,
//! it polls again with the new deadline).

use crate::io::driver::{Driver as IoDriver, Summon};
use crate::scheduler::park::{self, Seat};
use crate::sync::atomic::{fence, AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use crate::sync::{Arc, OnceLock};
use crate::time;
use std::time::Duration;

/// The reactor's seat (after the timers' keeper roles).
pub(crate) const IO_SEAT: Seat = time::KEEPERS;

/// The runtime's driver: its I/O reactor and its timers.
pub(crate) struct Driver {
    pub(crate) time: Arc<time::Driver>,
    pub(crate) io: IoDriver,
    /// A worker leaving the reactor's seat summons a sleeper to it (the eager hand-off).
    /// Off when the scheduler's stalled-slot check is on (`set_rescued`).
    io_handoff: AtomicBool,
}

impl Driver {
    /// With the clock paused from the start if `start_paused` (`Builder::start_paused`).
    pub(crate) fn new(start_paused: bool) -> Driver {
        Driver {
            time: Arc::new(time::Driver::new(start_paused)),
            io: IoDriver::new(),
            io_handoff: AtomicBool::new(true),
        }
    }

    /// The scheduler's stalled-slot check is on (`Builder::stalled_slot_check`): while
    /// any worker is awake, a sleeper waits with that period as its timeout
    /// (`scheduler/park.rs`, the chain wake-up's "alone" rule keeps one), and on waking
    /// polls the reactor without blocking (it stays out of the reactor's seat while a
    /// peer is awake; the last worker to park takes the seat). So a
    /// worker that leaves the seat and then blocks in a long poll stalls I/O for at most
    /// that period, without the eager hand-off, which cost a sleeper's wake-up (and
    /// often a `mio::Waker` write on top of the "alone" rule's own wake) on every event
    /// batch. Registrations still summon eagerly (`io::driver`), and the timers' hand-off
    /// is unchanged (their lateness must not grow by the period).
    pub(crate) fn set_rescued(&self, rescued: bool) {
        self.io_handoff.store(!rescued, Relaxed);
    }

    /// Sets how the drivers ask the scheduler for a sleeper to take a free seat.
    pub(crate) fn set_summon(&self, summon: Summon) {
        let for_time = summon.clone();
        self.time.set_summon(Box::new(move || for_time()));
        self.io.set_summon(summon);
    }

    /// What the scheduler calls to wake a worker waiting in this driver.
    pub(crate) fn unpark(&self) -> Box<dyn park::Unpark> {
        Box::new(Unpark {
            keepers: self.time.keepers(),
            waker: self.io.waker(),
        })
    }

    /// Closes the driver at shutdown: every timer still registered is woken (polling it
    /// then panics: it could never fire), and every I/O resource fails from now on.
    pub(crate) fn shutdown(&self) {
        self.time.shutdown();
        self.io.shutdown();
    }
}

impl park::Driver for Driver {
    #[inline]
    fn turn(&self, wait: bool) -> usize {
        // A parking worker (`wait`) only dispatches what the seat's wait left
        // (`io::driver::Inner::turn`).
        let io = self.io.get().map_or(0, |io| io.turn(!wait));
        io + self.time.fire_due(wait)
    }

    fn try_enter(&self, worker: usize, events: bool) -> Option<Seat> {
        if events {
            if let Some(io) = self.io.get() {
                if io.try_enter() {
                    return Some(IO_SEAT);
                }
            }
        }
        self.time.try_keep(worker)
    }

    fn park(&self, seat: Seat, timeout: Option<Duration>) {
        match (seat, self.io.get()) {
            (IO_SEAT, Some(io)) => {
                // Pairs with the fence in `time::Driver::timer_moved_earlier`, as in
                // `park_keeper`: a registration whose deadline this read misses finds
                // no keeper for it and summons a sleeper, which may be this one.
                fence(SeqCst);
                io.park(self.time.timeout_for(timeout));
            }
            _ => self.time.park_keeper(seat, timeout),
        }
    }

    fn leave(&self, seat: Seat) {
        match (seat, self.io.get()) {
            (IO_SEAT, Some(io)) => io.leave(),
            _ => self.time.release_keeper(seat),
        }
    }

    fn needs_waiter(&self) -> bool {
        self.time.needs_keeper()
            || (self.io_handoff.load(Relaxed) && self.io.get().is_some_and(|io| io.needs_waiter()))
    }

    fn unwatched(&self) -> bool {
        // Not gated by the hand-off: without it (the stalled-slot check on, the default)
        // a worker that left the reactor to run a task spun before sleeping while the
        // next request's edge waited in the kernel (up to 50 us per request on a
        // one-connection request/response server with two workers;
        // `tests/net_scheduling.rs`, `a_spinning_worker_serves_io_that_nobody_waits_for`).
        self.time.needs_keeper() || self.io.get().is_some_and(|io| io.needs_waiter())
    }

    fn may_auto_advance(&self) -> bool {
        self.time.may_auto_advance()
    }

    fn settle(&self) -> bool {
        self.io.settle()
    }

    fn auto_advance(&self) -> usize {
        self.time.auto_advance()
    }
}

/// Wakes a worker waiting in the driver: the reactor's holder through mio's `Waker`, a
/// keeper through its role's parker.
struct Unpark {
    keepers: Arc<time::Keepers>,
    waker: Arc<OnceLock<mio::Waker>>,
}

impl park::Unpark for Unpark {
    fn unpark(&self, seat: Seat) {
        if seat == IO_SEAT {
            if let Some(waker) = self.waker.get() {
                let _ = waker.wake();
            }
        } else {
            self.keepers.unpark(seat);
        }
    }
}
