//! How a worker sleeps: the one place it does (`Worker::park`), its parker, and the
//! interface of the *driver* a parked worker may wait in (the runtime's: the I/O reactor
//! over the timers, `runtime/driver.rs`). `docs/design.md`, "How a worker sleeps", has the same contract with a picture;
//! `docs/sleep-protocol.md` the proof that no wake-up is lost.
//!
//! # The park loop
//!
//! A worker that found no work (`worker.rs`, search order step 7):
//!
//! 1. turns the driver ([`Driver::turn`], `wait = true`); if that woke tasks (they land
//!    in this worker's queue), it runs them instead of parking. If it is searching
//!    and the driver needs no waiter ([`Driver::needs_waiter`]), it then keeps looking
//!    at the queues for up to `Config::spin_before_park`, still counted as searching,
//!    and leaves as a searcher if work arrives (rule 4a of the sleep protocol,
//!    `Worker::spin_for_work`);
//! 2. announces its sleep (`Idle::about_to_park`: joins the sleepers, `SeqCst` fence) and
//!    re-checks every queue (rule 4 of the sleep protocol);
//! 3. parks on its [`Parker`](super::driver::Parker), with the stalled-slot timeout
//!    while a peer is awake or was awake within the last `WATCH_ROUNDS` rounds
//!    (recomputed at every round of the loop; `Worker::keeps_watching`), counted
//!    meanwhile as a *watcher* (`Idle::watch`/`unwatch`, `docs/sleep-protocol.md`, "The
//!    next-task slot"). The parker first tries to take a *seat*
//!    in the driver ([`Driver::try_enter`]): with one, the worker waits *in* the driver
//!    ([`Driver::park`]: a keeper's timed wait to the next timer deadline, or the
//!    reactor's `epoll_wait`); without one, on its own condition variable. Either way it
//!    gives the seat up as soon as it wakes ([`Driver::leave`]): a seat is held for one
//!    park, never owned by a worker. **A watcher whose peer is awake** (it read
//!    `unparked > 0` for this round's decision) takes no seat that waits for events
//!    (`events == false`: a keeper's seat or its condvar, never the reactor's): in
//!    `epoll_wait` it would return at the first edge and run that connection itself,
//!    which halved the messages per read of a pipelined echo its busy peer serves
//!    (`docs/benchmarks/echo.md`). It polls the reactor without blocking instead when
//!    its period ends (step 4), so I/O waits at most one period behind a peer stuck in
//!    a task, as it did with the watcher seated. The last worker to park reads
//!    `unparked == 0` (each `about_to_park` is a `SeqCst` RMW under the sleepers' lock,
//!    so of two workers parking the later one sees the other asleep), so it may take
//!    the reactor's seat: when every worker sleeps, one tries the seat, as before;
//! 4. turns the driver again: `wait = true`, which fires what became due and dispatches
//!    what a seated wait left, or, for a watcher that stayed out of the reactor,
//!    `wait = false`, a busy worker's turn, which also polls the reactor without
//!    blocking;
//! 5. leaves the loop, **always as a searcher** (`Idle::wake_self` counts a worker that
//!    woke by itself as searching, as a notifier counts the worker it wakes), if it was
//!    notified, if its timeout elapsed or if the turn woke tasks; a wake-up with none of
//!    these (a driver event for another worker, a timer the other keeper fired, a
//!    hand-off) is spurious and it parks again. Because it leaves as a searcher, the
//!    chain wake-up (`Worker::found_work`) runs after *every* wake that finds work,
//!    whatever woke the worker, so a task it then leaves in its next-task slot has a
//!    peer that watches the slot (`docs/sleep-protocol.md`, "The next-task slot");
//! 6. on leaving, if the driver needs a waiter and nobody is seated
//!    ([`Driver::needs_waiter`]), wakes another sleeper to take the seat (the
//!    *hand-off*, `Shared::summon`): so if any worker sleeps, one waits in the driver,
//!    and a worker that then blocks in a long poll stalls neither timers nor I/O.
//!
//! # The driver interface
//!
//! The scheduler is generic over its driver (`Worker::run::<D>`; the runtime instantiates
//! it with its driver stack, `runtime/driver.rs`), so the run loop's periodic turn is a
//! static call. Waking a worker that waits in the driver goes through [`Unpark`], a
//! small object the driver hands out, on the slow path of a wake-up only.
//!
//! - **Seats.** [`Driver::try_enter`] is a try-lock: it returns a seat number, or `None`
//!   if every seat is taken (the worker then waits on its condvar). The timer driver has
//!   two seats (its two *keepers*: two threads' timed waits are late together far less
//!   often than one's); an I/O driver has one (the `mio::Poll`). With `events ==
//!   false` it offers only seats that wait for no events on others' behalf (the
//!   keepers'): what a watcher whose peer is awake asks for (step 3).
//! - **Waiting.** [`Driver::park`] blocks the calling thread on its seat until
//!   [`Unpark::unpark`] of that seat, an event, the driver's own next deadline (the timer
//!   wheel's next tick) or `timeout` (the stalled-slot check), whichever comes first. It
//!   may return spuriously. It must make an `unpark` that lands before it blocks count
//!   (a token, as `mio::Waker` leaves one in the poll), and an unpark meant for a
//!   previous holder of the seat may wake the next one once (harmless: spurious).
//! - **Unparking.** The worker's [`Parker`](super::driver::Parker) records whether its thread waits on the
//!   condvar or in the driver, and on which seat; [`Parker::unpark`](super::driver::Parker::unpark) then notifies the
//!   condvar or calls [`Unpark::unpark`] (`mio::Waker::wake`).
//! - **Turning.** [`Driver::turn`] never blocks: it fires due timers / dispatches ready
//!   events and returns how many tasks it woke. Busy workers call it with
//!   `wait = false` every [`DRIVER_INTERVAL`] tasks (give up at once if another thread is
//!   turning it: a `try_lock`), so timers and I/O are served while no worker parks; a
//!   parking worker calls it with `wait = true` before and after it parks. Tasks it
//!   wakes land in the calling worker's queue (next-task slot first). A turn must not
//!   make a parking worker miss a free seat for good: if it holds the lock `try_enter`
//!   tries (an I/O driver's poll lock), a `try_enter` that failed meanwhile must be
//!   made good after the unlock (e.g. a flag the failed `try_enter` sets, read after the
//!   unlock, and the driver's summon callback; the timers' turn takes no seat).
//! - **Hand-off.** [`Driver::needs_waiter`]: after a `SeqCst` fence, whether something
//!   pending (a registered timer; registered I/O sources) needs a seated waiter while no
//!   seat is held. The driver may also ask for a waiter itself (a timer registered with
//!   an earlier deadline while nobody is seated): the runtime gives it a callback to
//!   `Shared::summon` for that.
//!
//! - **Auto-advance** (paused time): at the top of every round of the park loop, a
//!   worker that sees the clock paused and free with a timer pending
//!   ([`Driver::may_auto_advance`]) tries to claim the idle runtime
//!   (`Idle::claim_idle`: under the sleepers' lock, only if no worker is unparked, and
//!   it then counts as unparked and searching, so no other worker can claim it too); the
//!   one that does moves the clock ([`Driver::auto_advance`]) and leaves the loop to run
//!   what fired. Before it moves the clock it settles the driver
//!   ([`Driver::settle`]: polls I/O without blocking, waking a seated poller for the
//!   lock, and reports a batch another worker is still dispatching) and looks again for
//!   work (`Shared::still_idle_after_claim`): a worker still on the sleepers list may
//!   have just dispatched an event and queued its task, and a reply on its way must not
//!   lose the race to a 30 s timeout (tokio's rule: advance only when polling I/O
//!   without blocking found nothing). So the *last* worker to go idle advances the clock instead of sleeping;
//!   and when the last thing holding the clock lets go (a `block_on` parks, a blocking
//!   call ends), it summons a sleeper, which wakes here and looks
//!   (`docs/sleep-protocol.md`, "Auto-advance", has why none is missed).
//!
//! The I/O driver over the timers (`io/driver.rs`, stacked by `runtime/driver.rs`)
//! plugged in without touching this file: one seat, a try-lock on the `mio::Poll`;
//! `park` polls with the time to the timers' next deadline (shortened to `timeout`) and
//! leaves the events to the `turn` right after; `Unpark::unpark` is
//! `mio::Waker::wake`; `turn`, under a `try_lock`, dispatches that batch (or, for a
//! busy worker, `wait = false`, polls with a zero timeout and dispatches), then turns
//! the timer driver; an earlier timer deadline wakes the seated poller through the same
//! `Unpark`, or summons one when nobody is seated (`docs/design.md`, "Hosting").

// The interface this file documents lives in `driver.rs`, which the run loop
// (`worker.rs`) and the runtime's driver stack import without importing the park loop.
pub(crate) use super::driver::{Driver, Seat, Unpark, DRIVER_INTERVAL};
use super::worker::Worker;

impl Worker {
    /// Step 7 of the search order: sleep until notified, a timeout, or a driver event
    /// (module doc, "The park loop").
    ///
    /// `stop`: a stand-in asked to give the worker back (`lend.rs`) leaves the loop as
    /// a worker that woke by itself would, and its run loop then ends.
    ///
    /// Out of line: it runs only when no task was found, and inlined into the run loop
    /// its values made the loop keep `self` on the stack (+2 instructions per poll,
    /// callgrind, `per_op`).
    #[inline(never)]
    pub(super) fn park<D: Driver>(&self, driver: &D, stop: &impl Fn() -> bool) {
        let shared = &*self.shared;
        // Fire what is due first; if that queued tasks here, run them instead.
        if driver.turn(true) > 0 {
            return;
        }
        // Rule 4a: a searcher looks a while longer before it sleeps, unless something in
        // the driver needs a waiter that nobody else is; while nobody waits in the
        // reactor it polls the driver between its looks.
        if self.is_searching()
            && !driver.needs_waiter()
            && self.spin_for_work(|| driver.unwatched() && driver.turn(false) > 0)
        {
            return;
        }
        let was_searching = self.stop_searching();
        shared.idle.about_to_park(self.index, was_searching);
        // `about_to_park` ended with a SeqCst fence: a push that our re-check misses saw
        // us asleep and will wake a worker.
        if shared.has_queued_work() {
            shared.notify_parked();
        }
        loop {
            if shared.is_shutdown() {
                return;
            }
            if stop() {
                shared.idle.wake_self(self.index);
                self.start_searching();
                if driver.needs_waiter() {
                    shared.summon(Some(self.index));
                }
                return;
            }
            // Paused time: the last worker to find the runtime idle moves the clock to the
            // next deadline instead of sleeping (module doc, "Auto-advance").
            if driver.may_auto_advance() && shared.idle.claim_idle(self.index) {
                // Counted as unparked and searching now, as `wake_self` counts it. tokio's
                // rule: advance only if the runtime still has no work after polling I/O
                // without blocking (module doc, "Auto-advance").
                if !driver.settle() && shared.still_idle_after_claim() {
                    driver.auto_advance();
                }
                self.start_searching();
                if driver.needs_waiter() {
                    shared.summon(Some(self.index));
                }
                return;
            }
            // While any peer is awake it may fill its next-task slot and then stay in a
            // long poll, and filling the slot wakes nobody (that would cost a wake-up per
            // message in ping-pong). So a sleeper with an awake peer looks again after a
            // while, and keeps doing so for `WATCH_ROUNDS` rounds after it last saw one
            // awake (`keeps_watching`); then, the runtime idle, it waits for new work only.
            let peer_awake = shared.idle.unparked() > 0;
            let timeout = shared
                .config
                .stalled_slot_check
                .filter(|_| self.keeps_watching(peer_awake));
            // A watcher whose peer is awake stays out of the driver's event seat (the
            // reactor) and polls it without blocking when its period ends (module doc,
            // "The park loop", step 3): seated, it would return at the first edge and
            // take that connection from the busy peer.
            let events = !(timeout.is_some() && peer_awake);
            if timeout.is_some() {
                shared.idle.watch();
            }
            self.before_park();
            self.remote()
                .parker
                .park(driver, self.index, timeout, events);
            self.after_unpark();
            if timeout.is_some() {
                shared.idle.unwatch();
            }
            // `turn(false)`, a busy worker's turn, polls the reactor without blocking:
            // the watcher that stayed out of it serves what arrived meanwhile.
            let fired = driver.turn(events) > 0;
            if shared.is_shutdown() {
                return;
            }
            let notified = shared.idle.was_notified(self.index);
            if notified || timeout.is_some() || fired {
                if !notified {
                    shared.idle.wake_self(self.index);
                }
                // Either way this worker now counts as searching: when it finds work it
                // wakes the next one (`found_work`), whatever woke it.
                self.start_searching();
                if driver.needs_waiter() {
                    shared.summon(Some(self.index));
                }
                return;
            }
            // Spurious: a driver event for nobody here, a deadline the other keeper
            // fired, a hand-off. Still on the sleepers list; park again.
        }
    }

    /// Rule 4a of the sleep protocol: a searcher that found nothing keeps looking at the
    /// injector and the peers' deques for up to `Config::spin_before_park` before it
    /// parks. Returns true if it saw work (or shutdown): the caller then leaves `park`
    /// still searching, and the run loop searches again. While it spins it still counts
    /// as searching, so a push meanwhile wakes nobody (rule 2): it is a searcher that
    /// looks longer, and leaves the searching state as any searcher does, by finding
    /// work (rule 3) or by parking (rule 4), each with its re-check. At each reading of
    /// the clock it calls `poll_driver` (the caller's: poll the reactor without blocking
    /// if nobody waits in it); true means that woke tasks here, and counts as work seen.
    fn spin_for_work(&self, poll_driver: impl Fn() -> bool) -> bool {
        let shared = &*self.shared;
        let budget = shared.config.spin_before_park;
        if budget.is_zero() {
            return false;
        }
        // A model explores one more look; a spin bounded by the clock would make the
        // number of looks, and so the execution, differ between loom's replays.
        #[cfg(heist_loom)]
        {
            let _ = poll_driver;
            shared.has_queued_work()
        }
        #[cfg(not(heist_loom))]
        {
            /// Looks between two readings of the clock (a look is a few loads of lines
            /// that change only when work is queued).
            const LOOKS_PER_CLOCK: u32 = 16;
            let start = std::time::Instant::now();
            loop {
                for _ in 0..LOOKS_PER_CLOCK {
                    if shared.is_shutdown() {
                        return true;
                    }
                    if shared.has_queued_work() {
                        let_backlog_form(
                            || shared.queued_len(),
                            || (0..SETTLE_PAUSES).for_each(|_| crate::sync::spin_loop()),
                        );
                        return true;
                    }
                    crate::sync::spin_loop();
                }
                if start.elapsed() >= budget {
                    return false;
                }
                if poll_driver() {
                    return true;
                }
                // Give the CPU to any thread waiting for it (the spin is for an idle
                // core): with more runnable threads than cores (two workers and a thread
                // outside the runtime feeding them, on 2 cores) a spinner held its CPU for
                // the whole spin while that thread waited to run
                // (`docs/benchmarks/worker-counts.md`, section 11). Returns at once when
                // nothing else is runnable here.
                std::thread::yield_now();
            }
        }
    }
}

/// `spin_loop` hints between two counts of the queues in [`let_backlog_form`] (about a
/// microsecond on current x86 processors).
#[cfg(not(heist_loom))]
const SETTLE_PAUSES: u32 = 16;

/// Most counts [`let_backlog_form`] makes after the first.
#[cfg(not(heist_loom))]
const SETTLE_ROUNDS: u32 = 8;

/// A spinner that saw work waits while the queues keep growing, for at most
/// `SETTLE_ROUNDS` waits, or until a full batch (64 tasks) is queued. Taken at once, the
/// work of a producer that queues tasks faster than they run (a thread outside the
/// runtime spawning in a loop, a task spawning many) went to the spinner one task at a
/// time, in step with the producer, each task's cache lines moving between the cores one
/// by one; a worker that parked instead found a backlog when woken and took it in
/// batches (`docs/benchmarks.md`, last section: `spawn_many_remote_idle` with one worker
/// 30-37% slower with the spin than without, `spawn_many_local` with two 40-45%). A
/// single task queued alone costs one wait (the count does not grow). Returns the waits
/// made. `queued` counts the queued tasks; `wait` spends the time between two counts.
#[cfg(not(heist_loom))]
fn let_backlog_form(mut queued: impl FnMut() -> usize, mut wait: impl FnMut()) -> u32 {
    let mut seen = queued();
    for round in 1..=SETTLE_ROUNDS {
        if seen >= super::worker::INJECTOR_LIMIT {
            return round - 1;
        }
        wait();
        let now = queued();
        if now <= seen {
            return round;
        }
        seen = now;
    }
    SETTLE_ROUNDS
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::{let_backlog_form, SETTLE_ROUNDS};
    use std::cell::Cell;

    #[test]
    fn a_single_queued_task_costs_one_wait() {
        let waits = Cell::new(0);
        assert_eq!(let_backlog_form(|| 1, || waits.set(waits.get() + 1)), 1);
        assert_eq!(waits.get(), 1);
    }

    #[test]
    fn a_growing_queue_is_waited_for_until_it_stops_growing() {
        let counts = [1, 3, 7, 9, 9];
        let i = Cell::new(0);
        let n = let_backlog_form(|| counts[i.get()], || i.set(i.get() + 1));
        assert_eq!(n, 4, "waits until the count stopped at 9");
    }

    #[test]
    fn a_queue_that_keeps_growing_is_waited_for_a_bounded_time() {
        let c = Cell::new(0);
        let n = let_backlog_form(|| c.get(), || c.set(c.get() + 1));
        assert_eq!(n, SETTLE_ROUNDS);
    }

    #[test]
    fn a_full_batch_is_taken_at_once() {
        let waits = Cell::new(0);
        assert_eq!(let_backlog_form(|| 64, || waits.set(waits.get() + 1)), 0);
        let c = Cell::new(1);
        assert_eq!(
            let_backlog_form(|| c.get(), || c.set(c.get() * 4)),
            3,
            "1, 4, 16, 64"
        );
        assert_eq!(waits.get(), 0);
    }
}
