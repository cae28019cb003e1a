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
//! # Who turns the driver
//!
//! Anyone holding the `poll` lock: `try_turn` takes it without blocking. Until the
//! scheduler's park seam can host the driver, one thread per runtime (started with the
//! first registration, `io-driver`) holds it and waits in `epoll_wait`; `unpark` writes
//! mio's `Waker` (an eventfd) to end a wait early.

use super::interest::{Interest, Ready};
use super::scheduled::ScheduledIo;
use crate::sync::atomic::{AtomicBool, Ordering::*};
use crate::sync::{Arc, Mutex};
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
/// no epoll instance and starts no thread).
pub(crate) struct Driver {
    inner: Mutex<Option<Arc<Inner>>>,
    /// Set by `shutdown`: no driver is created after it.
    shut: AtomicBool,
}

impl Driver {
    pub(crate) fn new() -> Driver {
        Driver {
            inner: Mutex::new(None),
            shut: AtomicBool::new(false),
        }
    }

    /// The driver, created (and its thread started) on first call.
    pub(crate) fn handle(&self) -> io::Result<Arc<Inner>> {
        let mut slot = self.inner.lock();
        if let Some(inner) = &*slot {
            return Ok(inner.clone());
        }
        if self.shut.load(Acquire) {
            return Err(shut_down_error());
        }
        let inner = Arc::new(Inner::new()?);
        start_thread(inner.clone())?;
        *slot = Some(inner.clone());
        Ok(inner)
    }

    /// Runtime shutdown: every registered resource fails from now on, and the driver's
    /// thread exits.
    pub(crate) fn shutdown(&self) {
        self.shut.store(true, Release);
        let inner = self.inner.lock().clone();
        if let Some(inner) = inner {
            inner.shutdown();
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
    waker: mio::Waker,
    slab: Mutex<Slab>,
    /// Holding this lock is the right to turn.
    poll: Mutex<PollState>,
    is_shutdown: AtomicBool,
}

struct PollState {
    poll: mio::Poll,
    events: mio::Events,
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

    fn remove(&mut self, token: mio::Token) {
        let index = token.0 & INDEX_MASK;
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        if entry.generation == token.0 >> GEN_SHIFT && entry.io.take().is_some() {
            // A stale event for the old token no longer matches the slot.
            entry.generation = (entry.generation + 1) & (usize::MAX >> GEN_SHIFT);
            self.free.push(index);
        }
    }
}

impl Inner {
    fn new() -> io::Result<Inner> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        Ok(Inner {
            registry,
            waker,
            slab: Mutex::new(Slab::default()),
            poll: Mutex::new(PollState {
                poll,
                events: mio::Events::with_capacity(EVENTS),
                batch: Vec::new(),
            }),
            is_shutdown: AtomicBool::new(false),
        })
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
        // A shutdown that ran between the check and the insert did not see this entry.
        if self.is_shutdown.load(Acquire) {
            io.shutdown();
        }
        Ok((io, token))
    }

    /// Takes `source` out of the poll set (before its fd is closed).
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) -> io::Result<()> {
        self.registry.deregister(source)
    }

    /// Forgets `token`: its slot may be reused, and stale events for it are ignored.
    pub(crate) fn release(&self, token: mio::Token) {
        self.slab.lock().remove(token);
    }

    /// Turns the driver if no one else is: waits up to `timeout` for events (`Some(0)`:
    /// does not block), records them and wakes their waiters. False if another thread
    /// holds the driver.
    pub(crate) fn try_turn(&self, timeout: Option<Duration>) -> bool {
        let Some(mut state) = self.poll.try_lock() else {
            return false;
        };
        self.turn(&mut state, timeout);
        true
    }

    fn turn(&self, state: &mut PollState, timeout: Option<Duration>) {
        let PollState {
            poll,
            events,
            batch,
        } = state;
        if let Err(e) = poll.poll(events, timeout) {
            // EINTR: a signal; anything else leaves the events empty, and the caller
            // turns again.
            if e.kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
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
        }
        for (io, ready) in batch.drain(..) {
            io.set_readiness(ready);
        }
    }

    /// Ends a thread's wait in `epoll_wait` early (writes mio's eventfd `Waker`).
    pub(crate) fn unpark(&self) {
        let _ = self.waker.wake();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Acquire)
    }

    fn shutdown(&self) {
        if self.is_shutdown.swap(true, AcqRel) {
            return;
        }
        self.unpark();
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

/// Hosts the driver on a thread of its own until the runtime shuts down: a stand-in
/// until the scheduler's park seam hosts it in a parked worker.
fn start_thread(inner: Arc<Inner>) -> io::Result<()> {
    crate::sync::thread::Builder::new()
        .name("heist-io".into())
        .spawn(move || {
            while !inner.is_shutdown() {
                inner.try_turn(None);
            }
        })
        .map(drop)
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("io::Driver")
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}
