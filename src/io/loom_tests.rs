//! Models of the readiness protocol (`scheduled.rs`): the driver records an edge while a
//! task reads, clears and waits. Explored by loom under `--cfg heist_loom`
//! (`scripts/loom.sh io`), run on real threads otherwise (and so checked by miri).
//!
//! A lost edge shows as a deadlock: the task parks in `block_on` and nothing wakes it.

use super::interest::{Interest, Ready};
use super::scheduled::{ScheduledIo, READER};
use super::seat::Seat;
use crate::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::sync::{block_on, model, thread, Arc};
use std::future::poll_fn;

/// Runs per model on real threads (loom ignores it); few under miri.
const ITERATIONS: usize = if cfg!(miri) { 3 } else { 200 };

/// Reads until the "socket" has data: wait for readability, try the "syscall" (read the
/// flag: the driver sets it once, before recording the edge), and on `WouldBlock` clear
/// the readiness seen, as the I/O loop does.
///
/// A load, not a `swap(false)`: loom lets a read-modify-write read a value older than a
/// store that happens-before it here (it found a "deadlock" with `swap` where the
/// acquire of the new tick must make the data visible), so the model keeps to loads.
async fn read_until_data(io: &ScheduledIo, data: &AtomicBool) {
    loop {
        let event = poll_fn(|cx| io.poll_ready(Interest::READABLE, READER, cx)).await;
        if data.load(SeqCst) {
            return;
        }
        io.clear_readiness(event);
    }
}

/// The driver records one edge (data, then readiness) while the task reads; with
/// `stale_edge`, the task first sees an old READABLE with nothing behind it.
fn edge_arrives_while_reading(stale_edge: bool) {
    let io = Arc::new(ScheduledIo::new());
    let data = Arc::new(AtomicBool::new(false));
    if stale_edge {
        io.set_readiness(Ready::READABLE);
    }
    let driver = {
        let (io, data) = (io.clone(), data.clone());
        thread::spawn(move || {
            data.store(true, SeqCst);
            io.set_readiness(Ready::READABLE);
        })
    };
    block_on(read_until_data(&io, &data));
    driver.join().unwrap();
}

/// The race of the module doc of `scheduled.rs`: the task saw an old READABLE (no data
/// behind it), and the driver records a new edge while the task's read says
/// `WouldBlock`. A clear that ignores the tick erases the new edge and the task waits
/// forever (the planted bug in `docs/testing.md`).
#[test]
fn edge_during_wouldblock_is_not_lost() {
    model(ITERATIONS, || edge_arrives_while_reading(true));
}

/// The waiter registers while the driver records the edge: either the waiter's re-check
/// under the lock sees the readiness or the driver finds the waker.
#[test]
fn waiter_registers_while_edge_arrives() {
    model(ITERATIONS, || edge_arrives_while_reading(false));
}

/// A write edge does not disturb a reader's clear (per-direction ticks), and a shutdown
/// wakes a waiting reader with the shutdown flag.
#[test]
fn write_edge_and_shutdown_wake_the_right_waiters() {
    model(ITERATIONS, || {
        let io = Arc::new(ScheduledIo::new());
        let other = {
            let io = io.clone();
            thread::spawn(move || {
                io.set_readiness(Ready::WRITABLE);
                io.shutdown();
            })
        };
        let event = block_on(poll_fn(|cx| io.poll_ready(Interest::READABLE, READER, cx)));
        assert!(
            event.is_shutdown,
            "only the shutdown may wake a reader here"
        );
        assert!(event.ready.is_empty());
        other.join().unwrap();
    });
}

/// Closed bits are final: a clear never takes READ_CLOSED away.
#[test]
fn closed_is_never_cleared() {
    model(1, || {
        let io = ScheduledIo::new();
        io.set_readiness(Ready::READABLE | Ready::READ_CLOSED);
        let event = io.ready_now(Interest::READABLE);
        io.clear_readiness(event);
        let after = io.ready_now(Interest::READABLE).ready;
        assert!(after.is_read_closed() && after.is_readable());
        assert_eq!(after, Ready::READ_CLOSED);
    });
}

/// The hand-off (`seat.rs`): the last holder leaves the seat while a source registers.
/// Afterwards, if a source is registered, someone must have been told to summon a
/// waiter (or the seat is held). Without the fences, both sides can miss each other.
#[test]
fn source_registered_while_the_holder_leaves_gets_a_waiter() {
    model(ITERATIONS, || {
        let seat = Arc::new(Seat::new());
        assert!(seat.try_enter());
        let leaver = {
            let seat = seat.clone();
            thread::spawn(move || {
                seat.leave();
                seat.needs_waiter()
            })
        };
        let registrar_summons = seat.registered();
        let leaver_summons = leaver.join().unwrap();
        assert!(
            registrar_summons || leaver_summons,
            "a source is registered, the seat is empty, and nobody summons a waiter"
        );
    });
}

/// Paused time with I/O (`io::Driver::settle`, `Shared::still_idle_after_claim`,
/// `docs/sleep-protocol.md` rule 6): worker A, still on the sleepers list, dispatches
/// the event its `epoll_wait` left (collect under the poll lock, count the batch, wake:
/// the task goes to A's next-task slot, uncount, wake itself, take the task), while B,
/// the last worker, claims the idle runtime and settles (take the poll lock, read the
/// count, poll: here, take what is left; then look at the slot, fence, and count the
/// unparked). The answer's event is there from the start, so B must never advance the
/// clock. A model of the protocol's steps, in the same orderings as the code (the code
/// itself needs mio and a whole scheduler); `with_count == false` is the planted bug,
/// the `dispatching` check left out.
fn settle_races_with_a_dispatching_sleeper(with_count: bool) {
    use crate::sync::atomic::{fence, AtomicUsize, Ordering::*};
    use crate::sync::Mutex;

    struct Rt {
        /// The poll lock, and whether an event is still in it (undispatched).
        poll: Mutex<bool>,
        dispatching: AtomicUsize,
        /// A's next-task slot.
        slot: AtomicBool,
        /// The sleepers' lock: is A still listed; `unparked` changes only under it.
        sleepers: Mutex<bool>,
        unparked: AtomicUsize,
    }
    let rt = Arc::new(Rt {
        poll: Mutex::new(true),
        dispatching: AtomicUsize::new(0),
        slot: AtomicBool::new(false),
        sleepers: Mutex::new(true),
        unparked: AtomicUsize::new(0),
    });
    let a = {
        let rt = rt.clone();
        thread::spawn(move || {
            let mut poll = rt.poll.lock();
            let had = std::mem::take(&mut *poll);
            if had {
                rt.dispatching.fetch_add(1, Relaxed);
            }
            drop(poll);
            if had {
                rt.slot.store(true, Release); // the wake: the task into A's slot
                rt.dispatching.fetch_sub(1, Release);
                let mut listed = rt.sleepers.lock();
                if std::mem::take(&mut *listed) {
                    rt.unparked.fetch_add(1, SeqCst); // wake_self
                }
                drop(listed);
                rt.slot.swap(false, AcqRel); // A takes its task to run it
            }
        })
    };
    // B: claim_idle.
    let claimed = {
        let _listed = rt.sleepers.lock();
        if rt.unparked.load(SeqCst) == 0 {
            rt.unparked.fetch_add(1, SeqCst);
            true
        } else {
            false
        }
    };
    let mut advanced = false;
    if claimed {
        // settle
        let mut poll = rt.poll.lock();
        let elsewhere = with_count && rt.dispatching.load(Acquire) > 0;
        let mine = std::mem::take(&mut *poll);
        drop(poll);
        // still_idle_after_claim
        if !mine && !elsewhere && !rt.slot.load(Relaxed) {
            fence(SeqCst);
            advanced = rt.unparked.load(SeqCst) <= 1;
        }
    }
    a.join().unwrap();
    assert!(
        !advanced,
        "the clock advanced while the answer's event was being dispatched"
    );
}

#[test]
fn auto_advance_settles_a_batch_a_sleeper_is_dispatching() {
    model(ITERATIONS, || settle_races_with_a_dispatching_sleeper(true));
}

/// The planted bug: without the count of batches in flight, the claimant finds the
/// event gone and the slot not yet filled, and advances.
#[cfg(heist_loom)]
#[test]
#[should_panic(expected = "the clock advanced")]
fn auto_advance_without_the_dispatching_count_is_caught() {
    model(ITERATIONS, || {
        settle_races_with_a_dispatching_sleeper(false)
    });
}
