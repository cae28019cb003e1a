//! The multi-threaded work-stealing scheduler: the state every worker shares, how tasks
//! are queued, and shutdown.
//!
//! - `Shared` (this file): the injector, one `Remote` per worker (what peers may touch:
//!   its stealer, its next-task slot, its parker), the idle accounting, the owned-tasks
//!   registry, the configuration and the shutdown flag; queueing into the injector
//!   (`schedule_remote`) and waking a sleeper for it; shutdown.
//! - `schedule.rs`: how a task enters: `Shared::spawn`, and the `Schedule` impl that
//!   queues a spawned, woken or yielding task on the current worker or in the injector.
//! - `worker.rs`: the run loop, the `Core` each worker thread owns, and the thread-local
//!   naming the worker a thread runs.
//! - `queue.rs`: the run queues (the local deque, the next-task slot, the injector),
//!   generic over the task type; this file names them with its own (`LocalQueue`, ...).
//! - `idle.rs`: searching/sleeping accounting.
//! - `park.rs`: how a worker sleeps, and the interface of the driver (timers, I/O) it
//!   may wait in. The scheduler knows no driver by name: the runtime
//!   (`src/runtime/driver.rs`) plugs its driver stack in.

pub(crate) mod driver;
pub(crate) mod idle;
pub(crate) mod lend;
pub(crate) mod park;
pub(crate) mod queue;
mod schedule;
pub(crate) mod shared_ref;
pub(crate) mod worker;

// Models of the run queues: explored by loom under `--cfg heist_loom`, run on real
// threads otherwise.
#[cfg(test)]
mod loom_tests;

use crate::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering::SeqCst};
use crate::sync::stat::Ordering::{Relaxed, Release};
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::{self, list::OwnedTasks, Id, JoinHandle};
use crossbeam_utils::CachePadded;
use driver::{Parker, Unpark};
use idle::Idle;
use shared_ref::SharedRef;
use std::future::Future;
use std::time::{Duration, Instant};

/// A queued task of this scheduler.
pub(crate) type Notified = task::Notified<SharedRef<Shared>>;
/// A registered task of this scheduler.
pub(crate) type Task = task::Task<SharedRef<Shared>>;

/// The owner's end of a worker's deque (`queue.rs`).
pub(crate) type LocalQueue = queue::RawWorker<Notified>;
/// A thief's end of a worker's deque.
pub(crate) type Stealer = queue::RawStealer<Notified>;
/// The global queue.
pub(crate) type Injector = queue::RawInjector<Notified>;
/// A worker's next-task slot.
pub(crate) type NextSlot = queue::NextSlot<SharedRef<Shared>>;

/// The scheduler's tunables (from `Builder`).
#[derive(Clone)]
pub(crate) struct Config {
    /// Check the injector first every this many tasks.
    pub(crate) global_queue_interval: u32,
    /// Polls in a row taken from the next-task slot before it must yield to the queue.
    /// 0 disables the slot.
    pub(crate) lifo_slot_limit: u32,
    /// How long a sleeping worker waits, while some peer is awake, before looking at the
    /// peers' next-task slots again (a peer may be stuck in a long poll).
    /// `None`: sleepers wait for new work only (the rescue is off).
    pub(crate) stalled_slot_check: Option<Duration>,
    /// How long a searcher that found nothing keeps looking at the queues before it
    /// parks (rule 4a of `docs/sleep-protocol.md`). Zero: it parks at once.
    pub(crate) spin_before_park: Duration,
    /// Slow polls, debug mode, histograms (`src/debug/`).
    pub(crate) observe: crate::debug::Observe,
}

/// The part of a worker its peers may touch.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer,
    pub(crate) next_slot: NextSlot,
    /// The owner's tick (tasks run so far), published so a thief can tell a stuck owner.
    pub(crate) tick: AtomicU32,
    /// Odd while the owner moves tasks from elsewhere into its own deque (a batch from
    /// the injector or a peer, its next-task slot spilled or displaced): tasks taken out
    /// of one queue and not yet pushed into the other, which the task dump must not
    /// miss (`Worker::moving`, `debug/dump.rs`). Only the owner writes it. A statistics
    /// atomic (std's on both sides of the facade), though the dump relies on its
    /// `Release` / `Acquire`: a loom atomic here put three more switch points into every
    /// batch move and search of every runtime model (about +50% interleavings); loom
    /// still sees the moves it brackets (the queue operations are loom's), and
    /// `debug/dump.rs` argues the orderings (docs/testing.md, "What loom cannot see").
    pub(crate) moving: crate::sync::stat::AtomicU32,
    pub(crate) parker: Parker,
}

impl Remote {
    /// Runs `f`, the owner's move of tasks from another queue (or from its next-task
    /// slot) into its own deque, announced to the task dump: `moving` is odd from before
    /// the take until the pushes are done. The odd store is ordered before the take, a
    /// release operation on the source queue (the injector's lock, the deque's `front`
    /// read-modify-write, the slot's swap), so a dump that drains the source after the
    /// take reads it, and drains this deque again once the move is over
    /// (`debug/dump.rs`). Only batch moves pay this (each already takes a lock or makes a
    /// read-modify-write); the one task a worker takes to run is covered by its poll
    /// seqlock's take window (`WorkerStats::begin_take`). Owner only.
    #[inline]
    pub(crate) fn moving<R>(&self, f: impl FnOnce() -> R) -> R {
        let n = self.moving.load(Relaxed);
        self.moving.store(n.wrapping_add(1), Relaxed);
        let r = f();
        self.moving.store(n.wrapping_add(2), Release);
        r
    }
}

/// State shared by all workers and handles of one runtime.
pub(crate) struct Shared {
    pub(crate) injector: Injector,
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks<SharedRef<Shared>>,
    pub(crate) config: Config,
    /// Wakes a worker that waits in the driver (`park.rs`).
    unpark: Box<dyn Unpark>,
    /// Counters and histograms (`src/metrics/`).
    pub(crate) stats: crate::metrics::RuntimeStats,
    /// Slow-poll watchdog and name slots (`src/debug/`).
    pub(crate) debug: crate::debug::DebugState,
    shutdown: AtomicBool,
    /// How far the worker threads got in leaving: what shutdown waits for.
    live_workers: Mutex<LiveWorkers>,
    workers_done: Condvar,
}

/// Worker threads counted by how far they got in leaving. Two counts, as in the
/// blocking pool: shutdown cancels the tasks once every worker is out of its run loop,
/// and joins the threads only once every one is past its stop hook, so that a slow hook
/// cannot hold `shutdown_timeout` past its deadline.
struct LiveWorkers {
    /// Not yet out of the run loop (and the drain after it).
    in_loop: usize,
    /// Not yet past the stop hook.
    live: usize,
}

impl crate::debug::Observed for Shared {
    #[inline]
    fn observe(&self) -> &crate::debug::Observe {
        &self.config.observe
    }

    #[inline]
    fn debug(&self) -> &crate::debug::DebugState {
        &self.debug
    }

    #[inline]
    fn stats(&self) -> &crate::metrics::RuntimeStats {
        &self.stats
    }
}

impl Shared {
    /// `unpark` wakes a worker waiting in the runtime's driver (`park.rs`).
    pub(crate) fn new(stealers: Vec<Stealer>, config: Config, unpark: Box<dyn Unpark>) -> Shared {
        let n = stealers.len();
        let remotes = stealers
            .into_iter()
            .map(|stealer| {
                CachePadded::new(Remote {
                    stealer,
                    next_slot: NextSlot::new(),
                    tick: AtomicU32::new(0),
                    moving: crate::sync::stat::AtomicU32::new(0),
                    parker: Parker::new(),
                })
            })
            .collect();
        let stats = crate::metrics::RuntimeStats::new(n, config.observe.histograms());
        let debug = crate::debug::DebugState::new(n, &config.observe);
        Shared {
            injector: Injector::new(),
            remotes,
            idle: Idle::new(n),
            owned: OwnedTasks::new(n * 4),
            config,
            unpark,
            stats,
            debug,
            shutdown: AtomicBool::new(false),
            live_workers: Mutex::new(LiveWorkers {
                in_loop: n,
                live: n,
            }),
            workers_done: Condvar::new(),
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.remotes.len()
    }

    /// Allocates the task, holding `scheduler` (a count of `this`), and hands it to
    /// `queue`, or cancels it after shutdown.
    #[inline]
    pub(super) fn spawn_with<F>(
        this: &Arc<Self>,
        future: F,
        meta: task::Meta,
        scheduler: SharedRef<Shared>,
        queue: impl FnOnce(&Shared, Notified),
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = if this.config.observe.stamps_tasks() {
            meta.timed()
        } else {
            meta
        };
        let (notified, join) = task::new_task(future, scheduler, Id::next(), meta);
        if this.is_shutdown() {
            notified.shutdown();
        } else {
            queue(this, notified);
        }
        join
    }

    /// Queues a task from off the workers (or from a worker that is busy draining).
    pub(crate) fn schedule_remote(&self, task: Notified) {
        self.schedule_remote_with(task, false);
    }

    /// `schedule_remote` for a task's first queueing, its spawn: the injector counts it
    /// (`RuntimeMetrics::spawned_tasks_count`) under the lock the push holds anyway.
    pub(crate) fn schedule_remote_spawn(&self, task: Notified) {
        self.schedule_remote_with(task, true);
    }

    #[inline]
    fn schedule_remote_with(&self, task: Notified, is_spawn: bool) {
        if is_spawn {
            self.injector.push_counted(task);
        } else {
            self.injector.push(task);
        }
        // Pairs with the fences in `begin_shutdown` and `Idle::about_to_park`: either
        // they see the push, or we see their flag / their announcement.
        fence(SeqCst);
        if self.is_shutdown() {
            queue::drain_injector(&self.injector);
            return;
        }
        self.notify_parked();
    }

    /// Wakes worker `index` whatever it waits for (a stand-in asked to give a lent
    /// worker back, `lend.rs`).
    pub(crate) fn unpark_worker(&self, index: usize) {
        self.unpark(index);
    }

    /// Wakes worker `index`.
    fn unpark(&self, index: usize) {
        self.remotes[index].parker.unpark(&*self.unpark);
    }

    /// Wakes a sleeping worker for new work, if nobody is searching. The caller has
    /// issued a `SeqCst` fence after making the work visible.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.unpark(index);
        }
    }

    /// The driver needs a waiter and nobody waits in it (`park.rs`, the hand-off): wakes
    /// a sleeper other than `except`, the longest asleep (least likely to be woken for
    /// work next), without taking it off the sleepers list. It finds no work and parks
    /// again, taking the free seat.
    pub(crate) fn summon(&self, except: Option<usize>) {
        if let Some(sleeper) = self.idle.some_sleeper(except) {
            self.unpark(sleeper);
        }
    }

    /// Rule 3 of `docs/sleep-protocol.md` (the chain wake-up): a searching worker found
    /// work. If it was the last searcher, wake another worker when a queue still holds
    /// work (the rest of a batch, a peer's other half, a push that saw it searching and
    /// woke nobody), or when it is the only worker awake and the stalled-slot check is
    /// on (the woken peer parks again *with* the check's timeout and so watches this
    /// worker's next-task slot). Otherwise it wakes nobody: a peer is awake to watch the
    /// slot, and the woken worker would find nothing and park again.
    pub(crate) fn searcher_found_work(&self) {
        // `work_found` ends with a SeqCst fence when it returns true: a push that this
        // re-check misses saw no searcher and woke a worker itself.
        if !self.idle.work_found() {
            return;
        }
        let alone = self.config.stalled_slot_check.is_some()
            && self.idle.unparked() == 1
            && self.idle.watchers() == 0;
        if alone || self.has_queued_work() {
            self.notify_parked();
        }
    }

    /// Tasks queued in the injector and the workers' deques (next-task slots not
    /// counted): a snapshot, for the spin before parking.
    #[cfg(not(heist_loom))]
    pub(crate) fn queued_len(&self) -> usize {
        self.injector.len() + self.remotes.iter().map(|r| r.stealer.len()).sum::<usize>()
    }

    /// True if any queue a searcher looks at holds a task.
    pub(crate) fn has_queued_work(&self) -> bool {
        !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty())
    }

    /// Paused time, after `Idle::claim_idle` and the driver's `settle`: no task is
    /// queued or in a next-task slot, and no other worker counts as unparked. A worker
    /// that dispatched an event while still on the sleepers list put its task in its
    /// slot before it woke itself and took it out: the fence makes a slot read that
    /// sees the take also see the wake (the unparked count) that came before it.
    pub(crate) fn still_idle_after_claim(&self) -> bool {
        if self.has_queued_work() || self.remotes.iter().any(|r| !r.next_slot.is_empty()) {
            return false;
        }
        fence(SeqCst);
        self.idle.unparked() <= 1
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(SeqCst)
    }

    /// Stops the workers taking new tasks. Returns false if shutdown had already begun.
    pub(crate) fn begin_shutdown(&self) -> bool {
        if self.shutdown.swap(true, SeqCst) {
            return false;
        }
        self.debug.watchdog.stop();
        fence(SeqCst);
        for index in 0..self.remotes.len() {
            self.unpark(index);
        }
        true
    }

    /// Called by each worker as it leaves its run loop (after draining its queue).
    pub(crate) fn worker_exited(&self) {
        let mut workers = self.live_workers.lock();
        workers.in_loop -= 1;
        self.workers_done.notify_all();
    }

    /// Called by each worker thread once past its stop hook (also if it unwinds).
    pub(crate) fn worker_stopped(&self) {
        let mut workers = self.live_workers.lock();
        workers.live -= 1;
        self.workers_done.notify_all();
    }

    /// Waits until every worker left its run loop or `deadline` passes. True if all did.
    pub(crate) fn wait_for_workers(&self, deadline: Option<Instant>) -> bool {
        self.wait_until(deadline, |w| w.in_loop == 0)
    }

    /// Waits until every worker thread is past its stop hook (so joining it waits only
    /// for the thread's exit) or `deadline` passes. True if all are.
    pub(crate) fn wait_for_stopped_workers(&self, deadline: Option<Instant>) -> bool {
        self.wait_until(deadline, |w| w.live == 0)
    }

    fn wait_until(&self, deadline: Option<Instant>, done: impl Fn(&LiveWorkers) -> bool) -> bool {
        let mut workers = self.live_workers.lock();
        while !done(&workers) {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(t) if !t.is_zero() => Some(t),
                    _ => return false,
                },
            };
            crate::sync::wait_timeout(&self.workers_done, &mut workers, timeout);
        }
        true
    }

    /// Cancels every task still registered and empties the injector. Futures of waiting
    /// and queued tasks are dropped on this thread; a task still being polled by a
    /// worker is dropped by that worker right after its poll.
    pub(crate) fn finish_shutdown(&self) {
        self.owned.close_and_shutdown_all();
        queue::drain_injector(&self.injector);
    }
}
