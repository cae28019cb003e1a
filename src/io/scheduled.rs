//! `ScheduledIo`: one registered resource's readiness and the tasks waiting for it. No
//! system calls here, so that loom (`io::loom_tests`) and miri check all of it.
//!
//! # Readiness with a tick, per direction
//!
//! mio is edge-triggered: the kernel reports a socket readable once, when data arrives,
//! and not again until the reader has seen `WouldBlock`. So heist remembers readiness
//! itself, and losing an edge is a hang. The race every edge-triggered runtime must
//! close:
//!
//! ```text
//! task                                   driver
//!   sees READABLE (tick 7)
//!   read() -> WouldBlock                   data arrives: READABLE, tick 7 -> 8
//!   clear READABLE  <- a blind clear erases the new edge: the task waits forever
//! ```
//!
//! Each direction (read, write) has its own word: the readiness bits, a shutdown bit,
//! and a tick the driver bumps on every event that touches that direction. A caller
//! gets a [`ReadyEvent`] carrying the ticks it saw (full width, never truncated: a
//! 55-bit counter does not wrap in any realistic uptime), and `clear_readiness` clears a
//! direction only if its tick is still the one seen. So a clear can only erase readiness
//! that the caller's own `WouldBlock` proved stale. The directions are separate so an
//! event for one (a write edge) cannot make the other's clear fail and leave it
//! reporting ready while its syscall says `WouldBlock` (the livelock tokio#8054 saw with
//! one tick for both). The closed bits are final: never cleared.
//!
//! # Waiters, and why no wake-up is lost
//!
//! Waiters sit in a slab behind one mutex; two keys are reserved for the `poll_*`
//! methods' single reader and single writer (tokio's rule: one task per direction
//! through those), and `readable()`/`writable()`/`ready()` futures take a key each.
//! The driver updates the word, *then* locks and takes the wakers; a waiter locks,
//! stores its waker, and re-reads the word under the lock. Either the driver's lock
//! comes after the waiter's unlock (it finds the waker) or before the waiter's lock
//! (the mutex orders the word update before the re-read, which sees it). The loom model
//! `io::loom_tests` checks this and the tick rule (and fails on a blind clear).

use super::interest::{Interest, Ready};
use crate::sync::atomic::{AtomicU64, Ordering::*};
use crate::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// The driver shut down: every operation on the resource fails from now on.
const SHUTDOWN: u64 = 1 << 8;
/// The tick occupies the bits from here up.
const TICK_SHIFT: u32 = 9;
const TICK_ONE: u64 = 1 << TICK_SHIFT;

/// Reserved waiter keys: the `poll_read_ready` and `poll_write_ready` callers.
pub(crate) const READER: usize = 0;
pub(crate) const WRITER: usize = 1;
/// Wakers taken under the lock and woken after releasing it, per batch: on the stack,
/// and most resources have one or two waiters (a reader, a writer), so a small batch
/// (more lock round trips only for a resource with many `readable()` futures).
const BATCH: usize = 8;

/// The two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

impl Direction {
    /// The readiness bits that belong to this direction.
    fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED | Ready::ERROR,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED | Ready::ERROR,
        }
    }

    fn interest(self) -> Interest {
        match self {
            Direction::Read => Interest::READABLE,
            Direction::Write => Interest::WRITABLE,
        }
    }

    const BOTH: [Direction; 2] = [Direction::Read, Direction::Write];
}

/// What a caller saw: the readiness and each direction's tick at that moment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: Ready,
    ticks: [u64; 2],
    /// The driver shut down.
    pub(crate) is_shutdown: bool,
}

/// A registered resource's readiness and waiters.
pub(crate) struct ScheduledIo {
    /// Per direction: `tick << TICK_SHIFT | SHUTDOWN | ready bits` (the low byte).
    words: [AtomicU64; 2],
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    /// Per key: the directions it waits for, and its waker once it waits.
    slots: Vec<(Interest, Option<Waker>)>,
    free: Vec<usize>,
}

impl ScheduledIo {
    pub(crate) fn new() -> ScheduledIo {
        ScheduledIo {
            words: [AtomicU64::new(0), AtomicU64::new(0)],
            waiters: Mutex::new(Waiters {
                slots: vec![(Interest::READABLE, None), (Interest::WRITABLE, None)],
                free: Vec::new(),
            }),
        }
    }

    /// The readiness for `interest` right now.
    pub(crate) fn ready_now(&self, interest: Interest) -> ReadyEvent {
        let mut event = ReadyEvent {
            ready: Ready::EMPTY,
            ticks: [0; 2],
            is_shutdown: false,
        };
        for dir in Direction::BOTH {
            if dir_wanted(interest, dir) {
                let word = self.words[dir as usize].load(Acquire);
                event.ticks[dir as usize] = word >> TICK_SHIFT;
                event.ready |= Ready::from_bits(word as u8).intersection(dir.mask());
                event.is_shutdown |= word & SHUTDOWN != 0;
            }
        }
        event
    }

    /// Ready (or shut down) for `interest`, or registers `cx`'s waker under `key`.
    pub(crate) fn poll_ready(
        &self,
        interest: Interest,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<ReadyEvent> {
        let event = self.ready_now(interest);
        if !event.ready.is_empty() || event.is_shutdown {
            return Poll::Ready(event);
        }
        let mut waiters = self.waiters.lock();
        let slot = &mut waiters.slots[key].1;
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Re-read under the lock: see the module doc.
        let event = self.ready_now(interest);
        if !event.ready.is_empty() || event.is_shutdown {
            return Poll::Ready(event);
        }
        Poll::Pending
    }

    /// A fresh waiter key for a `ready()` future waiting for `interest`.
    pub(crate) fn add_waiter(&self, interest: Interest) -> usize {
        let mut waiters = self.waiters.lock();
        match waiters.free.pop() {
            Some(key) => {
                waiters.slots[key] = (interest, None);
                key
            }
            None => {
                waiters.slots.push((interest, None));
                waiters.slots.len() - 1
            }
        }
    }

    /// Gives a key from `add_waiter` back.
    pub(crate) fn remove_waiter(&self, key: usize) {
        let mut waiters = self.waiters.lock();
        waiters.slots[key].1 = None;
        waiters.free.push(key);
    }

    /// Clears the readiness `event` saw, in each direction whose tick has not moved since
    /// (a newer event is kept). Closed bits stay.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        for dir in Direction::BOTH {
            let clear = event
                .ready
                .intersection(dir.mask())
                .difference(Ready::CLOSED);
            if clear.is_empty() {
                continue;
            }
            let word = &self.words[dir as usize];
            let _ = word.fetch_update(AcqRel, Acquire, |current| {
                if current >> TICK_SHIFT != event.ticks[dir as usize] {
                    return None; // a newer edge arrived: keep it
                }
                Some(current & !u64::from(clear.bits()))
            });
        }
    }

    /// Driver side: records `ready` (bumping each touched direction's tick) and wakes
    /// the waiters of those directions. Returns how many it woke.
    pub(crate) fn set_readiness(&self, ready: Ready) -> usize {
        let mut woken: Option<Interest> = None;
        for dir in Direction::BOTH {
            let bits = ready.intersection(dir.mask());
            if bits.is_empty() {
                continue;
            }
            let _ = self.words[dir as usize].fetch_update(AcqRel, Acquire, |current| {
                Some(current.wrapping_add(TICK_ONE) | u64::from(bits.bits()))
            });
            woken = Some(woken.map_or(dir.interest(), |w| w.add(dir.interest())));
        }
        woken.map_or(0, |interest| self.wake(interest))
    }

    /// The driver shut down: every direction reports it, and every waiter wakes.
    pub(crate) fn shutdown(&self) {
        for word in &self.words {
            word.fetch_or(SHUTDOWN, AcqRel);
        }
        let _ = self.wake(Interest::READABLE | Interest::WRITABLE);
    }

    /// Wakes the waiters of `interest`, at most `BATCH` at a time with the lock released
    /// (a waker is user code: it must not run under our lock). Returns how many.
    ///
    /// The batch lives on the stack: this runs once per event of every driver turn, and
    /// a `Vec` here cost an allocation and a free per event (8% of the instructions
    /// heist's echo server spent per request, callgrind).
    fn wake(&self, interest: Interest) -> usize {
        let mut batch: [Option<Waker>; BATCH] = std::array::from_fn(|_| None);
        let mut next = 0;
        let mut woken = 0;
        loop {
            let mut len = 0;
            {
                let mut waiters = self.waiters.lock();
                while next < waiters.slots.len() && len < BATCH {
                    let (wants, waker) = &mut waiters.slots[next];
                    if wants.intersects(interest) {
                        if let Some(w) = waker.take() {
                            batch[len] = Some(w);
                            len += 1;
                        }
                    }
                    next += 1;
                }
                if len == 0 && next >= waiters.slots.len() {
                    return woken;
                }
            }
            woken += len;
            for waker in batch[..len].iter_mut().filter_map(Option::take) {
                // A waker is user code: a panic in it must not unwind through the
                // driver's turn (a worker's run loop).
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
            }
        }
    }
}

/// True if `interest` asks for `dir`.
fn dir_wanted(interest: Interest, dir: Direction) -> bool {
    match dir {
        Direction::Read => interest.is_readable(),
        Direction::Write => interest.is_writable(),
    }
}

impl std::fmt::Debug for ScheduledIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduledIo")
            .field("read", &self.words[0].load(Relaxed))
            .field("write", &self.words[1].load(Relaxed))
            .finish()
    }
}
