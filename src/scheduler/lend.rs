//! Lending a worker to a *stand-in* thread while its own thread blocks
//! (`heist::task::block_in_place`, `runtime/block_in_place.rs`).
//!
//! A worker is its `Worker` value (its `Core`: deque, next-task slot, accounting) more
//! than its thread. To block in place, the worker's thread lends that value to a
//! stand-in, a blocking-pool thread that runs the worker's own run loop: the deque and
//! the next-task slot keep being served, peers keep stealing from it, and it parks in
//! the driver like any worker. When the blocking code returns, the thread *reclaims*
//! the worker and carries on as that worker, in the poll it was in.
//!
//! ```text
//! lender (worker thread, in a poll)          stand-in (pool thread)
//!   lend: in_poll? -> Lend { WAITING }
//!   spawn the stand-in; CURRENT := none        [lock] WAITING -> RUNNING, else return
//!   f()                                        CURRENT := worker; run loop until
//!   reclaim: [lock] WAITING -> CANCELLED,        `reclaim` is set (checked after every
//!     or set `reclaim`, unpark the worker,       task and at the top of the park loop)
//!     wait for RETURNED                        CURRENT := none; [lock] RETURNED, notify
//!   CURRENT := worker; go on with the poll
//! ```
//!
//! Only one thread uses the `Worker` at a time: the lender stops touching it before the
//! stand-in may start (the stand-in's `RUNNING` is taken under the lock after the
//! lender's last access), and touches it again only after the stand-in's `RETURNED`
//! (under the same lock, after its last access); a stand-in that never started finds
//! `CANCELLED`. The lock orders the two threads' accesses, so `Core` (a `RefCell`)
//! moves between threads without a data race.
//!
//! A worker is lent only between `found_work` and the next `next_task` (`Core::in_poll`):
//! inside a task's poll, whose accounting (awake, not searching) the stand-in's run
//! loop continues from; the stand-in leaves it the same way (`park.rs` leaves as a
//! searcher on `stop`, which the run loop then settles). Anywhere else (a waker run
//! while the worker parks) `block_in_place` just runs the closure.
//!
//! A stand-in that itself blocks in place lends the worker on, to a stand-in of its
//! own, and reclaims it before giving it back: a stack.
//!
//! The lender waits for the stand-in to finish the poll it is in. Unlike tokio, where
//! the blocked thread finishes its task without a worker and leaves the worker to the
//! stand-in, the thread that blocked is always a worker again afterwards (the workers
//! are the runtime's own, named threads, joined at shutdown); the price is that a
//! stand-in's task that blocks its thread until the lending task runs on would
//! deadlock (a task blocking its worker that way deadlocks a busy runtime anyway).

use super::worker::{CurrentGuard, Worker};
use crate::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::sync::{Condvar, Mutex};

/// The stand-in has not started.
const WAITING: u8 = 0;
/// The stand-in runs the worker.
const RUNNING: u8 = 1;
/// The stand-in gave the worker back.
const RETURNED: u8 = 2;
/// The lender took the worker back before the stand-in started.
const CANCELLED: u8 = 3;

/// One lending of a worker (module doc).
pub(crate) struct Lend {
    state: Mutex<u8>,
    returned: Condvar,
    /// The lender wants the worker back: the stand-in's run loop stops.
    reclaim: AtomicBool,
    /// The lent worker. Dereferenced only by the stand-in between `RUNNING` and
    /// `RETURNED`; the lender keeps it alive (it is on the lender's stack, below the
    /// blocked poll) until it has reclaimed it.
    worker: *const Worker,
}

// SAFETY: `worker` is the one field that is not `Send`/`Sync`; it is dereferenced only
// by the stand-in, while the lender guarantees it alive and does not touch it (module
// doc), and the `state` lock orders the two threads' accesses.
unsafe impl Send for Lend {}
// SAFETY: as above: every access to `*worker` is ordered by the `state` lock.
unsafe impl Sync for Lend {}

impl Worker {
    /// On this worker's own thread: lends the worker, if it is inside a poll (else
    /// `None`). The caller starts a stand-in with the `Lend` ([`stand_in`]), makes this
    /// thread run no worker, and calls [`Lend::reclaim`] before it touches the worker
    /// again (also when unwinding).
    pub(crate) fn lend(&self) -> Option<Lend> {
        let core = self.core_in_poll()?;
        drop(core);
        Some(Lend {
            state: Mutex::new(WAITING),
            returned: Condvar::new(),
            reclaim: AtomicBool::new(false),
            worker: self,
        })
    }
}

impl Lend {
    /// Makes this thread run no worker (spawns and wakes go to the injector, `block_on`
    /// is allowed) until the guard drops; for the lender, between lending and
    /// reclaiming.
    pub(crate) fn stand_aside() -> CurrentGuard {
        CurrentGuard::clear()
    }

    /// The lender takes the worker back: at once if the stand-in has not started,
    /// else asks it to stop, wakes it if it sleeps, and waits until it has.
    pub(crate) fn reclaim(&self) {
        let mut state = self.state.lock();
        if *state == WAITING {
            *state = CANCELLED;
            return;
        }
        self.reclaim.store(true, SeqCst);
        drop(state);
        // SAFETY: the lender keeps the worker alive; `shared` and `index` are never
        // written after the worker is made, so reading them beside the stand-in is no
        // race.
        let worker = unsafe { &*self.worker };
        worker.shared.unpark_worker(worker.index);
        let mut state = self.state.lock();
        while *state != RETURNED {
            self.returned.wait(&mut state);
        }
    }
}

/// The stand-in's work (on a blocking-pool thread with the runtime current): runs the
/// lent worker until the lender reclaims it (or the runtime shuts down), parking in
/// `driver`.
pub(crate) fn stand_in<D: super::park::Driver>(lend: &Lend, driver: &D) {
    {
        let mut state = lend.state.lock();
        if *state == CANCELLED {
            return;
        }
        *state = RUNNING;
    }
    // SAFETY: between RUNNING and RETURNED the lender neither touches nor frees the
    // worker (module doc), and the lock above orders its last access before ours.
    let worker = unsafe { &*lend.worker };
    {
        let _current = CurrentGuard::set(worker);
        worker.run_loop(driver, || lend.reclaim.load(SeqCst));
    }
    *lend.state.lock() = RETURNED;
    lend.returned.notify_all();
}
