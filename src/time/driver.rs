//! The timer driver: the wheel under its lock, the clock, and the protocol by which the
//! workers keep time between them (there is no timer thread).
//!
//! # Who fires timers
//!
//! - **A worker about to park** first fires whatever is due (`fire_due`); if that queued
//!   tasks, it runs them instead of parking.
//! - **The keepers.** The first `KEEPERS` (two) workers to park while a *keeper* role
//!   is free take one each and park with a timeout to the next deadline
//!   (`keeper_timeout`); every other sleeper parks without one. On waking for any reason
//!   a keeper gives its role up (`release_keeper`) and fires what is due; the fired
//!   tasks land in its own queue. Both keepers wake for the same deadline and whichever
//!   takes the lock first fires; the other finds nothing due and parks again.
//! - **Busy workers** call `fire_due` every `CHECK_INTERVAL` tasks: one atomic load when
//!   nothing is due, so timers keep time while no worker parks.
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
//!   [lock] insert; next_wake = when [unlock]    keepers[i]: CAS NONE -> me  (SeqCst)
//!   fence(SeqCst)                               fence(SeqCst)
//!   k = keepers[0..].load()        (SeqCst)     n = next_wake.load()         (SeqCst)
//!   each keeper k: unpark k                     park(until n)
//!   no keeper:     hand off (below)
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
//! A keeper that leaves the park loop to run tasks (`hand_off_timer_keeper`), and a
//! registrar that finds no keeper, wake one *other* sleeper without taking it off the
//! sleepers list: it finds no work, takes a free role and parks with the timeout. The
//! same Dekker pairing (`keepers` store / `next_wake` load against `next_wake` store /
//! `keepers` load) makes at least one of a leaving keeper and a racing registrar see the
//! other. If no worker sleeps, all are busy and fire timers in their run loops.
//!
//! # Time
//!
//! [`Clock`] is the only place the driver reads the time; the wheel itself is given the
//! current tick, so a test or a loom model can drive it by hand (`process_at`).

use super::entry::{Entry, FIRED, MAX_TICK, SHUTDOWN, UNREGISTERED};
use super::wheel::Wheel;
use crate::scheduler::Shared;
use crate::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering::*};
use crate::sync::Mutex;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant};

/// `next_wake` when the wheel is empty.
const NO_WAKE: u64 = u64::MAX;
/// A keeper role that no worker holds.
const NO_KEEPER: usize = usize::MAX;
/// Workers that park with a timeout to the next deadline at once (see the module doc).
pub(crate) const KEEPERS: usize = 2;
/// Wakers collected under the lock and woken after releasing it, per batch.
const BATCH: usize = 32;

/// Milliseconds since the runtime started: the wheel's ticks.
#[derive(Debug)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            origin: crate::sync::time::now(),
        }
    }

    /// The time now: the one place the timers read the clock.
    pub(crate) fn now(&self) -> Instant {
        crate::sync::time::now()
    }

    /// The current tick, rounded down: a timer due at tick `t` fires once this is `>= t`,
    /// never before its deadline (which `deadline_tick` rounds up).
    pub(crate) fn now_tick(&self) -> u64 {
        self.tick_floor(self.now())
    }

    fn tick_floor(&self, t: Instant) -> u64 {
        let ms = t.saturating_duration_since(self.origin).as_millis();
        u64::try_from(ms).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// The first tick at or after `deadline`.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin);
        let ms = since.as_millis() + u128::from(since.subsec_nanos() % 1_000_000 != 0);
        u64::try_from(ms).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// How long from now until `tick` starts (zero if it has).
    fn until(&self, tick: u64) -> Duration {
        let at = self.origin.checked_add(Duration::from_millis(tick));
        at.map_or(Duration::MAX, |at| at.saturating_duration_since(self.now()))
    }
}

struct Inner {
    wheel: Wheel,
    /// Set once at shutdown: nothing may register after it.
    closed: bool,
    /// Timers fired so far (`RuntimeMetrics::timers_fired_count`).
    fired: u64,
}

/// One runtime's timers.
pub(crate) struct Driver {
    clock: Clock,
    inner: Mutex<Inner>,
    /// The tick at which the wheel next has work, or `NO_WAKE`. Written under the lock.
    next_wake: AtomicU64,
    /// The keeper roles: each holds the worker parked with a timeout for `next_wake`, or
    /// `NO_KEEPER`. Only a worker writes its own index in (and out); it holds at most one.
    keepers: [AtomicUsize; KEEPERS],
}

/// What a `Sleep` poll found.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    Ready,
    Pending,
    /// Registered with the earliest deadline in the wheel: the caller must make sure a
    /// worker wakes for it (`Shared::timer_moved_earlier`).
    PendingEarlier,
}

impl Driver {
    pub(crate) fn new() -> Driver {
        Driver {
            clock: Clock::new(),
            inner: Mutex::new(Inner {
                wheel: Wheel::new(),
                closed: false,
                fired: 0,
            }),
            next_wake: AtomicU64::new(NO_WAKE),
            keepers: std::array::from_fn(|_| AtomicUsize::new(NO_KEEPER)),
        }
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
        inner: &mut Inner,
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

    /// Parking worker `index`: takes a keeper role if it holds none and one is free, and
    /// returns how long to sleep at most (`other`: the worker's own timeout, if any).
    pub(crate) fn keeper_timeout(&self, index: usize, other: Option<Duration>) -> Option<Duration> {
        let held = self.keepers.iter().any(|k| k.load(SeqCst) == index)
            || self
                .keepers
                .iter()
                .any(|k| k.compare_exchange(NO_KEEPER, index, SeqCst, SeqCst).is_ok());
        if !held {
            return other;
        }
        // Pairs with the fence in `timer_moved_earlier` (module doc).
        fence(SeqCst);
        let next = self.next_wake.load(SeqCst);
        if next == NO_WAKE {
            return other;
        }
        let until = self.clock.until(next);
        Some(other.map_or(until, |o| o.min(until)))
    }

    /// Worker `index` woke: it gives up its keeper role if it held one.
    pub(crate) fn release_keeper(&self, index: usize) {
        let _ = self
            .keepers
            .iter()
            .any(|k| k.compare_exchange(index, NO_KEEPER, SeqCst, SeqCst).is_ok());
    }

    /// The workers holding a keeper role now.
    fn keepers(&self) -> impl Iterator<Item = usize> + '_ {
        self.keepers
            .iter()
            .map(|k| k.load(SeqCst))
            .filter(|&k| k != NO_KEEPER)
    }

    fn has_timers(&self) -> bool {
        self.next_wake.load(SeqCst) != NO_WAKE
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

/// The glue between the driver and the workers' parking (see the module doc).
impl Shared {
    /// A registration lowered `next_wake`: wake the keepers so they sleep less, or, with
    /// no keeper, a sleeper to become one.
    pub(crate) fn timer_moved_earlier(&self) {
        // Pairs with the fence in `keeper_timeout` (module doc).
        fence(SeqCst);
        let mut kept = false;
        for k in self.time.keepers() {
            self.remotes[k].parker.unpark();
            kept = true;
        }
        if !kept {
            self.hand_off_timer_keeper(usize::MAX);
        }
    }

    /// Worker `index` leaves its park loop (to run tasks) without a keeper role: if
    /// timers are pending and nobody keeps them, wake another sleeper to take a role.
    pub(crate) fn hand_off_timer_keeper(&self, index: usize) {
        // A leaving keeper released its role just before: pairs with the registrar's
        // fence, as in `keeper_timeout` (module doc).
        fence(SeqCst);
        if !self.time.has_timers() || self.time.keepers().next().is_some() {
            return;
        }
        if let Some(sleeper) = self.idle.some_sleeper(index) {
            self.remotes[sleeper].parker.unpark();
        }
    }
}

#[cfg(all(test, not(heist_loom)))]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_the_right_way() {
        let clock = Clock::new();
        let o = clock.origin;
        assert_eq!(clock.deadline_tick(o), 0);
        assert_eq!(clock.deadline_tick(o + Duration::from_micros(1)), 1);
        assert_eq!(clock.deadline_tick(o + Duration::from_millis(5)), 5);
        assert_eq!(clock.tick_floor(o + Duration::from_micros(5999)), 5);
        assert_eq!(clock.until(0), Duration::ZERO);
    }

    #[test]
    fn two_keepers_one_role_each() {
        let driver = Driver::new();
        let day = Some(Duration::from_secs(86_400));
        assert_eq!(
            driver.keeper_timeout(0, day),
            day,
            "no timers: the worker's own"
        );
        driver.release_keeper(0);
        let entry = Box::pin(Entry::new());
        let deadline = Instant::now() + Duration::from_secs(3600);
        let polled = driver.poll_entry(entry.as_ref(), deadline, Waker::noop());
        assert_eq!(polled, Polled::PendingEarlier);
        // A keeper's timeout is the next deadline's (about an hour), not the worker's own.
        let keeps = |index| driver.keeper_timeout(index, day) != day;
        assert!(keeps(0));
        // A keeper parking again keeps its role and takes no second one.
        assert!(keeps(0));
        assert_eq!(driver.keepers().collect::<Vec<_>>(), [0]);
        assert!(keeps(1));
        assert!(!keeps(2), "both roles are taken");
        driver.release_keeper(0);
        assert_eq!(driver.keepers().collect::<Vec<_>>(), [1]);
        assert!(keeps(2));
        assert_eq!(driver.keepers().collect::<Vec<_>>(), [2, 1]);
        driver.cancel(entry.as_ref());
    }
}

/// loom models of the entry protocol: firing against cancelling, and against a poll
/// that changes the waker. Run with `RUSTFLAGS="--cfg heist_loom" cargo test --lib
/// time::driver` (see docs/testing.md). The keepers' protocol needs the workers'
/// parking: its models are whole-runtime ones (`tests/loom_runtime.rs`, `timer_*`).
#[cfg(all(test, heist_loom))]
mod loom_models {
    use super::*;
    use std::sync::Arc as StdArc;
    use std::task::Wake;

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
        loom::model(|| {
            let driver = crate::sync::Arc::new(Driver::new());
            let (count, waker) = counting_waker();
            let entry = Box::pin(Entry::new());
            let deadline = Instant::now() + Duration::from_secs(3600);
            assert_eq!(
                driver.poll_entry(entry.as_ref(), deadline, &waker),
                Polled::PendingEarlier
            );
            let firer = driver.clone();
            let th = loom::thread::spawn(move || {
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
        loom::model(|| {
            let driver = crate::sync::Arc::new(Driver::new());
            let (first, waker1) = counting_waker();
            let (second, waker2) = counting_waker();
            let entry = Box::pin(Entry::new());
            let deadline = Instant::now() + Duration::from_secs(3600);
            assert_eq!(
                driver.poll_entry(entry.as_ref(), deadline, &waker1),
                Polled::PendingEarlier
            );
            let firer = driver.clone();
            let th = loom::thread::spawn(move || {
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
