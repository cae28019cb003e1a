//! The multi-threaded work-stealing scheduler: the state every worker shares, how tasks
//! are queued, and shutdown.
//!
//! - `Shared` (this file): the injector, one `Remote` per worker (what peers may touch:
//!   its stealer, its next-task slot, its parker), the idle accounting, the owned-tasks
//!   registry, the configuration and the shutdown flag.
//! - `worker.rs`: the run loop and the `Core` each worker thread owns.
//! - `idle.rs`: searching/sleeping accounting; `park.rs`: the parker.
//! - `time` (`src/time/`): the timer driver, fired by the workers as they park and every
//!   few tasks; `src/time/driver.rs` holds its glue with the parking protocol.

pub(crate) mod idle;
pub(crate) mod park;
pub(crate) mod worker;

// Models of the run queues: explored by loom under `--cfg heist_loom`, run on real
// threads otherwise.
#[cfg(test)]
mod loom_tests;

use crate::context;
use crate::queue::{self, Injector, NextSlot, Stealer};
use crate::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering::SeqCst};
use crate::sync::{Arc, Condvar, Mutex};
use crate::task::{self, list::OwnedTasks, Id, JoinHandle, Schedule};
use crossbeam_utils::CachePadded;
use idle::Idle;
use park::Parker;
use std::future::Future;
use std::time::{Duration, Instant};

/// A queued task of this scheduler.
pub(crate) type Notified = task::Notified<Arc<Shared>>;
/// A registered task of this scheduler.
pub(crate) type Task = task::Task<Arc<Shared>>;

/// Callback run on each worker thread as it starts or stops.
pub(crate) type Hook = std::sync::Arc<dyn Fn() + Send + Sync + 'static>;

/// Runs a thread hook (`Builder::on_thread_start` / `on_thread_stop`). A panic in it is
/// caught, after the panic hook reported it as usual, and the thread carries on: a bug
/// in a hook must not take a worker (or a pool thread the runtime counts on) with it,
/// which would leave its tasks unrun and shutdown waiting.
pub(crate) fn run_hook(hook: Option<&Hook>) {
    if let Some(hook) = hook {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook()));
    }
}

/// The scheduler's tunables (from `Builder`).
#[derive(Clone)]
pub(crate) struct Config {
    /// Check the injector first every this many tasks.
    pub(crate) global_queue_interval: u32,
    /// Polls in a row taken from the next-task slot before it must yield to the queue.
    /// 0 disables the slot.
    pub(crate) lifo_limit: u32,
    /// How long a sleeping worker waits, while some peer is awake, before looking at the
    /// peers' next-task slots again (a peer may be stuck in a long poll).
    /// `None`: sleepers wait for new work only (the rescue is off).
    pub(crate) stalled_slot_check: Option<Duration>,
    pub(crate) on_thread_start: Option<Hook>,
    pub(crate) on_thread_stop: Option<Hook>,
    /// The blocking pool's settings (`src/blocking/`), taken by `Shared::new`.
    pub(crate) blocking: crate::blocking::PoolConfig,
    /// Slow polls, debug mode, histograms (`src/debug/`).
    pub(crate) observe: crate::debug::Observe,
}

/// The part of a worker its peers may touch.
pub(crate) struct Remote {
    pub(crate) stealer: Stealer,
    pub(crate) next: NextSlot,
    /// The owner's tick (tasks run so far), published so a thief can tell a stuck owner.
    pub(crate) tick: AtomicU32,
    pub(crate) parker: Parker,
}

/// State shared by all workers and handles of one runtime.
pub(crate) struct Shared {
    pub(crate) injector: Injector,
    pub(crate) remotes: Box<[CachePadded<Remote>]>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks<Arc<Shared>>,
    pub(crate) config: Config,
    /// The timers (`src/time/`): fired by the workers, no thread of their own.
    pub(crate) time: crate::time::Driver,
    /// The blocking pool (`src/blocking/`), for `spawn_blocking`.
    pub(crate) blocking: crate::blocking::Pool,
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

impl Shared {
    pub(crate) fn new(stealers: Vec<Stealer>, config: Config) -> Shared {
        let n = stealers.len();
        let remotes = stealers
            .into_iter()
            .map(|stealer| {
                CachePadded::new(Remote {
                    stealer,
                    next: NextSlot::new(),
                    tick: AtomicU32::new(0),
                    parker: Parker::new(),
                })
            })
            .collect();
        let blocking = crate::blocking::Pool::new(config.blocking.clone());
        let stats = crate::metrics::RuntimeStats::new(n, config.observe.histograms());
        let debug = crate::debug::DebugState::new(n, &config.observe);
        Shared {
            injector: Injector::new(),
            remotes,
            idle: Idle::new(n),
            owned: OwnedTasks::new(n * 4),
            config,
            time: crate::time::Driver::new(),
            blocking,
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

    /// Spawns a task. After shutdown the task is cancelled at once: its handle resolves to
    /// a cancelled `JoinError`.
    ///
    /// An associated function rather than a `self: &Arc<Self>` method: under
    /// `--cfg heist_loom` the `Arc` is loom's, which cannot be a method receiver.
    pub(crate) fn spawn<F>(this: &Arc<Self>, future: F, meta: task::Meta) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let meta = if this.config.observe.stamps_tasks() {
            meta.timed()
        } else {
            meta
        };
        let (notified, join) = task::new_task(future, this.clone(), Id::next(), meta);
        if this.is_shutdown() {
            notified.shutdown();
        } else {
            this.schedule_task(notified, false, true);
        }
        join
    }

    /// Queues a task: on this runtime's worker thread, into its next-task slot (or, for
    /// a yield, the back of its queue); anywhere else, into the injector. `is_spawn`
    /// counts it as spawned (`RuntimeMetrics::spawned_tasks_count`).
    #[inline]
    fn schedule_task(&self, task: Notified, is_yield: bool, is_spawn: bool) {
        crate::debug::queued(self, &task);
        context::with_worker(|worker| match worker {
            Some(worker) if std::ptr::eq(&*worker.shared, self) => {
                worker.schedule_local(task, is_yield, is_spawn)
            }
            _ => {
                if is_spawn {
                    self.stats.spawned_remotely();
                }
                self.schedule_remote(task)
            }
        })
    }

    /// Queues a task from off the workers (or from a worker that is busy draining).
    pub(crate) fn schedule_remote(&self, task: Notified) {
        self.injector.push(task);
        // Pairs with the fences in `begin_shutdown` and `Idle::about_to_park`: either
        // they see the push, or we see their flag / their announcement.
        fence(SeqCst);
        if self.is_shutdown() {
            queue::drain_injector(&self.injector);
            return;
        }
        self.notify_parked();
    }

    /// Wakes a sleeping worker for new work, if nobody is searching. The caller has
    /// issued a `SeqCst` fence after making the work visible.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].parker.unpark();
        }
    }

    /// True if any queue a searcher looks at holds a task.
    pub(crate) fn has_queued_work(&self) -> bool {
        !self.injector.is_empty() || self.remotes.iter().any(|r| !r.stealer.is_empty())
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
        for remote in self.remotes.iter() {
            remote.parker.unpark();
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
        // The cancelled tasks' timers left the wheel as their futures dropped; close it,
        // waking any timer still registered outside a task (its poll then panics).
        self.time.shutdown();
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified) {
        self.schedule_task(task, false, false);
    }

    fn yield_now(&self, task: Notified) {
        self.schedule_task(task, true, false);
    }

    fn register(&self, task: Task) -> Result<(), Task> {
        self.owned.bind(task)
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }
}
