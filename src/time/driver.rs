//! The timer driver: the wheel under its lock, the clock, and the protocol by which the
//! workers keep time between them (there is no timer thread).
//!
//! The driver knows no scheduler: the workers reach it through the park seam
//! (`scheduler/park.rs`, "The driver interface", glued in `runtime/driver.rs`), where a
//! *seat* is a keeper role, and it asks its host for a sleeper through the callback set
//! by `set_summon`.
//!
//! # Who fires timers
//!
//! - **A worker about to park** first fires whatever is due (`fire_due`); if that queued
//!   tasks, it runs them instead of parking.
//! - **The keepers.** The first `KEEPERS` (two) workers to park while a *keeper* role
//!   is free take one each (`try_keep`) and wait on the role's own parker with a timeout
//!   to the next deadline (`park_keeper`); every other sleeper parks on its own condvar
//!   without one. On waking for any reason a keeper gives its role up
//!   (`release_keeper`) and fires what is due; the fired tasks land in its own queue.
//!   Both keepers wake for the same deadline and whichever takes the lock first fires;
//!   the other finds nothing due and parks again.
//! - **Busy workers** call `fire_due` every `DRIVER_INTERVAL` (32) tasks: one atomic load
//!   when nothing is due, so timers keep time while no worker parks.
//!
//! # Why two keepers
//!
//! A timed park ends when the OS runs the thread again, which is usually 50-100 us after
//! the timeout but now and then a millisecond or more later (a virtual CPU the host did
//! not run, a CPU busy with another process until the scheduler's next tick). With one
//! keeper, each such late wake-up makes every timer due in the meantime late by as
//! much: measured on the 2-core CI machine, 0.05-0.4% of the keeper's parks woke at
//! least 0.5 ms late, and those made 0.1-1% of all sleeps > 1.3 ms late (up to 5% with a
//! CPU-bound process beside): the whole tail of `benches/timer.rs`'s accuracy run
//! (`docs/design.md`, "Why two keepers"). Two threads' wake-ups are late together far
//! less often than one's (not never: both timers may sit on one CPU that stalls), and
//! with two keepers a timer is late only if both are. The cost is small: when every
//! worker is asleep, the second keeper wakes at each deadline too, but with one keeper
//! that wake-up happened anyway (the keeper that left to run the fired tasks woke a
//! sleeper to take over its role).
//!
//! # Earlier deadlines, and the hand-off
//!
//! `next_wake` holds the tick at which the wheel next has work. A registration that
//! lowers it must make sure some worker wakes in time:
//!
//! ```text
//! registrar                                   parking worker
//!   [lock] insert; next_wake = when [unlock]    held[i]: CAS NONE -> me     (SeqCst)
//!   fence(SeqCst)                               fence(SeqCst)
//!   k = held[0..].load()           (SeqCst)     n = next_wake.load()         (SeqCst)
//!   each role held: unpark its parker           park on role i (until n)
//!   no role held:   summon (below)
//! ```
//!
//! The fences are what loom checks: it models `SeqCst` loads, stores and
//! read-modify-writes as acquire/release and only fences as `SeqCst`, and without them
//! the runtime model `timer_registered_from_outside_while_the_worker_parks` deadlocks
//! (both sides miss each other). The C++ model already forbids that outcome for four
//! `SeqCst` operations, so the fences cost a few cycles on a path that takes a lock
//! anyway, in exchange for a checked proof.
//!
//! All these operations are `SeqCst`, so they have one total order: if the registrar's
//! load of role `i` sees no keeper, the worker's CAS into it comes after that load, hence
//! so does its load of `next_wake`, which sees the new deadline. If it sees a keeper, it
//! unparks it (the parker keeps the token, so the unpark is not lost) and the keeper
//! recomputes. So every keeper either is woken or parks for the new deadline.
//!
//! A worker that leaves the park loop to run tasks while timers are pending and no role
//! is held (`needs_keeper`, the seam's hand-off), and a registrar that finds no keeper
//! (`timer_moved_earlier`, through the host's summon), wake one *other* sleeper without
//! taking it off the sleepers list: it finds no work, takes a free role and parks with
//! the timeout. The same Dekker pairing (`held` store / `next_wake` load against
//! `next_wake` store / `held` load) makes at least one of a leaving keeper and a racing
//! registrar see the other. If no worker sleeps, all are busy and fire timers in their
//! run loops.
//!
//! # Time
//!
//! [`Clock`] (`clock.rs`) is the only place the driver reads the time; the wheel itself
//! is given the current tick, so a test or a loom model can drive it by hand
//! (`process_at`). While the clock is paused, keepers park without a deadline (the
//! clock does not move by itself), and the runtime moves it when it goes idle
//! (`auto_advance`, called through the park seam; `docs/sleep-protocol.md`,
//! "Auto-advance").

use super::clock::Clock;
use super::entry::{Entry, FIRED, SHUTDOWN, UNREGISTERED};
use super::instant::Instant;
use super::wheel::Wheel;
use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering::*};
use crate::sync::{Arc, Mutex, OnceLock, Parker};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::Duration;

/// `next_wake` when the wheel is empty.
const NO_WAKE: u64 = u64::MAX;
/// A keeper role that no worker holds.
const NO_KEEPER: usize = usize::MAX;
/// Workers that park with a timeout to the next deadline at once (see the module doc).
pub(crate) const KEEPERS: usize = 2;
/// Wakers collected under the lock and woken after releasing it, per batch.
const BATCH: usize = 32;

struct TimerInner {
    wheel: Wheel,
    /// Set once at shutdown: nothing may register after it.
    closed: bool,
    /// Timers fired so far (`RuntimeMetrics::timers_fired_count`).
    fired: u64,
}

/// One runtime's timers.
pub(crate) struct Driver {
    clock: Clock,
    inner: Mutex<TimerInner>,
    /// The tick at which the wheel next has work, or `NO_WAKE`. Written under the lock.
    next_wake: AtomicU64,
    keepers: Arc<Keepers>,
    /// Asks the host (the runtime) to send a parked worker to take a free keeper role:
    /// for a registration that lowered `next_wake` while nobody keeps time.
    summon: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

/// The keeper roles: the seats a parked worker may wait in for the next deadline.
pub(crate) struct Keepers {
    /// The worker holding each role, or `NO_KEEPER`. Only a worker writes its own index
    /// in (and out), and it holds at most one.
    held: [AtomicUsize; KEEPERS],
    /// What the holder of each role waits on.
    parkers: [Parker; KEEPERS],
}

impl Keepers {
    /// Wakes the holder of `role` (or makes its next wait return at once).
    pub(crate) fn unpark(&self, role: usize) {
        self.parkers[role].unpark();
    }

    /// The workers holding a keeper role now.
    fn holders(&self) -> impl Iterator<Item = usize> + '_ {
        self.held
            .iter()
            .map(|k| k.load(SeqCst))
            .filter(|&k| k != NO_KEEPER)
    }
}

/// What a `Sleep` poll found.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    Ready,
    Pending,
    /// Registered with the earliest deadline in the wheel: the caller must make sure a
    /// worker wakes for it (`Driver::timer_moved_earlier`).
    PendingEarlier,
}

impl Driver {
    /// A driver whose clock starts paused if `start_paused` (`Builder::start_paused`).
    pub(crate) fn new(start_paused: bool) -> Driver {
        Driver {
            clock: Clock::new(start_paused),
            inner: Mutex::new(TimerInner {
                wheel: Wheel::new(),
                closed: false,
                fired: 0,
            }),
            next_wake: AtomicU64::new(NO_WAKE),
            keepers: Arc::new(Keepers {
                held: std::array::from_fn(|_| AtomicUsize::new(NO_KEEPER)),
                parkers: std::array::from_fn(|_| Parker::new()),
            }),
            summon: OnceLock::new(),
        }
    }

    /// Sets how the driver asks for a parked worker to keep time when nobody does (the
    /// hand-off; called once, before any timer registers).
    pub(crate) fn set_summon(&self, summon: Box<dyn Fn() + Send + Sync>) {
        assert!(
            self.summon.set(summon).is_ok(),
            "the timer driver's host is set once"
        );
    }

    /// The runtime's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The keeper roles, to wake their holders with: held by the scheduler, which holds
    /// no timer driver.
    pub(crate) fn keepers(&self) -> Arc<Keepers> {
        self.keepers.clone()
    }

    /// Timers registered.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().wheel.len()
    }

    /// Timers fired so far.
    pub(crate) fn fired_count(&self) -> u64 {
        self.inner.lock().fired
    }

    /// The `Sleep` poll: completes if `deadline` passed or the entry fired, otherwise
    /// makes sure the entry is registered with `waker`.
    pub(crate) fn poll_entry(
        &self,
        entry: Pin<&Entry>,
        deadline: Instant,
        waker: &Waker,
    ) -> Polled {
        let ptr = NonNull::from(&*entry);
        match entry.load() {
            FIRED => Polled::Ready,
            SHUTDOWN => shutdown_panic(),
            UNREGISTERED => {
                if deadline <= self.clock.now() {
                    // Not in the wheel: the state is ours to write.
                    entry.state.store(FIRED, Relaxed);
                    return Polled::Ready;
                }
                let when = self.clock.deadline_tick(deadline);
                // Cloned outside the lock: a waker's clone is user code.
                let waker = waker.clone();
                let mut inner = self.inner.lock();
                if inner.closed {
                    drop(inner);
                    shutdown_panic();
                }
                // SAFETY: we hold the lock; the entry is pinned and alive (it is borrowed).
                unsafe { Entry::with_links(ptr, |l| l.waker = Some(waker)) };
                // SAFETY: the entry is pinned, in no list, and unlinks itself before it is
                // freed (`Sleep`'s destructor calls `cancel`).
                match unsafe { self.insert_locked(&mut inner, &entry, ptr, when) } {
                    Ok(polled) => polled,
                    Err(waker) => {
                        // Due already: the poller itself is running, no wake needed.
                        drop(inner);
                        drop(waker);
                        Polled::Ready
                    }
                }
            }
            _registered => {
                let inner = self.inner.lock();
                match entry.state.load(Acquire) {
                    FIRED => return Polled::Ready,
                    SHUTDOWN => {
                        drop(inner);
                        shutdown_panic()
                    }
                    _ => {}
                }
                // SAFETY: we hold the lock and the entry is alive.
                let same = unsafe {
                    Entry::with_links(ptr, |l| {
                        l.waker.as_ref().is_some_and(|w| w.will_wake(waker))
                    })
                };
                drop(inner);
                if !same {
                    self.replace_waker(entry, waker.clone())
                } else {
                    Polled::Pending
                }
            }
        }
    }

    /// A registered entry is polled with a new waker.
    fn replace_waker(&self, entry: Pin<&Entry>, waker: Waker) -> Polled {
        let ptr = NonNull::from(&*entry);
        let inner = self.inner.lock();
        if !Entry::is_registered(entry.state.load(Acquire)) {
            // Fired (or shut down) meanwhile; the next poll reports it.
            drop(inner);
            drop(waker);
            return Polled::Ready;
        }
        // SAFETY: we hold the lock and the entry is alive.
        let old = unsafe { Entry::with_links(ptr, |l| l.waker.replace(waker)) };
        drop(inner);
        drop(old);
        Polled::Pending
    }

    /// Unregisters an entry (its `Sleep` is dropped, or done with). Idempotent.
    pub(crate) fn cancel(&self, entry: Pin<&Entry>) {
        if !Entry::is_registered(entry.load()) {
            return;
        }
        let ptr = NonNull::from(&*entry);
        let mut inner = self.inner.lock();
        let mut waker = None;
        if Entry::is_registered(entry.state.load(Relaxed)) {
            // SAFETY: registered, so in the wheel; we hold the lock.
            unsafe {
                inner.wheel.remove(ptr);
                waker = Entry::with_links(ptr, |l| l.waker.take());
            }
            entry.state.store(UNREGISTERED, Relaxed);
        }
        drop(inner);
        // Outside the lock: dropping a task's last waker may drop its future, and with it
        // other `Sleep`s.
        drop(waker);
    }

    /// Moves a registered entry to a new deadline, keeping its waker (woken now if the
    /// deadline has passed); an entry not registered becomes unregistered, to register
    /// at its next poll.
    pub(crate) fn reset(&self, entry: Pin<&Entry>, deadline: Instant) -> Polled {
        let ptr = NonNull::from(&*entry);
        let state = entry.load();
        if state == FIRED || state == UNREGISTERED {
            // Out of the wheel: ours to write.
            entry.state.store(UNREGISTERED, Relaxed);
            return Polled::Pending;
        }
        let when = self.clock.deadline_tick(deadline);
        let mut inner = self.inner.lock();
        if !Entry::is_registered(entry.state.load(Relaxed)) {
            // Fired or shut down meanwhile.
            if entry.state.load(Relaxed) == FIRED {
                entry.state.store(UNREGISTERED, Relaxed);
            }
            return Polled::Pending;
        }
        // SAFETY: registered, so in the wheel; we hold the lock; the entry stays pinned.
        unsafe { inner.wheel.remove(ptr) };
        // SAFETY: removed above, so in no list; pinned; unlinks itself before it is freed.
        match unsafe { self.insert_locked(&mut inner, &entry, ptr, when) } {
            Ok(polled) => polled,
            Err(waker) => {
                drop(inner);
                wake_guarded(waker);
                Polled::Ready
            }
        }
    }

    /// With the lock held (`inner`), puts the entry into the wheel at tick `when`. If it
    /// is due already (the wheel moved past `when` since the clock was read), marks it
    /// FIRED and hands its waker back, for the caller to wake or drop once the lock is
    /// released.
    ///
    /// # Safety
    /// `ptr` is `entry`: pinned, alive, in no list, and it unlinks itself before it is
    /// freed (`Sleep`'s destructor calls `cancel`).
    unsafe fn insert_locked(
        &self,
        inner: &mut TimerInner,
        entry: &Entry,
        ptr: NonNull<Entry>,
        when: u64,
    ) -> Result<Polled, Option<Waker>> {
        // SAFETY: the caller's contract.
        match unsafe { inner.wheel.insert(ptr, when) } {
            Ok(()) if when < self.next_wake.load(Relaxed) => {
                self.next_wake.store(when, SeqCst);
                Ok(Polled::PendingEarlier)
            }
            Ok(()) => Ok(Polled::Pending),
            Err(()) => {
                // SAFETY: we hold the lock and the entry is alive.
                let waker = unsafe { Entry::with_links(ptr, |l| l.waker.take()) };
                entry.state.store(FIRED, Release);
                Err(waker)
            }
        }
    }

    /// Fires every timer due now, if any is (one atomic load when none is). With
    /// `wait == false`, gives up if another thread is firing. Returns how many fired.
    pub(crate) fn fire_due(&self, wait: bool) -> usize {
        let next = self.next_wake.load(SeqCst);
        if next == NO_WAKE {
            return 0;
        }
        let now = self.clock.now_tick();
        if now < next {
            return 0;
        }
        self.process_at(now, wait)
    }

    /// Fires every timer due at or before tick `now`: pops them in batches under the
    /// lock and wakes each batch after releasing it.
    pub(crate) fn process_at(&self, now: u64, wait: bool) -> usize {
        let mut batch: [Option<Waker>; BATCH] = Default::default();
        let mut fired = 0;
        loop {
            let mut inner = if wait {
                self.inner.lock()
            } else {
                match self.inner.try_lock() {
                    Some(inner) => inner,
                    None => return fired,
                }
            };
            let mut n = 0;
            while n < BATCH {
                let Some(entry) = inner.wheel.pop_expired(now) else {
                    break;
                };
                // SAFETY: a popped entry is alive until we store FIRED; we hold the lock.
                batch[n] = unsafe { Entry::with_links(entry, |l| l.waker.take()) };
                // SAFETY: as above. The Release store is our last access: an owner that
                // acquires FIRED may free the entry (entry.rs).
                unsafe { entry.as_ref() }.state.store(FIRED, Release);
                n += 1;
            }
            let done = n < BATCH;
            inner.fired += n as u64;
            if done {
                let next = inner.wheel.next_deadline().unwrap_or(NO_WAKE);
                self.next_wake.store(next, SeqCst);
            }
            drop(inner);
            for waker in &mut batch[..n] {
                wake_guarded(waker.take());
            }
            fired += n;
            if done {
                return fired;
            }
        }
    }

    /// Shutdown: refuses new registrations and wakes every timer still registered (its
    /// next poll panics: it can never fire). Timers of cancelled tasks were already
    /// unlinked when their futures dropped.
    pub(crate) fn shutdown(&self) {
        let mut batch: [Option<Waker>; BATCH] = Default::default();
        loop {
            let mut inner = self.inner.lock();
            inner.closed = true;
            let mut n = 0;
            while n < BATCH {
                let Some(entry) = inner.wheel.pop_any() else {
                    break;
                };
                // SAFETY: as in `process_at`.
                batch[n] = unsafe { Entry::with_links(entry, |l| l.waker.take()) };
                // SAFETY: as in `process_at`; the last access.
                unsafe { entry.as_ref() }.state.store(SHUTDOWN, Release);
                n += 1;
            }
            self.next_wake.store(NO_WAKE, SeqCst);
            drop(inner);
            for waker in &mut batch[..n] {
                wake_guarded(waker.take());
            }
            if n < BATCH {
                return;
            }
        }
    }

    /// Parking worker `worker` takes a free keeper role, if any.
    pub(crate) fn try_keep(&self, worker: usize) -> Option<usize> {
        self.keepers.held.iter().position(|k| {
            k.compare_exchange(NO_KEEPER, worker, SeqCst, SeqCst)
                .is_ok()
        })
    }

    /// The holder of `role` waits for the next deadline, at most `timeout` (the worker's
    /// own), or until `Keepers::unpark(role)`. May return spuriously.
    pub(crate) fn park_keeper(&self, role: usize, timeout: Option<Duration>) {
        // Pairs with the fence in `timer_moved_earlier` (module doc): taking the role
        // (`try_keep`) comes before this read.
        fence(SeqCst);
        self.keepers.parkers[role].park(self.timeout_for(timeout));
    }

    /// How long a waiter may block: `timeout`, shortened to the time until the next
    /// deadline if a timer is registered. For a driver stacked on the timers (an I/O
    /// poller's timeout), as for the keepers.
    pub(crate) fn timeout_for(&self, timeout: Option<Duration>) -> Option<Duration> {
        let next = self.next_wake.load(SeqCst);
        // While paused, the clock moves only by `advance` or auto-advance: no deadline
        // to wait until (`resume` wakes the keepers to time their parks again).
        let until = if next == NO_WAKE {
            None
        } else {
            self.clock.until(next)
        };
        match (timeout, until) {
            (Some(t), Some(u)) => Some(t.min(u)),
            (t, u) => t.or(u),
        }
    }

    /// The holder of `role` woke: it gives the role up.
    pub(crate) fn release_keeper(&self, role: usize) {
        self.keepers.held[role].store(NO_KEEPER, SeqCst);
    }

    /// A worker leaves its park loop: true if timers are pending and nobody keeps them,
    /// so it must send another sleeper to (`park.rs`, the hand-off).
    pub(crate) fn needs_keeper(&self) -> bool {
        // A leaving keeper released its role just before: pairs with the registrar's
        // fence, as in `park_keeper` (module doc).
        fence(SeqCst);
        self.has_timers() && self.keepers.holders().next().is_none()
    }

    /// A registration lowered `next_wake`: wakes the keepers so they sleep less, or, with
    /// no keeper, asks the host to send a sleeper to keep time.
    pub(crate) fn timer_moved_earlier(&self) {
        // Pairs with the fence in `park_keeper` (module doc).
        fence(SeqCst);
        let mut kept = false;
        for (role, held) in self.keepers.held.iter().enumerate() {
            if held.load(SeqCst) != NO_KEEPER {
                self.keepers.unpark(role);
                kept = true;
            }
        }
        if !kept {
            if let Some(summon) = self.summon.get() {
                summon();
            }
        }
    }

    fn has_timers(&self) -> bool {
        self.next_wake.load(SeqCst) != NO_WAKE
    }

    /// A hint for a parking worker: the clock is paused, nothing holds auto-advance off,
    /// and a timer is pending (`auto_advance` re-checks under the clock's lock).
    pub(crate) fn may_auto_advance(&self) -> bool {
        self.clock.may_auto_advance() && self.has_timers()
    }

    /// Auto-advance, by the one worker that claimed the idle runtime (`park.rs`;
    /// `docs/sleep-protocol.md`, "Auto-advance"): moves the paused clock to the next
    /// deadline and fires what is due there. A deadline in an upper level of the wheel
    /// only cascades its entries lower, so it moves on until a timer fired or none is
    /// left (or an inhibitor appeared). Returns how many timers fired.
    pub(crate) fn auto_advance(&self) -> usize {
        // Each round fires or cascades at least one level's slot; more rounds than the
        // wheel has levels (twice over, for a slot beyond the span) never happen.
        for _ in 0..16 {
            let next = self.next_wake.load(SeqCst);
            if next == NO_WAKE || !self.clock.auto_advance_to(next) {
                return 0;
            }
            let fired = self.process_at(self.clock.now_tick(), true);
            if fired > 0 {
                return fired;
            }
        }
        0
    }

    /// Holds auto-advance off (`clock.rs`): a `block_on` that is polling, a blocking
    /// call, a `block_in_place` section.
    pub(crate) fn inhibit_auto_advance(&self) {
        self.clock.inhibit_auto_advance();
    }

    /// Releases one `inhibit_auto_advance`. The last one of a paused clock, with timers
    /// pending, sends a sleeper to look whether the runtime is idle now (its last worker
    /// may have parked while the clock was held): the `summon` half of the pairing in
    /// `docs/sleep-protocol.md`, "Auto-advance".
    pub(crate) fn allow_auto_advance(&self) {
        if self.clock.allow_auto_advance() && self.has_timers() {
            if let Some(summon) = self.summon.get() {
                summon();
            }
        }
    }
}

/// Wakes behind a panic guard: a waker is user code, and a panic here must not unwind
/// through a worker's run loop.
fn wake_guarded(waker: Option<Waker>) {
    if let Some(waker) = waker {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || waker.wake()));
    }
}

#[track_caller]
fn shutdown_panic() -> ! {
    panic!(
        "heist::time: the runtime this timer belongs to has shut down, so the timer can never \
         fire; do not await timers after `Runtime::shutdown_*` or dropping the Runtime"
    )
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_the_right_way() {
        let clock = Clock::new(false);
        let o = clock.origin();
        let at = |d: Duration| Instant::from_std(o + d);
        assert_eq!(clock.deadline_tick(at(Duration::ZERO)), 0);
        assert_eq!(clock.deadline_tick(at(Duration::from_micros(1))), 1);
        assert_eq!(clock.deadline_tick(at(Duration::from_millis(5))), 5);
        assert_eq!(clock.tick_floor(o + Duration::from_micros(5999)), 5);
        assert_eq!(clock.until(0), Some(Duration::ZERO));
        clock.pause().unwrap();
        assert_eq!(clock.until(0), None, "a paused clock has no real deadline");
    }

    #[test]
    fn auto_advance_moves_to_the_next_deadline_unless_held() {
        let driver = Driver::new(true);
        let start = driver.clock.now();
        let entry = Box::pin(Entry::new());
        let deadline = start + Duration::from_secs(90);
        let polled = driver.poll_entry(entry.as_ref(), deadline, Waker::noop());
        assert_eq!(polled, Polled::PendingEarlier);
        assert!(driver.may_auto_advance());
        driver.inhibit_auto_advance();
        assert!(!driver.may_auto_advance());
        assert_eq!(driver.auto_advance(), 0, "held off");
        assert_eq!(driver.clock.now(), start);
        driver.allow_auto_advance();
        // 90 s is in level 2 of the wheel: cascades first, then fires, in one call.
        assert_eq!(driver.auto_advance(), 1);
        assert_eq!(driver.clock.now(), deadline);
        assert_eq!(entry.load(), FIRED);
        assert!(!driver.may_auto_advance(), "no timer left");
    }

    #[test]
    fn two_keepers_one_role_each() {
        let driver = Driver::new(false);
        assert_eq!(driver.try_keep(7), Some(0));
        assert_eq!(driver.try_keep(8), Some(1));
        assert_eq!(driver.try_keep(9), None, "both roles are taken");
        assert_eq!(driver.keepers.holders().collect::<Vec<_>>(), [7, 8]);
        assert!(!driver.needs_keeper(), "no timers");
        driver.release_keeper(0);
        driver.release_keeper(1);
        let entry = Box::pin(Entry::new());
        let deadline = driver.clock.now() + Duration::from_secs(3600);
        let polled = driver.poll_entry(entry.as_ref(), deadline, Waker::noop());
        assert_eq!(polled, Polled::PendingEarlier);
        assert!(driver.needs_keeper(), "a timer and no keeper");
        assert_eq!(driver.try_keep(9), Some(0));
        assert!(!driver.needs_keeper());
        // A keeper waits for the next deadline (about an hour), not for its own timeout
        // of a day; the token left by an unpark ends the wait at once.
        driver.keepers.unpark(0);
        driver.park_keeper(0, Some(Duration::from_secs(86_400)));
        driver.release_keeper(0);
        driver.cancel(entry.as_ref());
    }
}

/// Models of the entry protocol: firing against cancelling, and against a poll that
/// changes the waker. Explored by loom under `--cfg heist_loom` (`scripts/loom.sh
/// time`), run on real threads otherwise (so miri and ThreadSanitizer run them too),
/// through the crate's one model runner (`sync::model`). The keepers' protocol needs the
/// workers' parking: its models are whole-runtime ones (`tests/loom_runtime.rs`,
/// `timer_*`).
#[cfg(test)]
mod loom_tests {
    use super::*;
    use crate::sync::{model, thread};
    use std::sync::Arc as StdArc;
    use std::task::Wake;

    /// Runs of each model on real threads (without loom).
    const ITERATIONS: usize = if cfg!(miri) { 3 } else { 300 };

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn counting_waker() -> (StdArc<Count>, Waker) {
        let count = StdArc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    /// Far past any deadline registered here.
    const LATER: u64 = u64::MAX / 4;

    #[test]
    fn firing_races_cancel_and_free() {
        model(ITERATIONS, || {
            let driver = crate::sync::Arc::new(Driver::new(false));
            let (count, waker) = counting_waker();
            let entry = Box::pin(Entry::new());
            let deadline = driver.clock.now() + Duration::from_secs(3600);
            assert_eq!(
                driver.poll_entry(entry.as_ref(), deadline, &waker),
                Polled::PendingEarlier
            );
            let firer = driver.clone();
            let th = thread::spawn(move || {
                firer.process_at(LATER, true);
            });
            driver.cancel(entry.as_ref());
            drop(entry);
            th.join().unwrap();
            assert!(count.0.load(SeqCst) <= 1, "woken twice");
            assert_eq!(driver.len(), 0);
        });
    }

    #[test]
    fn firing_races_a_poll_with_a_new_waker() {
        model(ITERATIONS, || {
            let driver = crate::sync::Arc::new(Driver::new(false));
            let (first, waker1) = counting_waker();
            let (second, waker2) = counting_waker();
            let entry = Box::pin(Entry::new());
            let deadline = driver.clock.now() + Duration::from_secs(3600);
            assert_eq!(
                driver.poll_entry(entry.as_ref(), deadline, &waker1),
                Polled::PendingEarlier
            );
            let firer = driver.clone();
            let th = thread::spawn(move || {
                firer.process_at(LATER, true);
            });
            let repoll = driver.poll_entry(entry.as_ref(), deadline, &waker2);
            th.join().unwrap();
            let (w1, w2) = (first.0.load(SeqCst), second.0.load(SeqCst));
            assert_eq!(w1 + w2, 1, "exactly one wake per registration");
            if repoll == Polled::Pending {
                assert_eq!(w2, 1, "a pending poll's waker is the one woken");
            }
            assert_eq!(
                driver.poll_entry(entry.as_ref(), deadline, &waker2),
                Polled::Ready
            );
        });
    }
}
