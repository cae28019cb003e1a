//! The I/O driver: one `mio::Poll` per runtime, the registrations it reports events for,
//! and the turn that turns events into readiness and wake-ups.
//!
//! # Why mio
//!
//! mio is edge-triggered (`EPOLLET`): a socket is armed once, at registration, and the
//! kernel reports each new edge without a re-arm. The alternative, `polling`, is oneshot
//! by default: every readiness cycle costs an `epoll_ctl(MOD)` (about 470 ns on the
//! 2-core VM heist is measured on) and every wait an eventfd read and re-arm. On a
//! machine where a syscall costs more than the scheduling around it, that is the
//! difference (`docs/design.md`, "The I/O driver"). mio is also tokio's reactor, so the
//! echo benchmark compares schedulers, not reactors. The price is owning readiness
//! (`scheduled.rs`).
//!
//! # Registration lifetime
//!
//! A resource's token is `index | generation << GEN_SHIFT` into a slab of
//! `Arc<ScheduledIo>`. A turn looks each event's token up under the slab lock, ignores
//! it if the generation no longer matches (the resource was dropped and its slot maybe
//! reused: the event is stale) and otherwise takes a clone of the `Arc`, so the memory
//! lives until the turn is done with it, however the resource's owner races. No
//! pointer is ever made from a token.
//!
//! # Who waits in it, who turns it
//!
//! No thread of its own: the runtime's workers host it through the park seam
//! (`scheduler/park.rs`, glued in `runtime/driver.rs`).
//!
//! - **The seat.** One parked worker at a time holds the seat (`try_enter`, a CAS) and
//!   waits in `epoll_wait` (`park`) with the timers' next deadline as its timeout. The
//!   events it gets are left in the buffer; it dispatches them in the `turn` right
//!   after, on its own thread, so the woken tasks land in its own queue and the park
//!   loop counts them. `unpark` writes mio's `Waker` (an eventfd; a wake before the wait
//!   leaves a token in the poll, so it is never lost).
//! - **Turning.** `turn` never blocks: it takes the poll if nobody holds it (a
//!   `try_lock`), dispatches what the seat's wait left, or else, for a busy worker,
//!   polls with a zero timeout (about 250 ns when nothing is ready). Busy workers turn
//!   every `DRIVER_INTERVAL` tasks, so I/O is served while no worker parks; a parking
//!   worker's turns only dispatch (it waits in the poll next, or someone already does).
//! - **Hand-off.** While sources are registered, the seat must not stay empty while
//!   workers sleep elsewhere: a registration that finds the seat empty summons a
//!   sleeper, and a worker leaving the seat asks for a waiter (`needs_waiter`, the
//!   scheduler then wakes another sleeper to take it) unless the scheduler's
//!   stalled-slot check already keeps a sleeper on a timeout (`runtime/driver.rs`,
//!   `set_rescued`). So a task that blocks its worker stalls no other connection's
//!   I/O: another worker sits in the poll (at once, or within the check's period).

use super::interest::{Interest, Ready};
use super::scheduled::ScheduledIo;
use super::seat::Seat;
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::{Arc, Mutex, OnceLock};
use std::io;
use std::time::Duration;

/// The token of mio's `Waker`; never a slab index (indices stay below `u32::MAX`).
const WAKER: mio::Token = mio::Token(usize::MAX);
/// Where the generation starts in a token.
const GEN_SHIFT: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << GEN_SHIFT) - 1;
/// Events taken per `epoll_wait` (tokio's default).
const EVENTS: usize = 1024;

/// A runtime's I/O driver, created on first use (a runtime that never does I/O opens
/// no epoll instance, and its workers never wait in one).
pub(crate) struct Driver {
    inner: OnceLock<Arc<Inner>>,
    /// Serialises creation.
    init: Mutex<()>,
    /// Set by `shutdown`: no driver is created after it.
    shut: AtomicBool,
    /// Asks the host for a parked worker to take the seat (set once by the runtime).
    summon: OnceLock<Summon>,
    /// mio's waker, once created: what `Unpark` writes.
    waker: Arc<OnceLock<mio::Waker>>,
}

/// The host's callback: send a sleeping worker to the seat.
pub(crate) type Summon = std::sync::Arc<dyn Fn() + Send + Sync>;

impl Driver {
    pub(crate) fn new() -> Driver {
        Driver {
            inner: OnceLock::new(),
            init: Mutex::new(()),
            shut: AtomicBool::new(false),
            summon: OnceLock::new(),
            waker: Arc::new(OnceLock::new()),
        }
    }

    /// Sets how the driver asks for a waiter (once, before any registration).
    pub(crate) fn set_summon(&self, summon: Summon) {
        assert!(
            self.summon.set(summon).is_ok(),
            "the I/O driver's host is set once"
        );
    }

    /// The cell `Unpark` writes the waker through (a leaf: it holds no registration).
    pub(crate) fn waker(&self) -> Arc<OnceLock<mio::Waker>> {
        self.waker.clone()
    }

    /// The driver if it was created: what the park seam uses (one load).
    #[inline]
    pub(crate) fn get(&self) -> Option<&Arc<Inner>> {
        self.inner.get()
    }

    /// The driver, created on first call.
    pub(crate) fn handle(&self) -> io::Result<Arc<Inner>> {
        if let Some(inner) = self.inner.get() {
            return Ok(inner.clone());
        }
        let _init = self.init.lock();
        if let Some(inner) = self.inner.get() {
            return Ok(inner.clone());
        }
        if self.shut.load(Acquire) {
            return Err(shut_down_error());
        }
        let (inner, waker) = Inner::new(self.summon.get().cloned())?;
        let inner = Arc::new(inner);
        let _ = self.waker.set(waker);
        let _ = self.inner.set(inner.clone());
        Ok(inner)
    }

    /// Paused time, by the worker that claimed the idle runtime (`scheduler/park.rs`,
    /// "Auto-advance"): takes the poll, waking the seat's holder out of `epoll_wait` if
    /// it has it (the only place that waits for this lock; the holder gives it up as
    /// soon as its wait returns), and dispatches what the holder's wait left or a poll
    /// without blocking finds. True if there were events, or if a batch another thread
    /// collected is still being dispatched: then the runtime is not idle.
    pub(crate) fn settle(&self) -> bool {
        let Some(inner) = self.inner.get() else {
            return false;
        };
        let state = match inner.poll.try_lock() {
            Some(state) => state,
            None => {
                if let Some(waker) = self.waker.get() {
                    let _ = waker.wake();
                }
                inner.poll.lock()
            }
        };
        // Read under the poll lock, which every batch's collection holds: a batch
        // collected before this lock was taken is counted here until it is dispatched
        // (`turn`), and its wakes (Release) are seen by our later look for work.
        let elsewhere = inner.dispatching.load(Acquire) > 0;
        inner.dispatch(state, true).0 > 0 || elsewhere
    }

    /// Runtime shutdown: every registered resource fails from now on.
    pub(crate) fn shutdown(&self) {
        self.shut.store(true, Release);
        let _init = self.init.lock();
        if let Some(inner) = self.inner.get() {
            inner.shutdown();
        }
        if let Some(waker) = self.waker.get() {
            let _ = waker.wake();
        }
    }
}

/// The error every operation on a resource returns once its runtime shut down.
pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other("the heist runtime owning this I/O resource has shut down")
}

/// What a resource's registration holds on to.
pub(crate) struct Inner {
    registry: mio::Registry,
    slab: Mutex<Slab>,
    /// Holding this lock is the right to poll.
    poll: Mutex<PollState>,
    /// Which parked worker waits in the poll, and the hand-off (`seat.rs`).
    seat: Seat,
    summon: Option<Summon>,
    is_shutdown: AtomicBool,
    /// Batches collected and not yet dispatched (`Driver::settle`).
    dispatching: AtomicUsize,
    pub(crate) stats: crate::metrics::io::IoDriverStats,
}

struct PollState {
    poll: mio::Poll,
    events: mio::Events,
    /// `events` holds a batch from the seat's wait that is not dispatched yet.
    undispatched: bool,
    /// Reused between turns: the resources an event batch touched.
    batch: Vec<(Arc<ScheduledIo>, Ready)>,
}

#[derive(Default)]
struct Slab {
    entries: Vec<Entry>,
    free: Vec<usize>,
}

struct Entry {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

impl Slab {
    fn insert(&mut self, io: Arc<ScheduledIo>) -> io::Result<mio::Token> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                if self.entries.len() >= INDEX_MASK {
                    return Err(io::Error::other("too many I/O resources registered"));
                }
                self.entries.push(Entry {
                    generation: 0,
                    io: None,
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.io = Some(io);
        Ok(mio::Token(index | entry.generation << GEN_SHIFT))
    }

    fn get(&self, token: mio::Token) -> Option<&Arc<ScheduledIo>> {
        let entry = self.entries.get(token.0 & INDEX_MASK)?;
        if entry.generation != token.0 >> GEN_SHIFT {
            return None;
        }
        entry.io.as_ref()
    }

    /// Removes `token`'s entry; false if it was not there.
    fn remove(&mut self, token: mio::Token) -> bool {
        let index = token.0 & INDEX_MASK;
        let Some(entry) = self.entries.get_mut(index) else {
            return false;
        };
        if entry.generation == token.0 >> GEN_SHIFT && entry.io.take().is_some() {
            // A stale event for the old token no longer matches the slot.
            entry.generation = (entry.generation + 1) & (usize::MAX >> GEN_SHIFT);
            self.free.push(index);
            return true;
        }
        false
    }
}

impl Inner {
    fn new(summon: Option<Summon>) -> io::Result<(Inner, mio::Waker)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let inner = Inner {
            registry,
            slab: Mutex::new(Slab::default()),
            poll: Mutex::new(PollState {
                poll,
                events: mio::Events::with_capacity(EVENTS),
                undispatched: false,
                batch: Vec::new(),
            }),
            seat: Seat::new(),
            summon,
            is_shutdown: AtomicBool::new(false),
            dispatching: AtomicUsize::new(0),
            stats: Default::default(),
        };
        Ok((inner, waker))
    }

    /// Registers `source` for `interest`; returns its readiness and token.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        interest: Interest,
    ) -> io::Result<(Arc<ScheduledIo>, mio::Token)> {
        if self.is_shutdown.load(Acquire) {
            return Err(shut_down_error());
        }
        let io = Arc::new(ScheduledIo::new());
        let token = self.slab.lock().insert(io.clone())?;
        if let Err(e) = self.registry.register(source, token, interest.to_mio()) {
            self.slab.lock().remove(token);
            return Err(e);
        }
        self.stats.registered();
        // A shutdown that ran between the check and the insert did not see this entry.
        if self.is_shutdown.load(Acquire) {
            io.shutdown();
        }
        // Either a worker leaving the seat sees this source and hands the seat off, or
        // we see the seat empty and summon (`seat.rs`).
        if self.seat.registered() {
            if let Some(summon) = &self.summon {
                summon();
            }
        }
        Ok((io, token))
    }

    /// Takes `source` out of the poll set (before its fd is closed).
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.registry.deregister(source)
    }

    /// Forgets `token`: its slot may be reused, and stale events for it are ignored.
    pub(crate) fn release(&self, token: mio::Token) {
        if self.slab.lock().remove(token) {
            self.stats.deregistered();
            self.seat.deregistered();
        }
    }

    /// Dispatches what the seat's last wait left, or else (if `poll`) polls without
    /// blocking; gives up at once if another thread holds the poll. Returns how many
    /// waiters it woke (their tasks land in the caller's queue, if it is a worker).
    ///
    /// A worker's park loop turns with `poll == false`: right before it parks it is
    /// about to wait in the poll itself (or someone else already does), and right after,
    /// what its own wait found is the batch left here; a zero-timeout `epoll_wait` there
    /// is a syscall that finds what the seat's wait finds anyway. Busy workers poll.
    ///
    /// The poll lock is held only to poll and to collect the batch, never while waking:
    /// the seat's holder waits for it (`park`), so a turn that woke a hundred tasks
    /// under it kept the holder out of `epoll_wait` for as long.
    pub(crate) fn turn(&self, poll: bool) -> usize {
        match self.poll.try_lock() {
            Some(state) => self.dispatch(state, poll).1,
            None => 0,
        }
    }

    /// `turn` with the poll lock held: returns the events dispatched (the waker's not
    /// counted) and the waiters woken. Without a batch left by the seat's wait, polls
    /// without blocking only if `poll`.
    fn dispatch(
        &self,
        mut state: crate::sync::MutexGuard<'_, PollState>,
        poll: bool,
    ) -> (usize, usize) {
        if !std::mem::take(&mut state.undispatched) {
            if !poll {
                return (0, 0);
            }
            self.stats.polls.incr(); // under the poll lock
            Self::poll(&mut state, Some(Duration::ZERO));
        }
        if state.events.is_empty() {
            return (0, 0);
        }
        let mut batch = self.collect(&mut state);
        let events = batch.len();
        // Counted under the poll lock, until every wake is done (`Driver::settle`).
        self.dispatching.fetch_add(1, Relaxed);
        drop(state);
        let mut woke = 0;
        for (io, ready) in batch.drain(..) {
            woke += io.set_readiness(ready);
        }
        self.dispatching.fetch_sub(1, Release);
        // Give the batch's allocation back for the next turn, if the poll is free.
        if let Some(mut state) = self.poll.try_lock() {
            if state.batch.capacity() < batch.capacity() {
                state.batch = batch;
            }
        }
        (events, woke)
    }

    /// Takes the seat, if free.
    pub(crate) fn try_enter(&self) -> bool {
        self.seat.try_enter()
    }

    /// The seat's holder waits up to `timeout` for events, leaving them for the next
    /// `turn` to dispatch. If a busy worker's `turn` holds the poll, waits for it (it
    /// only polls without blocking and collects; it wakes nobody under the lock).
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        let mut state = self.poll.lock();
        if state.undispatched {
            return; // a batch is waiting: the caller's turn dispatches it
        }
        self.stats.polls.incr(); // under the poll lock
        Self::poll(&mut state, timeout);
        state.undispatched = !state.events.is_empty();
    }

    /// Gives the seat up.
    pub(crate) fn leave(&self) {
        self.seat.leave();
    }

    /// After a `SeqCst` fence: sources are registered and nobody holds the seat.
    pub(crate) fn needs_waiter(&self) -> bool {
        !self.is_shutdown() && self.seat.needs_waiter()
    }

    fn poll(state: &mut PollState, timeout: Option<Duration>) {
        let PollState { poll, events, .. } = state;
        if poll.poll(events, timeout).is_err() {
            // EINTR (a signal) or a failure that left no events: nothing to dispatch.
            events.clear();
        }
    }

    /// Takes the events' resources out of the slab (a clone of each `Arc`, so none is
    /// freed while its readiness is recorded) into a batch to wake outside every lock.
    fn collect(&self, state: &mut PollState) -> Vec<(Arc<ScheduledIo>, Ready)> {
        let PollState { events, batch, .. } = state;
        let mut batch = std::mem::take(batch);
        {
            let slab = self.slab.lock();
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                if let Some(io) = slab.get(event.token()) {
                    batch.push((io.clone(), Ready::from_mio(event)));
                }
            }
            self.stats.ready.add(batch.len() as u64); // under the poll lock
        }
        events.clear();
        batch
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Acquire)
    }

    fn shutdown(&self) {
        if self.is_shutdown.swap(true, AcqRel) {
            return;
        }
        // Wake every waiter with the shutdown flag set; their operations fail.
        let all: Vec<Arc<ScheduledIo>> = {
            let slab = self.slab.lock();
            slab.entries.iter().filter_map(|e| e.io.clone()).collect()
        };
        for io in all {
            io.shutdown();
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("io::Driver")
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}
