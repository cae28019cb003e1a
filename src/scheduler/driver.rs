//! The driver interface: what a parked worker may wait in (the runtime's driver stack,
//! `runtime/driver.rs`), and the worker's parker, which waits in a driver seat when one
//! is free. The contract is `park.rs`'s module doc, "The driver interface", beside the
//! park loop that uses it; it sits in a file of its own so that the run loop
//! (`worker.rs`), `Shared` (which holds the parkers) and the drivers name it without
//! naming the park loop.

use crate::sync;
use std::time::Duration;

/// A seat in a driver: which of its waiters a thread is (see [`Driver::try_enter`]).
pub(crate) type Seat = usize;

/// A busy worker turns the driver once every this many tasks (cheap when nothing is
/// ready: one atomic load for the timers), so timers (and I/O) are served while no
/// worker parks.
pub(crate) const DRIVER_INTERVAL: u32 = 32;

/// What a parked worker may wait in: the runtime's driver stack (`park.rs`'s module doc, "The
/// driver interface").
pub(crate) trait Driver: Send + Sync + 'static {
    /// Fires what is due and dispatches what is ready, without blocking. With
    /// `wait == false`, gives up at once if another thread is turning the driver.
    /// Returns how many tasks it woke.
    fn turn(&self, wait: bool) -> usize;

    /// Worker `worker` is about to block: takes a free seat, if any (a try-lock). With
    /// `events == false`, only a seat that waits for no events on others' behalf (a
    /// timer keeper's, not the I/O reactor's): a watcher whose peer is awake stays out
    /// of the reactor (`park.rs`, "The park loop", step 3).
    fn try_enter(&self, worker: usize, events: bool) -> Option<Seat>;

    /// Blocks on `seat` (held) until it is unparked, an event arrives, the driver's own
    /// next deadline passes or `timeout` passes. May return spuriously.
    fn park(&self, seat: Seat, timeout: Option<Duration>);

    /// Gives `seat` up.
    fn leave(&self, seat: Seat);

    /// After a `SeqCst` fence: true if something pending needs a seated waiter and no
    /// seat is held (a worker leaving the park loop then hands the seat off).
    fn needs_waiter(&self) -> bool;

    /// Like [`needs_waiter`](Driver::needs_waiter) but whatever the hand-off setting:
    /// true if I/O sources are registered (or a timer needs a keeper) and nobody waits
    /// in the driver. A spinning searcher (sleep-protocol rule 4a) then polls the driver
    /// without blocking between its looks at the queues, since an edge that arrived
    /// while it spun would otherwise wait for the spin to end.
    fn unwatched(&self) -> bool {
        self.needs_waiter()
    }

    /// Paused time: true if the clock is paused, nothing holds it (a `block_on` that
    /// polls, a blocking call) and a timer is pending. A hint: `auto_advance` decides.
    fn may_auto_advance(&self) -> bool;

    /// Paused time, by the one worker that claimed the idle runtime, before
    /// `auto_advance`: polls what is pending without blocking (an event a seated waiter
    /// has not dispatched yet included) and dispatches it. True if that found events or
    /// another thread is still dispatching some: the runtime is not idle, do not advance.
    fn settle(&self) -> bool;

    /// Paused time, by the one worker that claimed the idle runtime
    /// (`Idle::claim_idle`): moves the clock to the next deadline and fires what is due
    /// there, unless something holds the clock meanwhile. Returns the tasks woken (they
    /// land in the caller's queue).
    fn auto_advance(&self) -> usize;
}

/// Wakes the thread waiting in a driver's seat, or makes its next wait return at once.
/// A leaf object: it must not hold the scheduler (the scheduler holds it).
pub(crate) trait Unpark: Send + Sync + 'static {
    /// Wakes the holder of `seat`.
    fn unpark(&self, seat: Seat);
}

/// One worker's parking spot: the token parker (`sync/parker.rs`), waiting in a seat of
/// the driver when one is free, and knowing which, so that an unpark reaches it there.
pub(crate) struct Parker(sync::Parker);

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker(sync::Parker::new())
    }

    /// Blocks worker `worker` until `unpark` is called (or was called since the last
    /// park), or `timeout` passes: in `driver` if a seat is free (with `events ==
    /// false`, only a seat that waits for no events, [`Driver::try_enter`]), else on the
    /// condvar. May return spuriously; the caller re-checks its condition.
    pub(crate) fn park<D: Driver>(
        &self,
        driver: &D,
        worker: usize,
        timeout: Option<Duration>,
        events: bool,
    ) {
        let seats = Seated {
            driver,
            worker,
            events,
        };
        self.0.park_seated(&seats, timeout);
    }

    /// Where the worker waits right now: `None` if it does not (running, or a token
    /// pending), `Some(None)` on its condvar, `Some(Some(seat))` in a driver seat. A
    /// snapshot, for tests that wait until a worker is parked.
    #[cfg(all(test, not(heist_loom)))]
    pub(crate) fn waiting(&self) -> Option<Option<Seat>> {
        self.0.waiting()
    }

    /// Wakes the parked worker (on its condvar, or in the driver through `driver`), or
    /// makes its next `park` return at once.
    pub(crate) fn unpark(&self, driver: &dyn Unpark) {
        self.0.unpark_seated(|seat| driver.unpark(seat));
    }
}

/// The driver's seats, as worker `worker` takes them (only those that wait for no
/// events unless `events`).
struct Seated<'a, D> {
    driver: &'a D,
    worker: usize,
    events: bool,
}

impl<D: Driver> sync::Seats for Seated<'_, D> {
    fn try_enter(&self) -> Option<Seat> {
        self.driver.try_enter(self.worker, self.events)
    }

    fn park(&self, seat: Seat, timeout: Option<Duration>) {
        self.driver.park(seat, timeout);
    }

    fn leave(&self, seat: Seat) {
        self.driver.leave(seat);
    }
}
